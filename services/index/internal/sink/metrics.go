package sink

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/newsflow/newsflow/pkg/metrics"
)

// Metrics is what the index stage reports, named newsflow_index_<name>_<unit>. The shared stage
// set (received, produced = documents indexed, failed, dead-lettered, processing time, consumer
// lag) comes from pkg/metrics so dashboards read every stage alike; the rest is specific to bulk
// writing.
type Metrics struct {
	*metrics.Stage
	// BulkDuration is the latency of one _bulk request, by outcome (ok, item_errors, error).
	BulkDuration *prometheus.HistogramVec
	// BulkBytes and BulkDocuments are the size of one _bulk request.
	BulkBytes     prometheus.Histogram
	BulkDocuments prometheus.Histogram
	// Retries counts documents sent again, by reason (item_429, item_5xx, item_cluster,
	// request_429, request_5xx, unauthorized, forbidden, not_found, request_4xx, connection,
	// too_large, bad_answer, ensure_index:
	// their index could not be created yet).
	Retries *prometheus.CounterVec
	// Superseded counts documents the engine refused with an external-version conflict (409)
	// because it holds the same version (a redelivery) or a newer one (the newer copy won): done,
	// neither retried nor dead-lettered, and not counted as produced.
	Superseded prometheus.Counter
	// EndToEnd is the time from ingested_at to the engine's acknowledgement, the latency a reader
	// of the index experiences.
	EndToEnd prometheus.Histogram
	// StoriesLookup is the latency of one batch's near-duplicate and story lookup (one
	// _msearch), and StoriesDocuments the documents it decided: the lookup's cost per article.
	StoriesLookup    prometheus.Histogram
	StoriesDocuments prometheus.Counter
	// InflightBytes is the size of the messages fetched and not yet committed.
	InflightBytes prometheus.Gauge
}

// NewMetrics registers the index stage's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Stage: metrics.NewStage(reg, "index", metrics.ProducedTo("alias")),
		BulkDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "newsflow_index_bulk_duration_seconds",
			Help:    "Latency of one _bulk request, by outcome.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)}, []string{"outcome"}),
		BulkBytes: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "newsflow_index_bulk_size_bytes",
			Help:    "Body size of one _bulk request.",
			Buckets: prometheus.ExponentialBuckets(1024, 4, 9)}),
		BulkDocuments: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "newsflow_index_bulk_size_documents",
			Help:    "Documents in one _bulk request.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 13)}),
		Retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "newsflow_index_retries_total",
			Help: "Documents sent to the engine again after a retryable failure, by reason."}, []string{"reason"}),
		EndToEnd: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "newsflow_index_end_to_end_latency_seconds",
			Help:    "Time from an article's ingested_at to the search engine acknowledging its document.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 18)}),
		InflightBytes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "newsflow_index_inflight_bytes",
			Help: "Bytes of messages fetched from Kafka and not yet committed."}),
		StoriesLookup: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "newsflow_index_stories_lookup_duration_seconds",
			Help:    "Latency of one batch's near-duplicate and story lookup (one _msearch on the read alias).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
		StoriesDocuments: prometheus.NewCounter(prometheus.CounterOpts{Name: "newsflow_index_stories_documents_total",
			Help: "Documents whose duplicate_of and story_id the lookup decided."}),
		Superseded: prometheus.NewCounter(prometheus.CounterOpts{Name: "newsflow_index_superseded_total",
			Help: "Documents not written because the index holds the same or a newer version (external-version conflict, 409)."}),
	}
	reg.MustRegister(m.BulkDuration, m.BulkBytes, m.BulkDocuments, m.Retries, m.EndToEnd, m.InflightBytes, m.Superseded, m.StoriesLookup, m.StoriesDocuments)
	// Every reason is exposed at 0 from the start, so the first dead letter is an increase the
	// NewsflowDeadLetters and NewsflowIndexDocumentsRefused alerts see, not a series that
	// appears at 1.
	for _, r := range deadLetterReasons {
		m.DeadLettered.WithLabelValues(r)
	}
	return m
}

// deadLetterReasons are the reason labels the sink dead-letters with (Sink.countDead's callers).
var deadLetterReasons = []string{"invalid", "out_of_range", "rejected", "index_creation"}
