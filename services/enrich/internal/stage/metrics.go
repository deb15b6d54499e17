package stage

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/newsflow/newsflow/pkg/metrics"
)

// Metrics is what the enrich stage reports, named newsflow_enrich_<name>_<unit>: the shared stage
// set (received, produced, failed, dead-lettered, processing time, consumer lag) from pkg/metrics,
// so that dashboards read every stage alike, plus what enrichment finds.
type Metrics struct {
	*metrics.Stage
	Entities *prometheus.CounterVec // labels: type
	Dates    *prometheus.CounterVec // labels: granularity
	// Trimmed counts enriched articles cut to fit a record (enrich.Fit), by what was cut.
	Trimmed prometheus.Counter
	// InflightBytes is the size of the raw messages fetched and not yet committed.
	InflightBytes prometheus.Gauge
}

// NewMetrics registers the enrich stage's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{Stage: metrics.NewStage(reg, "enrich"),
		Entities: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "newsflow_enrich_entities_total",
			Help: "Distinct entities found, by type (PERSON, ORG, LOC, MISC)."}, []string{"type"}),
		Dates: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "newsflow_enrich_dates_total",
			Help: "Date mentions found, by granularity (day, week, month, year, …)."}, []string{"granularity"}),
		Trimmed: prometheus.NewCounter(prometheus.CounterOpts{Name: "newsflow_enrich_trimmed_total",
			Help: "Enriched articles whose mentions, entities or dates were cut so that the record fits into Kafka."}),
		InflightBytes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "newsflow_enrich_inflight_bytes",
			Help: "Bytes of messages fetched from Kafka and not yet committed."}),
	}
	reg.MustRegister(m.Entities, m.Dates, m.Trimmed, m.InflightBytes)
	// Every reason is exposed at 0 from the start, so the first dead letter is an increase the
	// NewsflowDeadLetters alert sees, not a series that appears at 1.
	for _, r := range deadLetterReasons {
		m.DeadLettered.WithLabelValues(r)
	}
	return m
}

// Dead-letter reasons (the dead_lettered_total label) and the failed_total reasons of a write
// attempt that failed: the alerts tell a stuck output topic from a stuck dead-letter topic.
const (
	reasonUndecodable = "undecodable"
	reasonTooLarge    = "too_large"
	stepProduce       = "produce"
	stepDLQ           = "dlq"
)

// deadLetterReasons are the reasons the stage dead-letters with (Stage.enrichOne's errors).
var deadLetterReasons = []string{reasonUndecodable, reasonTooLarge}
