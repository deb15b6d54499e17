package app

import (
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestNewMetricsBuildsEverySet: newMetrics hands out no nil set, and registers every family
// ingest's README lists (the names dashboards and alerts use, deploy/checks) on the one registry.
func TestNewMetricsBuildsEverySet(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := newMetrics(reg, "articles.raw")
	if m.Stage == nil || m.Publish == nil || m.Intake == nil || m.Requests == nil || m.Admission == nil || m.Feeds == nil || m.Lease == nil {
		t.Fatalf("a nil set: %+v", m)
	}
	if m.Publish.Stage != m.Stage || m.Intake.Stage != m.Stage || m.Intake.Topic != "articles.raw" {
		t.Fatal("publish and intake do not share the stage set, or intake has the wrong topic")
	}
	// Vectors appear once they have a series; give each one, as serving does.
	m.Publish.Produce.WithLabelValues("ok")
	for _, c := range []*prometheus.CounterVec{m.Intake.Items, m.Intake.Bytes, m.Intake.Accepted, m.Intake.Dups} {
		c.WithLabelValues("http")
	}
	m.Intake.Rejected.WithLabelValues("http", "missing")
	m.Requests.WithLabelValues("202")
	m.Feeds.Polls.WithLabelValues("ok")
	m.Feeds.Items.WithLabelValues("new")
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "newsflow_ingest_") {
			got = append(got, strings.TrimPrefix(mf.GetName(), "newsflow_ingest_"))
		}
	}
	for _, want := range []string{
		"produced_bytes_total", "produce_seconds",
		"items_received_total", "received_bytes_total", "items_accepted_total", "items_duplicate_total", "items_rejected_total",
		"http_requests_total", "http_shed_total", "http_in_flight_requests", "http_buffered_bytes",
		"feed_polls_total", "feed_items_total", "feed_poll_seconds", "feeds_owned", "feed_lease_rebalances_total",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("newsflow_ingest_%s is not registered; got %v", want, got)
		}
	}
}
