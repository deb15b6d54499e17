package feeds

import (
	"context"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/newsflow/newsflow/services/ingest/internal/intake"
	"github.com/newsflow/newsflow/services/ingest/internal/normalize"
)

// TestPollerAndLeaseWithoutMetrics: a Poller built without Intake and Metrics, and a Lease
// without Metrics, work and count into the private sets instead of dereferencing nil.
func TestPollerAndLeaseWithoutMetrics(t *testing.T) {
	pm := privateMetrics()
	polls := func() float64 { return testutil.ToFloat64(pm.feeds.Polls.WithLabelValues("ok")) }
	items := func() float64 { return testutil.ToFloat64(pm.feeds.Items.WithLabelValues("new")) }
	accepted := func() float64 { return testutil.ToFloat64(pm.intake.Accepted.WithLabelValues(intake.ChannelFeed)) }
	p0, i0, a0 := polls(), items(), accepted()

	fs := newFeedServer(t, false)
	fs.set("b", "a")
	store, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pub := &fakePub{}
	p := &Poller{Interval: time.Hour, Client: &http.Client{Timeout: 5 * time.Second}, Store: store, Pub: pub,
		Limits: normalize.DefaultLimits, Log: slog.New(slog.DiscardHandler)}
	if n, err := p.Poll(context.Background(), Feed{URL: fs.URL + "/feed", Source: "test"}); err != nil || n != 2 {
		t.Fatalf("poll: %d, %v", n, err)
	}
	if got := polls() - p0; got != 1 {
		t.Errorf("feed_polls_total{outcome=ok} grew by %v, want 1", got)
	}
	if got := items() - i0; got != 2 {
		t.Errorf("feed_items_total{outcome=new} grew by %v, want 2", got)
	}
	if got := accepted() - a0; got != 2 {
		t.Errorf("items_accepted_total{channel=feed} grew by %v, want 2", got)
	}

	l := &Lease{Feeds: testFeeds(5), Log: slog.New(slog.DiscardHandler)}
	l.setOwned(3, 5, "test")
	if got := testutil.ToFloat64(pm.lease.Owned); got != 3 {
		t.Errorf("feeds_owned = %v, want 3", got)
	}
}
