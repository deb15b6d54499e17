package app

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/newsflow/newsflow/pkg/metrics"
	"github.com/newsflow/newsflow/services/ingest/internal/feeds"
	"github.com/newsflow/newsflow/services/ingest/internal/httpapi"
	"github.com/newsflow/newsflow/services/ingest/internal/intake"
	"github.com/newsflow/newsflow/services/ingest/internal/publish"
)

// Metrics is everything ingest reports, named newsflow_ingest_<name>_<unit>: the shared stage set
// from pkg/metrics (received, produced, failed: dashboards read every stage alike) and the sets of
// the components that count into it. Each set is defined beside the code that counts (its
// package's NewMetrics); this is the one place that builds them all, so serve and import
// expose the same series and none of the components is ever handed nil.
type Metrics struct {
	Stage     *metrics.Stage
	Publish   *publish.Metrics          // produced bytes, produce latency
	Intake    *intake.Metrics           // items by channel and outcome (http, feed, file)
	Requests  *prometheus.CounterVec    // POST /v1/articles answers, by code
	Admission *httpapi.AdmissionMetrics // requests shed, in flight, bytes held
	Feeds     *feeds.Metrics            // feed polls and items
	Lease     *feeds.LeaseMetrics       // feeds owned, lease rebalances
}

// newMetrics registers all of ingest's metrics on reg; topic is the label of the items received
// (the topic ingest writes). The feed and lease sets are registered whether or not feeds are
// configured, so a replica without --feeds shows 0 feeds owned rather than no series.
func newMetrics(reg prometheus.Registerer, topic string) *Metrics {
	stage := metrics.NewStage(reg, "ingest")
	return &Metrics{
		Stage:     stage,
		Publish:   publish.NewMetrics(reg, stage),
		Intake:    intake.NewMetrics(reg, stage, topic),
		Requests:  httpapi.NewRequestsMetric(reg),
		Admission: httpapi.NewAdmissionMetrics(reg),
		Feeds:     feeds.NewMetrics(reg),
		Lease:     feeds.NewLeaseMetrics(reg),
	}
}
