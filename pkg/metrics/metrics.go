// Package metrics holds what every stage reports to Prometheus, named as docs/ARCHITECTURE.md
// (Metrics) fixes it: newsflow_<service>_<name>_<unit>, counters ending in _total, bounded labels
// only. Each service builds its own registry and passes it in; nothing registers on the global
// default registry.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// NewRegistry returns a registry with the Go runtime and process collectors, which the
// benchmarks and dashboards read for CPU and memory.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Stage is the set every stage reports: what it received, produced, failed and dead-lettered,
// how long one item took, and how far behind its consumer group is.
type Stage struct {
	Received     *prometheus.CounterVec   // labels: topic
	Produced     *prometheus.CounterVec   // labels: topic (Kafka-writing stages) or alias (index), see ProducedTo
	Failed       *prometheus.CounterVec   // labels: reason (a small fixed set)
	DeadLettered *prometheus.CounterVec   // labels: reason
	Latency      *prometheus.HistogramVec // labels: operation
	ConsumerLag  *prometheus.GaugeVec     // labels: topic, partition
}

// StageOption changes one label of the stage set.
type StageOption func(*stageLabels)

type stageLabels struct{ produced string }

// ProducedTo names the label of _produced_total for a stage that does not write to a Kafka topic:
// index writes to a search alias, so its series read produced_total{alias="articles"}, not a
// "topic" that holds an alias.
func ProducedTo(label string) StageOption { return func(l *stageLabels) { l.produced = label } }

// NewStage registers the stage metrics of service on reg.
func NewStage(reg prometheus.Registerer, service string, opts ...StageOption) *Stage {
	labels := stageLabels{produced: "topic"}
	for _, o := range opts {
		o(&labels)
	}
	ns := "newsflow_" + service
	m := &Stage{
		Received: prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "_received_total",
			Help: "Records received (HTTP items, file lines, feed items or Kafka messages)."}, []string{"topic"}),
		Produced: prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "_produced_total",
			Help: "Records written and acknowledged downstream (Kafka acks=all or search engine)."}, []string{labels.produced}),
		Failed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "_failed_total",
			Help: "Records or attempts that failed, by reason; retried failures count once per attempt."}, []string{"reason"}),
		DeadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "_dead_lettered_total",
			Help: "Records sent to the dead-letter topic, by reason."}, []string{"reason"}),
		Latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: ns + "_processing_seconds",
			Help:    "Time to process one record or batch, by operation.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 14)}, []string{"operation"}),
		ConsumerLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: ns + "_consumer_lag_messages",
			Help: "Messages between the group's committed offset and the partition's end offset."}, []string{"topic", "partition"}),
	}
	reg.MustRegister(m.Received, m.Produced, m.Failed, m.DeadLettered, m.Latency, m.ConsumerLag)
	return m
}
