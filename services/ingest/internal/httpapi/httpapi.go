// Package httpapi is ingest's public HTTP API: POST /v1/articles for newsrooms' CMSs and
// GET /openapi.yaml describing it. It decodes, normalises and publishes in that order and answers
// 202 only after Kafka acknowledged every accepted record, so a client that got 202 can forget
// the articles and a client that got anything else can simply send the same request again.
package httpapi

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/newsflow/newsflow/pkg/articleio"
	"github.com/newsflow/newsflow/pkg/tracing"
	"github.com/newsflow/newsflow/services/ingest/internal/decode"
	"github.com/newsflow/newsflow/services/ingest/internal/intake"
	"github.com/newsflow/newsflow/services/ingest/internal/normalize"
	"github.com/newsflow/newsflow/services/ingest/internal/publish"
)

// OpenAPI is the API description served at /openapi.yaml; tests check it names every endpoint.
//
//go:embed openapi.yaml
var OpenAPI []byte

// Publisher writes a batch of articles durably or not at all (see publish.Publisher).
type Publisher interface {
	Publish(ctx context.Context, recs []publish.Record) error
}

// Limits bound one request.
type Limits struct {
	MaxRequestBytes int64
	MaxItems        int
	Article         normalize.Limits
}

// Handler serves the API.
type Handler struct {
	Pub    Publisher
	Limits Limits
	// Auth, when set, holds the bearer tokens of which every POST must carry one (NewAuth);
	// nil takes anonymous requests, which app allows only on loopback or when told to.
	Auth *Auth
	// RetryAfter is what a 503 tells clients to wait.
	RetryAfter time.Duration
	Log        *slog.Logger
	// Metrics and Requests are where the handler counts (app's metrics.go builds ingest's);
	// nil counts into a set on a private registry that nothing exposes (privateMetrics), so
	// the handler's code needs no nil checks.
	Metrics  *intake.Metrics
	Requests *prometheus.CounterVec // labels: code
	Now      func() time.Time
	// Admission bounds requests in flight and the bytes they hold (429 beyond); nil: unbounded.
	Admission *Admission
	// WriteTimeout bounds writing an answer, from when it is ready: a client that never reads
	// its answer holds its request's bytes no longer than this. 0: no bound here.
	WriteTimeout time.Duration
	// Tracer records a server span per authorized request, continuing the client's traceparent
	// header when it sends one; the publish span and the records' trace context hang from it.
	// nil: tracing off.
	Tracer trace.Tracer
}

// NewRequestsMetric registers the per-status request counter on reg.
func NewRequestsMetric(reg prometheus.Registerer) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "newsflow_ingest_http_requests_total",
		Help: "POST /v1/articles requests, by status code."}, []string{"code"})
	reg.MustRegister(c)
	return c
}

// privateMetrics is the default of every Handler built without Metrics or Requests, registered
// on a registry of its own the first time one is needed.
var privateMetrics = sync.OnceValue(func() handlerMetrics {
	return handlerMetrics{intake: intake.PrivateMetrics(), requests: NewRequestsMetric(prometheus.NewRegistry())}
})

type handlerMetrics struct {
	intake   *intake.Metrics
	requests *prometheus.CounterVec
}

// intakeMetrics is Metrics, or the private default when it is nil.
func (h *Handler) intakeMetrics() *intake.Metrics {
	if h.Metrics == nil {
		return privateMetrics().intake
	}
	return h.Metrics
}

// requestsMetric is Requests, or the private default when it is nil.
func (h *Handler) requestsMetric() *prometheus.CounterVec {
	if h.Requests == nil {
		return privateMetrics().requests
	}
	return h.Requests
}

// Routes returns the API's mux: POST /v1/articles, GET /openapi.yaml and a one-line GET /.
func (h *Handler) Routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/articles", h.postArticles)
	mux.HandleFunc("GET /openapi.yaml", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(OpenAPI)
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "newsflow ingest: POST articles to /v1/articles; the API is described at /openapi.yaml\n")
	})
	return mux
}

// Response is the body of every answer to POST /v1/articles.
type Response struct {
	Accepted   int             `json:"accepted"`
	Duplicates int             `json:"duplicates"`
	Rejected   int             `json:"rejected"`
	Items      []intake.Result `json:"items,omitempty"`
	Error      string          `json:"error,omitempty"`
}

// mediaFormats maps the accepted media types to decoders.
var mediaFormats = map[string]articleio.Format{
	"application/json":     articleio.FormatJSON,
	"application/x-ndjson": articleio.FormatJSONLines,
	"application/ndjson":   articleio.FormatJSONLines,
	"application/jsonl":    articleio.FormatJSONLines,
	"application/x-jsonl":  articleio.FormatJSONLines,
	"text/plain":           articleio.FormatText,
}

// AcceptedTypes lists the media types POST /v1/articles takes, for 415 answers.
const AcceptedTypes = "application/json, application/x-ndjson, text/plain"

func (h *Handler) postArticles(w http.ResponseWriter, r *http.Request) {
	var code int
	if c, ok := h.Admission.enter(r.Context()); !ok {
		code = h.busy(w, shedInFlight)
	} else {
		if c != nil {
			w = answering{ResponseWriter: w, c: c}
		}
		code = h.post(w, r, c)
		c.done()
	}
	h.requestsMetric().WithLabelValues(strconv.Itoa(code)).Inc()
}

// busy answers 429 with Retry-After: ingest is at capacity (reason: shedInFlight or shedBuffer).
func (h *Handler) busy(w http.ResponseWriter, reason string) int {
	w.Header().Set("Retry-After", retryAfter(h.RetryAfter))
	return h.fail(w, http.StatusTooManyRequests, busyMessage(reason), nil)
}

func (h *Handler) post(w http.ResponseWriter, r *http.Request, c *charge) (code int) {
	if code, ok := h.authorize(w, r); !ok {
		return code
	}
	// Only an authorized request is traced: a client without a token cannot fill the trace
	// store, nor attach spans to a trace of its choosing.
	if h.Tracer != nil {
		ctx := tracing.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := h.Tracer.Start(ctx, "POST /v1/articles", trace.WithSpanKind(trace.SpanKindServer))
		r = r.WithContext(ctx)
		defer func() {
			span.SetAttributes(attribute.Int("http.response.status_code", code))
			if code >= 500 {
				span.SetStatus(codes.Error, http.StatusText(code))
			}
			span.End()
		}()
	}

	format, err := formatOf(r.Header.Get("Content-Type"))
	if err != nil {
		w.Header().Set("Accept-Post", AcceptedTypes)
		h.intakeMetrics().Reject(intake.ChannelHTTP, "unsupported_media_type", 1)
		return h.fail(w, http.StatusUnsupportedMediaType, err.Error(), nil)
	}

	if r.ContentLength > h.Limits.MaxRequestBytes {
		h.intakeMetrics().Reject(intake.ChannelHTTP, decode.CodeTooLarge, 1)
		return h.fail(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body of %d bytes exceeds the limit of %d", r.ContentLength, h.Limits.MaxRequestBytes), nil)
	}
	data, err := readBody(r.Context(), r.Body, r.ContentLength, h.Limits.MaxRequestBytes, c)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.Is(err, errBusy) {
			return h.busy(w, shedBuffer)
		}
		if errors.As(err, &mbe) {
			h.intakeMetrics().Reject(intake.ChannelHTTP, decode.CodeTooLarge, 1)
			return h.fail(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body exceeds the limit of %d bytes", h.Limits.MaxRequestBytes), nil)
		}
		return h.fail(w, http.StatusBadRequest, "reading request body: "+err.Error(), nil)
	}
	h.intakeMetrics().Bytes.WithLabelValues(intake.ChannelHTTP).Add(float64(len(data)))

	// What decoding, normalising and encoding will hold comes out of the budget before they
	// start (see charge): per byte, and per item, which tiny items make the larger part.
	if err := c.grow(r.Context(), (DecodeFactor-1)*int64(len(data))+ItemBytes*int64(maxItems(format, data, h.Limits.MaxItems))); err != nil {
		return h.busy(w, shedBuffer)
	}

	q := r.URL.Query()
	meta := decode.TextMeta{Source: q.Get("source"), URL: q.Get("url"), PublishedAt: q.Get("published_at"),
		Language: q.Get("language"), Authors: q["author"]}
	items, err := decode.Decode(format, data, meta, h.Limits.MaxItems)
	putBody(data) // the items hold copies of what they took from it
	if err != nil {
		var me *decode.MalformedError
		switch {
		case errors.Is(err, decode.ErrTooManyItems):
			h.intakeMetrics().Reject(intake.ChannelHTTP, "too_many_items", 1)
			return h.fail(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("more than %d items in one request; split the batch", h.Limits.MaxItems), nil)
		case errors.As(err, &me):
			h.intakeMetrics().Reject(intake.ChannelHTTP, decode.CodeMalformed, 1)
			return h.fail(w, http.StatusBadRequest, me.Error(), nil)
		default:
			return h.fail(w, http.StatusBadRequest, err.Error(), nil)
		}
	}
	if len(items) == 0 {
		h.intakeMetrics().Reject(intake.ChannelHTTP, decode.CodeMissing, 1)
		return h.fail(w, http.StatusBadRequest, "no articles in the request body", nil)
	}

	b := intake.Prepare(items, h.now(), h.Limits.Article)
	h.intakeMetrics().Judged(intake.ChannelHTTP, &b)
	acc, dup, rej := b.Counts()
	resp := Response{Accepted: acc, Duplicates: dup, Rejected: rej, Items: b.Results}
	if acc == 0 {
		resp.Error = "no article in the request was valid"
		return h.write(w, http.StatusBadRequest, resp)
	}

	// One WriteMessages call for the whole request: 202 only when it returned nil.
	if err := h.Pub.Publish(r.Context(), b.Records); err != nil {
		if errors.Is(err, publish.ErrRecordTooLarge) {
			// intake measured every record against the same limit: this is a bug, not the
			// client's fault, and retrying will not help.
			h.Log.ErrorContext(r.Context(), "an accepted article's record is too large for Kafka", "error", err)
			return h.fail(w, http.StatusInternalServerError, "internal error: "+err.Error(), nil)
		}
		h.Log.WarnContext(r.Context(), "publishing failed; answering 503", "articles", len(b.Records), "error", err)
		w.Header().Set("Retry-After", retryAfter(h.RetryAfter))
		return h.fail(w, http.StatusServiceUnavailable, "Kafka is unavailable; nothing of this request was accepted, send it again later", nil)
	}
	h.intakeMetrics().Published(intake.ChannelHTTP, &b)
	return h.write(w, http.StatusAccepted, resp)
}

// formatOf maps a Content-Type header to a decoder; charsets other than UTF-8 are refused
// rather than guessed at.
func formatOf(ct string) (articleio.Format, error) {
	if ct == "" {
		return 0, fmt.Errorf("missing Content-Type: want one of %s", AcceptedTypes)
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return 0, fmt.Errorf("unreadable Content-Type %q: want one of %s", ct, AcceptedTypes)
	}
	f, ok := mediaFormats[mt]
	if !ok {
		return 0, fmt.Errorf("unsupported Content-Type %q: want one of %s", mt, AcceptedTypes)
	}
	if cs := strings.ToLower(params["charset"]); cs != "" && cs != "utf-8" && cs != "utf8" && cs != "us-ascii" {
		return 0, fmt.Errorf("unsupported charset %q: send UTF-8", cs)
	}
	return f, nil
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Handler) fail(w http.ResponseWriter, code int, msg string, items []intake.Result) int {
	return h.write(w, code, Response{Error: msg, Items: items})
}

func (h *Handler) write(w http.ResponseWriter, code int, resp Response) int {
	if h.WriteTimeout > 0 {
		// ErrNotSupported (a ResponseWriter that is not a connection's) leaves no deadline to set.
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(h.WriteTimeout))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(resp)
	return code
}
