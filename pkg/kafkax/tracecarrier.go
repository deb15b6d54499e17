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

// Get returns the value of the first header named key, or "" (also for a trace-context header
// longer than MaxTraceparentBytes or MaxTracestateBytes: not parsed, as if absent).
func (c HeaderCarrier) Get(key string) string {
	for _, h := range *c.Headers {
		if h.Key == key {
			if (key == HeaderTraceparent || key == HeaderTracestate) && !traceHeader(h) {
				return ""
			}
			return string(h.Value)
		}
	}
	return ""
}

// WithoutTraceContext returns a copy of hs without its trace-context headers, with room for
// the two a stage then injects: the record it writes continues its own span, and must not keep
// a stale or second traceparent, or a tracestate of another trace.
func WithoutTraceContext(hs []kafka.Header) []kafka.Header {
	out := make([]kafka.Header, 0, len(hs)+2)
	for _, h := range hs {
		if h.Key != HeaderTraceparent && h.Key != HeaderTracestate {
			out = append(out, h)
		}
	}
	return out
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
