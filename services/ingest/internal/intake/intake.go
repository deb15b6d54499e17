// Package intake is the step every channel (HTTP, feeds, files) shares between decoding and
// publishing: normalise each item, drop repeats of an id already in hand, and count what came in
// and what became of it. Keeping it in one place means one article gets the same verdict
// whichever door it came through.
package intake

import (
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/newsflow/newsflow/pkg/article"
	"github.com/newsflow/newsflow/pkg/metrics"
	"github.com/newsflow/newsflow/services/ingest/internal/decode"
	"github.com/newsflow/newsflow/services/ingest/internal/normalize"
	"github.com/newsflow/newsflow/services/ingest/internal/publish"
)

// Item statuses in results.
const (
	StatusAccepted  = "accepted"
	StatusRejected  = "rejected"
	StatusDuplicate = "duplicate"
)

// Channels label metrics by the door an item came through.
const (
	ChannelHTTP = "http"
	ChannelFeed = "feed"
	ChannelFile = "file"
)

// Result is the verdict on one item, as the HTTP API returns it and `ingest import` reports it.
type Result struct {
	Index  int    `json:"index"`
	Line   int    `json:"line,omitempty"`
	Status string `json:"status"`
	ID     string `json:"id,omitempty"`
	// SupersededBy is, for a duplicate, the index of the later item with the same id that is
	// written instead.
	SupersededBy int                `json:"superseded_by,omitempty"`
	Notes        []string           `json:"notes,omitempty"`
	Error        *decode.FieldError `json:"error,omitempty"`
}

// Batch is the records to publish and a result for every item of the input, in input order.
// Each record carries the value its size was judged by, so that it is encoded once.
type Batch struct {
	Records []publish.Record
	Results []Result
}

// Counts tallies results.
func (b *Batch) Counts() (accepted, duplicates, rejected int) {
	for _, r := range b.Results {
		switch r.Status {
		case StatusAccepted:
			accepted++
		case StatusDuplicate:
			duplicates++
		default:
			rejected++
		}
	}
	return
}

// Prepare normalises items. When several items carry the same article id, the last one is the
// one published (a CMS that sends a story and then its correction in one batch means the
// correction), and each earlier one is answered as a duplicate naming the item that superseded
// it, so every item gets a verdict and Accepted counts distinct articles. The index stage keeps
// the later copy within a bulk batch for the same reason.
func Prepare(items []decode.Item, now time.Time, lim normalize.Limits) Batch {
	norm := normalizeAll(items, now, lim)
	last := make(map[string]int, len(items)) // id -> position of its last valid copy
	for i := range items {
		if items[i].Err == nil && norm[i].err == nil {
			last[norm[i].rec.Article.ID] = i
		}
	}
	b := Batch{Results: make([]Result, 0, len(items))}
	for i, it := range items {
		r := Result{Index: it.Index, Line: it.Line}
		n := norm[i]
		switch {
		case it.Err != nil:
			r.Status, r.Error = StatusRejected, it.Err
		case n.err != nil:
			r.Status, r.Error = StatusRejected, n.err
		case last[n.rec.Article.ID] != i:
			later := items[last[n.rec.Article.ID]]
			r.Status, r.ID, r.SupersededBy = StatusDuplicate, n.rec.Article.ID, later.Index
			r.Notes = []string{fmt.Sprintf(NoteSuperseded, later.Index)}
		default:
			r.Status, r.ID, r.Notes = StatusAccepted, n.rec.Article.ID, n.notes
			b.Records = append(b.Records, n.rec)
		}
		b.Results = append(b.Results, r)
	}
	return b
}

// NoteSuperseded is the note of an item replaced by a later item with the same id.
const NoteSuperseded = "superseded by item %d, a later copy of the same article (same id): that one is written instead"

type normalized struct {
	rec   publish.Record
	notes []string
	err   *decode.FieldError
}

// normalizeAll normalises items on every core: language detection dominates ingest's CPU time
// (about 85% in BenchmarkIngestNDJSON), and the items of a batch are independent.
func normalizeAll(items []decode.Item, now time.Time, lim normalize.Limits) []normalized {
	out := make([]normalized, len(items))
	one := func(i int) {
		if items[i].Err == nil {
			var a article.Article
			a, out[i].notes, out[i].err = normalize.Article(items[i].Raw, now, lim)
			if out[i].err == nil {
				out[i].rec, out[i].err = record(a)
			}
		}
	}
	workers := min(runtime.GOMAXPROCS(0), (len(items)+31)/32)
	if workers <= 1 {
		for i := range items {
			one(i)
		}
		return out
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(items); i += workers {
				one(i)
			}
		})
	}
	wg.Wait()
	return out
}

// record encodes an article's record and rejects it when Kafka could not take it. The field
// limits (title, body, authors, url) do not settle it on their own: they add up, and JSON
// escaping of quotes, backslashes and control characters can make a record larger than its
// text. So the record is measured as it will be written, once per item, after normalisation, and
// those bytes are what the publisher writes.
func record(a article.Article) (publish.Record, *decode.FieldError) {
	rec, err := publish.NewRecord(a)
	if err != nil {
		return publish.Record{}, &decode.FieldError{Code: decode.CodeInvalid, Reason: err.Error()}
	}
	if n := len(rec.Value); n > publish.MaxRecordBytes {
		return publish.Record{}, &decode.FieldError{Code: decode.CodeTooLarge, Reason: fmt.Sprintf(
			"the article's Kafka record would be %d bytes (title, body, authors, url and the rest, JSON-encoded), over the limit of %d; shorten the body",
			n, publish.MaxRecordBytes)}
	}
	return rec, nil
}

// Metrics counts items by channel and outcome. Its methods need a non-nil *Metrics: a component
// given none uses PrivateMetrics.
type Metrics struct {
	Stage    *metrics.Stage
	Topic    string
	Items    *prometheus.CounterVec // channel
	Bytes    *prometheus.CounterVec // channel
	Accepted *prometheus.CounterVec // channel
	Dups     *prometheus.CounterVec // channel
	Rejected *prometheus.CounterVec // channel, reason
}

// NewMetrics registers the intake counters on reg. Reasons are decode's Code* constants, a
// small fixed set.
func NewMetrics(reg prometheus.Registerer, stage *metrics.Stage, topic string) *Metrics {
	cv := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "newsflow_ingest_" + name, Help: help}, labels)
		reg.MustRegister(c)
		return c
	}
	return &Metrics{
		Stage: stage, Topic: topic,
		Items:    cv("items_received_total", "Items received, by channel (http, feed, file).", "channel"),
		Bytes:    cv("received_bytes_total", "Bytes of request bodies, feed documents and files read, by channel.", "channel"),
		Accepted: cv("items_accepted_total", "Items acknowledged by Kafka, by channel.", "channel"),
		Dups:     cv("items_duplicate_total", "Items not written because a later item with the same id in the same request, feed poll or import superseded them.", "channel"),
		Rejected: cv("items_rejected_total", "Items rejected, by channel and reason.", "channel", "reason"),
	}
}

// PrivateMetrics returns a new set on a registry of its own, which nothing exposes: the default
// of the components that count into intake metrics (httpapi.Handler, feeds.Poller,
// importer.Import) when they are given none, so that their counting needs no nil checks.
// ingest's exposed set is built with NewMetrics in app's metrics.go.
func PrivateMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	return NewMetrics(reg, metrics.NewStage(reg, "ingest"), "")
}

// Judged counts a batch's items when they were decoded and judged.
func (m *Metrics) Judged(channel string, b *Batch) {
	m.Items.WithLabelValues(channel).Add(float64(len(b.Results)))
	m.Stage.Received.WithLabelValues(m.Topic).Add(float64(len(b.Results)))
	for _, r := range b.Results {
		switch r.Status {
		case StatusRejected:
			m.Rejected.WithLabelValues(channel, r.Error.Code).Inc()
			m.Stage.Failed.WithLabelValues("rejected_" + r.Error.Code).Inc()
		case StatusDuplicate:
			m.Dups.WithLabelValues(channel).Inc()
		}
	}
}

// Published counts a batch's articles once Kafka acknowledged them.
func (m *Metrics) Published(channel string, b *Batch) {
	m.Accepted.WithLabelValues(channel).Add(float64(len(b.Records)))
}

// Reject counts items rejected before they could be split (a whole request refused).
func (m *Metrics) Reject(channel, reason string, n int) {
	m.Rejected.WithLabelValues(channel, reason).Add(float64(n))
}
