package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/newsflow/newsflow/pkg/metrics"
	"github.com/newsflow/newsflow/pkg/testenv"
	"github.com/newsflow/newsflow/services/ingest/internal/intake"
	"github.com/newsflow/newsflow/services/ingest/internal/publish"
)

// blockingPub holds every Publish until release is closed, like a slow acknowledged write.
type blockingPub struct {
	entered chan struct{}
	release chan struct{}
}

func (b *blockingPub) Publish(ctx context.Context, _ []publish.Record) error {
	b.entered <- struct{}{}
	select {
	case <-b.release:
	case <-ctx.Done():
	}
	return nil
}

func newAdmissionServer(t *testing.T, pub Publisher, c AdmissionConfig) (*httptest.Server, *AdmissionMetrics) {
	reg := metrics.NewRegistry()
	stage := metrics.NewStage(reg, "ingest")
	am := NewAdmissionMetrics(reg)
	h := &Handler{Pub: pub, Limits: testLimits, RetryAfter: 3 * time.Second, Log: slog.New(slog.DiscardHandler),
		Metrics: intake.NewMetrics(reg, stage, "t"), Requests: NewRequestsMetric(reg), Admission: NewAdmission(c, am)}
	srv := httptest.NewServer(h.Routes())
	t.Cleanup(srv.Close)
	return srv, am
}

// TestInFlightCap: with one request in flight and a cap of one, the next gets 429 with
// Retry-After after the wait and is counted; after the first finishes, requests are taken again.
func TestInFlightCap(t *testing.T) {
	pub := &blockingPub{entered: make(chan struct{}, 1), release: make(chan struct{})}
	srv, am := newAdmissionServer(t, pub, AdmissionConfig{MaxInFlight: 1, MaxBufferedBytes: 64 << 20, Wait: 100 * time.Millisecond})
	first := make(chan int, 1)
	go func() {
		resp, err := http.Post(srv.URL+"/v1/articles", "application/json", strings.NewReader(good))
		if err != nil {
			first <- -1
			return
		}
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	<-pub.entered
	resp, r := post(t, srv.URL+"/v1/articles", "application/json", []byte(good))
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "3" || !strings.Contains(r.Error, "in flight") {
		t.Fatalf("second request: status %d Retry-After %q %+v", resp.StatusCode, resp.Header.Get("Retry-After"), r)
	}
	if got := testutil.ToFloat64(am.Shed.WithLabelValues(shedInFlight)); got != 1 {
		t.Fatalf("shed{in_flight} = %v, want 1", got)
	}
	close(pub.release)
	if got := <-first; got != http.StatusAccepted {
		t.Fatalf("first request: %d", got)
	}
	if resp, _ := post(t, srv.URL+"/v1/articles", "application/json", []byte(good)); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("after the first finished: %d", resp.StatusCode)
	}
	if testutil.ToFloat64(am.InFlight) != 0 || testutil.ToFloat64(am.Buffered) != 0 {
		t.Fatalf("in flight %v, buffered %v after all requests: want 0", testutil.ToFloat64(am.InFlight), testutil.ToFloat64(am.Buffered))
	}
}

// TestByteBudget: a client that announces a large body and trickles it holds only the bytes it
// sent; once those spend the budget, another large request waits briefly and gets 429, while a
// small request (within the free allowance) is still accepted. No deadlock: when the trickler
// goes away its bytes come back.
func TestByteBudget(t *testing.T) {
	pub := &fakePub{}
	const budget = 16 << 20
	srv, am := newAdmissionServer(t, pub, AdmissionConfig{MaxInFlight: 8, MaxBufferedBytes: budget, Wait: 200 * time.Millisecond})

	// The trickler: 8 MiB announced, 7 MiB sent, then it stalls.
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "POST /v1/articles HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\nContent-Length: 8388608\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(bytes.Repeat([]byte(" "), 7<<20)); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 5*time.Second, "the trickler's bytes charged", func() (bool, string) {
		b := testutil.ToFloat64(am.Buffered)
		return b >= 6<<20, fmt.Sprintf("buffered %v", b)
	})
	if b := testutil.ToFloat64(am.Buffered); b > 8<<20 {
		t.Fatalf("a trickler that sent 7 MiB holds %v bytes", b)
	}

	// A second large request (2 MiB, about 9 MiB charged once decoded) cannot get that much of
	// what is left of the 16 MiB budget: 429 after the wait.
	var big []byte
	for i := 0; len(big) < 2<<20; i++ {
		big = fmt.Appendf(big, `{"title":"T %d","body":"%s","url":"https://example.com/%d","language":"en"}`+"\n", i, strings.Repeat("Body text. ", 100), i)
	}
	start := time.Now()
	resp, r := post(t, srv.URL+"/v1/articles", "application/x-ndjson", big)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(r.Error, "bytes") {
		t.Fatalf("large request: status %d %+v", resp.StatusCode, r)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("large request answered after %v, want about the 200ms wait", took)
	}
	if got := testutil.ToFloat64(am.Shed.WithLabelValues(shedBuffer)); got < 1 {
		t.Fatalf("shed{buffer} = %v", got)
	}

	// A normal request still goes through.
	if resp, r := post(t, srv.URL+"/v1/articles", "application/json", []byte(good)); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("small request during the trickle: %d %+v", resp.StatusCode, r)
	}

	// The trickler leaves: its bytes return, and the large request now fits.
	c.Close()
	testenv.Eventually(t, 5*time.Second, "budget released", func() (bool, string) {
		return testutil.ToFloat64(am.Buffered) == 0, ""
	})
	if resp, r := post(t, srv.URL+"/v1/articles", "application/x-ndjson", big); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("large request after the trickler left: %d %+v", resp.StatusCode, r)
	}
}

// TestReadBodyChargesCapacity: the charge follows the buffer as it grows, never what
// Content-Length announces, and a body over the limit is refused.
func TestReadBodyChargesCapacity(t *testing.T) {
	a := NewAdmission(AdmissionConfig{MaxInFlight: 1, MaxBufferedBytes: 64 << 20, FreeBytes: 1}, nil)
	c, _ := a.enter(context.Background())
	data, err := readBody(context.Background(), strings.NewReader(strings.Repeat("x", 100_000)), -1, 1<<20, c)
	if err != nil || len(data) != 100_000 {
		t.Fatalf("read %d bytes, %v", len(data), err)
	}
	if c.used < int64(cap(data)) || c.used > 2*int64(cap(data)) {
		t.Fatalf("charged %d for a buffer of capacity %d", c.used, cap(data))
	}
	c.done()
	c, _ = a.enter(context.Background())
	if _, err := readBody(context.Background(), strings.NewReader("short"), 8<<20, 8<<20, c); err != nil || c.used > 128<<10 {
		t.Fatalf("announced 8 MiB, sent 5 bytes: charged %d, %v", c.used, err)
	}
	c.done()
	c, _ = a.enter(context.Background())
	var mbe *http.MaxBytesError
	if _, err := readBody(context.Background(), strings.NewReader(strings.Repeat("x", 2000)), -1, 1000, c); err == nil || !asMaxBytes(err, &mbe) {
		t.Fatalf("over the limit: %v", err)
	}
	c.done()
}

// TestReadBodyBuffersArePooled: a small body announced as such gets a buffer of its size; a
// larger one ends in one of bodyPools' buffers, the smallest class that holds it and one more
// byte (to see EOF), and is charged that capacity, which stays under twice the body; a body at
// the limit ends in a buffer of limit+1, which no pool keeps.
func TestReadBodyBuffersArePooled(t *testing.T) {
	a := NewAdmission(AdmissionConfig{MaxInFlight: 1, MaxBufferedBytes: 64 << 20, FreeBytes: 1}, nil)
	c, _ := a.enter(context.Background())
	if data, err := readBody(context.Background(), strings.NewReader("small"), 5, 8<<20, c); err != nil || cap(data) != 6 || c.used != 6 {
		t.Fatalf("a small body announced as such: a buffer of %d, charged %d, %v; want 6 (its size, +1 to see EOF)", cap(data), c.used, err)
	}
	c.done()
	for _, n := range []int{minBodyBuffer - 1, minBodyBuffer, 1_100_000} {
		c, _ := a.enter(context.Background())
		data, err := readBody(context.Background(), strings.NewReader(strings.Repeat("x", n)), -1, 8<<20, c)
		if err != nil || len(data) != n || bodyClass(int64(cap(data))) < 0 || cap(data) <= n || cap(data) > max(2*n, minBodyBuffer) || c.used != int64(cap(data)) {
			t.Fatalf("%d bytes: read %d into a buffer of %d (class %d), charged %d, %v", n, len(data), cap(data), bodyClass(int64(cap(data))), c.used, err)
		}
		putBody(data)
		c.done()
	}
	const limit = 3 * minBodyBuffer
	c, _ = a.enter(context.Background())
	data, err := readBody(context.Background(), strings.NewReader(strings.Repeat("x", limit)), limit, limit, c)
	if err != nil || len(data) != limit || cap(data) != limit+1 || bodyClass(limit+1) != -1 || c.used != limit+1 {
		t.Fatalf("a body at the limit: read %d into a buffer of %d, charged %d, %v", len(data), cap(data), c.used, err)
	}
	c.done()
}

func asMaxBytes(err error, target **http.MaxBytesError) bool {
	e, ok := err.(*http.MaxBytesError)
	*target = e
	return ok
}
