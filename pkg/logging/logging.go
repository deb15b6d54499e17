// Package logging builds the slog logger every newsflow service and command uses: JSON when its
// output is not a terminal (production, log shippers), text on a terminal (people), snake_case keys.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"go.opentelemetry.io/otel/trace"
)

// New returns a logger for service writing to w. format is "json", "text" or "auto" (text when w
// is a terminal); level is "debug", "info", "warn" or "error".
func New(w io.Writer, service, format, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	var h slog.Handler
	switch strings.ToLower(format) {
	case "json":
		h = slog.NewJSONHandler(w, opts)
	case "text":
		h = slog.NewTextHandler(w, opts)
	case "auto", "":
		if IsTerminal(w) {
			h = slog.NewTextHandler(w, opts)
		} else {
			h = slog.NewJSONHandler(w, opts)
		}
	default:
		return nil, fmt.Errorf("log format %q: want json, text or auto", format)
	}
	return slog.New(TraceHandler(h)).With("service", service), nil
}

// TraceHandler wraps h so that a record logged with a context that holds a span (the
// *Context methods: log.WarnContext(ctx, …)) carries its trace_id and span_id: an operator can go
// from a log line to the trace of the article or request it is about. Without a span it adds
// nothing and costs one context lookup.
func TraceHandler(h slog.Handler) slog.Handler { return traceHandler{h} }

type traceHandler struct{ slog.Handler }

func (t traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if ctx != nil {
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
			r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
		}
	}
	return t.Handler.Handle(ctx, r)
}

func (t traceHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return traceHandler{t.Handler.WithAttrs(as)}
}

func (t traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{t.Handler.WithGroup(name)}
}

// IsTerminal reports whether w is a character device such as an interactive terminal; progress
// lines and text logs are for people, JSON for machines.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
