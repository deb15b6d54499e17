package kafkax

import "github.com/segmentio/kafka-go"

// HeaderCarrier lets an OpenTelemetry propagator read and write trace context (traceparent,
// tracestate) in a record's headers: it is a propagation.TextMapCarrier over *Headers. Set
// replaces the header of the same key, so a stage that continues a trace overwrites the context
// it received instead of sending two traceparents. Set writes into the slice: a caller whose
// headers share their array with another record (enrich copies its input's) copies them first.
type HeaderCarrier struct {
	Headers *[]kafka.Header
}

// Get returns the value of the first header named key, or "".
func (c HeaderCarrier) Get(key string) string {
	for _, h := range *c.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// Set sets the first header named key to value, or appends one.
func (c HeaderCarrier) Set(key, value string) {
	hs := *c.Headers
	for i := range hs {
		if hs[i].Key == key {
			hs[i].Value = []byte(value)
			return
		}
	}
	*c.Headers = append(hs, kafka.Header{Key: key, Value: []byte(value)})
}

// Keys lists the header keys, for propagators that iterate (Baggage does; TraceContext does not).
func (c HeaderCarrier) Keys() []string {
	keys := make([]string, 0, len(*c.Headers))
	for _, h := range *c.Headers {
		keys = append(keys, h.Key)
	}
	return keys
}
