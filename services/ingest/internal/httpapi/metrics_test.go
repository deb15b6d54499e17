package httpapi

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/newsflow/newsflow/services/ingest/internal/intake"
)

// TestHandlerWithoutMetrics: a Handler built without Metrics and Requests, and an Admission built
// with nil metrics, serve requests and count into their private sets instead of dereferencing nil.
func TestHandlerWithoutMetrics(t *testing.T) {
	pm := privateMetrics()
	requests := func(code string) float64 { return testutil.ToFloat64(pm.requests.WithLabelValues(code)) }
	accepted := func() float64 { return testutil.ToFloat64(pm.intake.Accepted.WithLabelValues(intake.ChannelHTTP)) }
	unsupported := func() float64 {
		return testutil.ToFloat64(pm.intake.Rejected.WithLabelValues(intake.ChannelHTTP, "unsupported_media_type"))
	}
	r202, r415, r429, acc, uns := requests("202"), requests("415"), requests("429"), accepted(), unsupported()

	adm := NewAdmission(AdmissionConfig{MaxInFlight: 4, MaxBufferedBytes: 64 << 20}, nil)
	h := &Handler{Pub: &fakePub{}, Limits: testLimits, Log: slog.New(slog.DiscardHandler), Admission: adm}
	srv := httptest.NewServer(h.Routes())
	t.Cleanup(srv.Close)
	if resp, r := post(t, srv.URL+"/v1/articles", "application/json", []byte(good)); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d %+v", resp.StatusCode, r)
	}
	if resp, _ := post(t, srv.URL+"/v1/articles", "application/xml", []byte(good)); resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("xml: status %d", resp.StatusCode)
	}
	if got := requests("202") - r202; got != 1 {
		t.Errorf("requests_total{code=202} grew by %v, want 1", got)
	}
	if got := requests("415") - r415; got != 1 {
		t.Errorf("requests_total{code=415} grew by %v, want 1", got)
	}
	if got := accepted() - acc; got != 1 {
		t.Errorf("items_accepted_total{channel=http} grew by %v, want 1", got)
	}
	if got := unsupported() - uns; got != 1 {
		t.Errorf("items_rejected_total{reason=unsupported_media_type} grew by %v, want 1", got)
	}
	if adm.m == nil || testutil.ToFloat64(adm.m.InFlight) != 0 || testutil.ToFloat64(adm.m.Buffered) != 0 {
		t.Fatalf("admission metrics %+v: want a default set back at 0", adm.m)
	}

	// No slot at all: the request is shed, and the shed is counted in the Admission's own set.
	full := NewAdmission(AdmissionConfig{MaxInFlight: 0, MaxBufferedBytes: 64 << 20, Wait: 10 * time.Millisecond}, nil)
	h2 := &Handler{Pub: &fakePub{}, Limits: testLimits, Log: slog.New(slog.DiscardHandler), Admission: full, RetryAfter: time.Second}
	srv2 := httptest.NewServer(h2.Routes())
	t.Cleanup(srv2.Close)
	if resp, _ := post(t, srv2.URL+"/v1/articles", "application/json", []byte(good)); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("no slot: status %d, want 429", resp.StatusCode)
	}
	if got := testutil.ToFloat64(full.m.Shed.WithLabelValues(shedInFlight)); got != 1 {
		t.Errorf("http_shed_total{reason=in_flight} = %v, want 1", got)
	}
	if got := requests("429") - r429; got != 1 {
		t.Errorf("requests_total{code=429} grew by %v, want 1", got)
	}
}
