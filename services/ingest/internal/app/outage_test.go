package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/newsflow/newsflow/pkg/metrics"
	"github.com/newsflow/newsflow/pkg/testenv"
	"github.com/newsflow/newsflow/services/ingest/internal/httpapi"
	"github.com/newsflow/newsflow/services/ingest/internal/intake"
	"github.com/newsflow/newsflow/services/ingest/internal/normalize"
	"github.com/newsflow/newsflow/services/ingest/internal/publish"
)

// tcpProxy forwards loopback connections to the broker. Cut, it closes every open connection
// and closes new ones at once (a dead broker); stalled, it closes open connections and holds new
// ones open without a byte either way (a hung broker or a black-holed network).
type tcpProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	stall  bool
	conns  map[net.Conn]bool
	wg     sync.WaitGroup
}

func newProxy(t *testing.T, target string) *tcpProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *tcpProxy) addr() string { return p.ln.Addr().String() }

func (p *tcpProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		if p.stall {
			p.conns[c] = true
			p.mu.Unlock()
			continue
		}
		up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[up] = true, true
		p.mu.Unlock()
		p.wg.Add(2)
		pipe := func(dst, src net.Conn) {
			defer p.wg.Done()
			_, _ = io.Copy(dst, src)
			dst.Close()
			src.Close()
		}
		go pipe(up, c)
		go pipe(c, up)
	}
}

func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

func (p *tcpProxy) hang() {
	p.cut()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down, p.stall = false, true
}

func (p *tcpProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stall {
		for c := range p.conns {
			c.Close()
			delete(p.conns, c)
		}
	}
	p.down, p.stall = false, false
}

// TestBrokerOutage: with the broker unreachable (connections refused) or hung (connections that
// never answer) POST answers 503 with Retry-After within the write deadline and writes nothing of
// the request; once the broker is back the same request is accepted without a restart.
//
// The shared broker is never stopped: the ingest writer reaches it only through a proxy this
// test controls. The broker advertises its own address in metadata, so the writer's transport
// dials every broker address through the proxy; otherwise kafka-go would bypass the proxy after
// the first metadata answer and the test would prove nothing.
func TestBrokerOutage(t *testing.T) {
	for _, mode := range []string{"refused", "hung"} {
		t.Run(mode, func(t *testing.T) { testOutage(t, mode) })
	}
}

func testOutage(t *testing.T, mode string) {
	k := testenv.Kafka(t)
	topic := testenv.Name(t, "ingest-outage")
	ctx := context.Background()
	if err := k.EnsureTopics(ctx, topic); err != nil {
		t.Fatal(err)
	}
	proxy := newProxy(t, k.Brokers[0])
	pk := k
	pk.Brokers = []string{proxy.addr()}
	pk.WriteTimeout = 3 * time.Second
	w, tr := newWriter(pk, topic)
	var d net.Dialer
	tr.Dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, proxy.addr())
	}
	t.Cleanup(func() { w.Close(); tr.CloseIdleConnections() })

	reg := metrics.NewRegistry()
	stage := metrics.NewStage(reg, "ingest")
	h := &httpapi.Handler{
		Pub:        &publish.Publisher{W: w, Topic: topic, Timeout: pk.PublishTimeout(), M: publish.NewMetrics(reg, stage)},
		Limits:     httpapi.Limits{MaxRequestBytes: 1 << 20, MaxItems: 100, Article: normalize.DefaultLimits},
		RetryAfter: 3 * time.Second, Log: slog.New(slog.DiscardHandler), Metrics: intake.NewMetrics(reg, stage, topic),
	}
	srv := httptest.NewServer(h.Routes())
	t.Cleanup(srv.Close)

	before := `{"title":"Before","body":"Written while the broker is up."}`
	if code, m := postBody(t, srv.URL+"/v1/articles", "application/json", []byte(before)); code != 202 {
		t.Fatalf("broker up: %d %v", code, m)
	}

	if mode == "hung" {
		proxy.hang()
	} else {
		proxy.cut()
	}
	during := "{\"title\":\"During 1\",\"body\":\"Sent while the broker is away.\"}\n{\"title\":\"During 2\",\"body\":\"Also sent while away.\"}\n"
	start := time.Now()
	resp, err := srv.Client().Post(srv.URL+"/v1/articles", "application/x-ndjson", strings.NewReader(during))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	took := time.Since(start)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "3" {
		t.Fatalf("broker %s: status %d Retry-After %q, want 503 and 3", mode, resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	t.Logf("broker %s: 503 after %v", mode, took.Round(time.Millisecond))
	if took > pk.PublishTimeout()+time.Second {
		t.Errorf("the write deadline did not bound the wait: %v", took)
	}

	proxy.restore()
	after := `{"title":"After","body":"Written once the broker is back."}`
	testenv.Eventually(t, 20*time.Second, "202 after the broker is back", func() (bool, string) {
		code, _ := postBody(t, srv.URL+"/v1/articles", "application/json", []byte(after))
		return code == 202, fmt.Sprintf("status %d", code)
	})
	// kafka-go gave up on the refused batch before the 503, so nothing of it can land later; the
	// retried request is then accepted whole.
	if code, m := postBody(t, srv.URL+"/v1/articles", "application/x-ndjson", []byte(during)); code != 202 {
		t.Fatalf("retry after recovery: %d %v", code, m)
	}

	arts := waitTopic(t, k, topic, 4)
	count := map[string]int{}
	for _, a := range arts {
		count[a.Title]++
	}
	if count["Before"] != 1 || count["During 1"] != 1 || count["During 2"] != 1 || count["After"] < 1 || len(arts) != 3+count["After"] {
		t.Fatalf("topic holds %v, want Before, During 1 and During 2 once each (nothing of the 503 request)", count)
	}
}
