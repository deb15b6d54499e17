// Package tracing sets up OpenTelemetry traces for a newsflow service from the standard OTEL_*
// environment variables, so that one article's path (ingest publish → Kafka → enrich process →
// Kafka → index bulk) can be followed in Jaeger or any OTLP receiver.
//
// Tracing is off unless an OTLP endpoint is set (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
// OTEL_EXPORTER_OTLP_ENDPOINT). Off means no exporter, no SDK and a nil Tracer: the stages check
// for nil before doing anything per record, so the path every record takes costs one comparison
// (see the AllocsPerRun tests of the stages).
//
// Trace context crosses Kafka as W3C trace context (the traceparent and tracestate headers of each
// record, kafkax.HeaderCarrier), as Redpanda Connect and Jaeger's ingester carry it.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"

	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/newsflow/newsflow/pkg/config"
	"github.com/newsflow/newsflow/pkg/kafkax"
)

// Propagator is the W3C trace-context propagator every stage uses, on HTTP requests and on Kafka
// record headers alike. It is a value, not the global one, so that a stage's behaviour does not
// depend on what else in the process set otel's globals.
var Propagator propagation.TextMapPropagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{})

// Header names of W3C trace context, as they appear on HTTP requests and Kafka records.
const (
	HeaderTraceparent = kafkax.HeaderTraceparent
	HeaderTracestate  = kafkax.HeaderTracestate
)

// Config is what the OTEL_* environment says about trace export. The exporters read the rest
// themselves (OTEL_EXPORTER_OTLP_HEADERS, _TIMEOUT, _INSECURE, _CERTIFICATE…), and the SDK reads
// OTEL_TRACES_SAMPLER(_ARG), OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES.
type Config struct {
	// Endpoint is the URL spans are sent to: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as it is, else
	// OTEL_EXPORTER_OTLP_ENDPOINT, a base URL to which HTTP adds /v1/traces (as the
	// specification says). Empty means tracing is off. An http:// URL means no TLS, for gRPC too.
	Endpoint string
	// Protocol is OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL:
	// "http/protobuf" (the default, as the specification has it) or "grpc".
	Protocol string
	// Disabled is OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none: off even with an endpoint.
	Disabled bool
	// Exporter is OTEL_TRACES_EXPORTER as given; Validate refuses what is not "otlp" or "none".
	Exporter string
}

// FromEnv reads Config with getenv (os.Getenv in services, a map in tests).
func FromEnv(getenv func(string) string) Config {
	first := func(keys ...string) string {
		for _, k := range keys {
			if v := strings.TrimSpace(getenv(k)); v != "" {
				return v
			}
		}
		return ""
	}
	c := Config{
		Endpoint: first("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
		Protocol: strings.ToLower(first("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")),
	}
	if c.Protocol == "" {
		c.Protocol = "http/protobuf"
	}
	if base := first("OTEL_EXPORTER_OTLP_ENDPOINT"); c.Endpoint == "" && base != "" {
		c.Endpoint = base
		if c.Protocol != "grpc" {
			c.Endpoint = strings.TrimRight(base, "/") + "/v1/traces"
		}
	}
	c.Exporter = strings.ToLower(first("OTEL_TRACES_EXPORTER"))
	c.Disabled = strings.EqualFold(first("OTEL_SDK_DISABLED"), "true") || c.Exporter == "none"
	return c
}

// Enabled reports whether c turns tracing on.
func (c Config) Enabled() bool { return c.Endpoint != "" && !c.Disabled }

// Validate checks what can be checked before any connection: the exporter, the protocol and
// the endpoint. A service refuses to start with tracing misconfigured rather than run without
// the traces its operator asked for, and says what is wrong.
func (c Config) Validate() error {
	switch c.Exporter {
	case "", "otlp", "none":
	default:
		return fmt.Errorf("OTEL_TRACES_EXPORTER %q: newsflow exports OTLP only (otlp, or none for off)", c.Exporter)
	}
	switch c.Protocol {
	case "http/protobuf", "grpc":
	case "http/json":
		return errors.New("OTEL_EXPORTER_OTLP_PROTOCOL http/json: the Go exporter has no JSON encoding; use http/protobuf or grpc")
	default:
		return fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL %q: want http/protobuf or grpc", c.Protocol)
	}
	if c.Endpoint == "" {
		return nil
	}
	// The exporter falls back to its default endpoint, silently, on a URL it cannot parse
	// ("jaeger:4318" reads as scheme "jaeger").
	u, err := url.Parse(c.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("OTLP endpoint %q: want a URL such as http://jaeger:4318 (http:// for no TLS)", config.RedactURL(c.Endpoint))
	}
	return nil
}

// Tracing is a service's trace pipeline. Its Tracer is nil when tracing is off.
type Tracing struct {
	// Tracer starts the service's spans; nil when tracing is off, which is how the stages tell.
	Tracer trace.Tracer
	tp     *sdktrace.TracerProvider
}

// Start sets up tracing for service from the environment (os.Getenv). When it is on, the
// provider and the W3C propagator also become otel's globals, for any library that reads them.
func Start(ctx context.Context, service string, log *slog.Logger) (*Tracing, error) {
	return StartWith(ctx, service, FromEnv(os.Getenv), log)
}

// StartWith is Start with the configuration given.
func StartWith(ctx context.Context, service string, c Config, log *slog.Logger) (*Tracing, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if !c.Enabled() {
		return &Tracing{}, nil
	}
	var (
		exp sdktrace.SpanExporter
		err error
	)
	// The endpoint is c's; the exporters read the rest (headers, certificates, timeout,
	// compression) from the OTEL_EXPORTER_OTLP_* variables themselves.
	switch c.Protocol {
	case "grpc":
		exp, err = otlptracegrpc.New(ctx, otlptracegrpc.WithEndpointURL(c.Endpoint))
	default:
		exp, err = otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(c.Endpoint))
	}
	if err != nil {
		return nil, fmt.Errorf("creating the OTLP %s trace exporter for %s: %w", c.Protocol, config.RedactURL(c.Endpoint), err)
	}
	// service.name defaults to the service; OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES,
	// read after it, win.
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", service)),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(),
	)
	if errors.Is(err, resource.ErrPartialResource) {
		// A malformed OTEL_RESOURCE_ATTRIBUTES entry: the rest of the resource is usable.
		log.Warn("some trace resource attributes were not read", "error", err)
	} else if err != nil {
		_ = exp.Shutdown(ctx)
		return nil, fmt.Errorf("building the trace resource of %s: %w", service, err)
	}
	// No WithSampler: the SDK's default reads OTEL_TRACES_SAMPLER (parentbased_always_on when
	// unset), so an ingest sampling 1% decides for the whole path of each article.
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp, batchOptions(os.Getenv)...), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(Propagator)
	// The exporter reports failed exports (a receiver that is away) here; spans are dropped,
	// never the articles they describe.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Warn("exporting traces failed", "error", config.RedactURL(err.Error()))
	}))
	log.Info("tracing on", "endpoint", config.RedactURL(c.Endpoint), "protocol", c.Protocol)
	return &Tracing{Tracer: tp.Tracer("github.com/newsflow/newsflow/" + service), tp: tp}, nil
}

// defaultQueueSize is the span queue when OTEL_BSP_MAX_QUEUE_SIZE is unset. The SDK's 2,048
// is less than one index batch's "index document" spans (2,000 records a request, 3 at once):
// a burst over the queue is dropped, and those are the traces of a busy moment.
const defaultQueueSize = 16384

// batchOptions are the span processor's settings that differ from the SDK's defaults, unless
// the environment sets them (an option given here would override the variable).
func batchOptions(getenv func(string) string) []sdktrace.BatchSpanProcessorOption {
	if getenv("OTEL_BSP_MAX_QUEUE_SIZE") != "" {
		return nil
	}
	return []sdktrace.BatchSpanProcessorOption{sdktrace.WithMaxQueueSize(defaultQueueSize)}
}

// Enabled reports whether spans are recorded and exported.
func (t *Tracing) Enabled() bool { return t != nil && t.Tracer != nil }

// Shutdown exports the spans still buffered and stops the exporter; ctx bounds how long that
// may take. It is a no-op when tracing is off.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil || t.tp == nil {
		return nil
	}
	if err := t.tp.Shutdown(ctx); err != nil {
		return fmt.Errorf("flushing traces: %w", err)
	}
	return nil
}

// Fail marks span as failed: err recorded on it, and an error status saying what failed.
func Fail(span trace.Span, err error, status string) {
	span.RecordError(err)
	span.SetStatus(codes.Error, status)
}

// Extract returns ctx with the remote span context carried by c (a traceparent header), if any.
func Extract(ctx context.Context, c propagation.TextMapCarrier) context.Context {
	return Propagator.Extract(ctx, c)
}

// Inject writes the span context of ctx into c, if ctx holds a valid one.
func Inject(ctx context.Context, c propagation.TextMapCarrier) {
	Propagator.Inject(ctx, c)
}

// RecordHeaders returns the trace-context headers (traceparent, and tracestate when there is one)
// of ctx's span as Kafka record headers, or nil when ctx holds no valid span context. A batch whose
// records all continue the same span computes them once and appends them to each record.
func RecordHeaders(ctx context.Context) []kafka.Header {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return nil
	}
	var hs []kafka.Header
	Propagator.Inject(ctx, kafkax.HeaderCarrier{Headers: &hs})
	// A client's tracestate may hold 32 members, some 16 kB, which every record of its request
	// would carry (kafka-go's batch limits do not count headers): one longer than W3C's 512
	// bytes is dropped, as W3C allows, and the trace goes on without it.
	out := hs[:0]
	for _, h := range hs {
		if h.Key != HeaderTracestate || len(h.Value) <= kafkax.MaxTracestateBytes {
			out = append(out, h)
		}
	}
	return out
}
