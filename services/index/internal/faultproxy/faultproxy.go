// Package faultproxy is a loopback HTTP proxy that tests put between the index service and the
// real search node to cause the failures the service must survive, without touching the shared
// node: a cut (the port closes, every connection drops: real connection errors), whole requests
// answered 429 or 503, and single _bulk items turned into 429s.
package faultproxy

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Mode is what the proxy does with requests.
type Mode int

// The modes. Faulty answers every EveryNth _bulk request with 429 or 503 (alternating) and marks
// every EveryNth item of the other _bulk answers as a 429. Unauthorized and Forbidden answer
// every _bulk request 401 or 403 whole, as an engine does to a revoked password or a user who
// lost its write privilege; other requests (the readiness ping) pass.
const (
	Pass Mode = iota
	Faulty
	Unauthorized
	Forbidden
)

// Proxy forwards to one upstream and injects faults.
type Proxy struct {
	addr     string
	upstream *url.URL
	rp       *httputil.ReverseProxy

	mu  sync.Mutex
	srv *http.Server
	ln  net.Listener

	mode     atomic.Int32
	delay    atomic.Int64
	everyNth atomic.Int64
	bulks    atomic.Int64
	// Injected counts the faults injected (requests and items), so tests can assert they happened.
	Injected atomic.Int64
}

// Start listens on a loopback port and forwards to upstream; tc (nil for plain HTTP or Go's
// defaults) is the TLS configuration of an https upstream. Clients speak plain HTTP to the proxy,
// and their Authorization header is passed on.
func Start(upstream string, tc *tls.Config) (*Proxy, error) {
	u, err := url.Parse(upstream)
	if err != nil {
		return nil, err
	}
	p := &Proxy{upstream: u, rp: httputil.NewSingleHostReverseProxy(u)}
	if tc != nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = tc
		p.rp.Transport = tr
	}
	p.rp.ModifyResponse = p.modifyResponse
	director := p.rp.Director
	p.rp.Director = func(r *http.Request) {
		director(r)
		// Let the proxy's own transport negotiate (and undo) compression, so that
		// modifyResponse reads plain JSON.
		r.Header.Del("Accept-Encoding")
	}
	p.rp.ErrorLog = log.New(io.Discard, "", 0)
	p.everyNth.Store(3)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	return p, nil
}

// URL is the proxy's address for the service's --search-url.
func (p *Proxy) URL() string { return "http://" + p.addr }

func (p *Proxy) serve(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(p.handle), ReadHeaderTimeout: 5 * time.Second}
	p.mu.Lock()
	p.srv, p.ln = srv, ln
	p.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// Cut closes the port and every open connection: the service sees connection refused/reset.
func (p *Proxy) Cut() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.srv == nil {
		return nil
	}
	err := p.srv.Close()
	p.srv, p.ln = nil, nil
	return err
}

// Restore listens again on the same port.
func (p *Proxy) Restore() error {
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ { // the port can take a moment to be free again
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			p.serve(ln)
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("listening again on %s: %w", p.addr, err)
}

// SetMode switches between passing everything and injecting faults on every nth _bulk request
// and item.
func (p *Proxy) SetMode(m Mode, everyNth int) {
	p.everyNth.Store(int64(max(everyNth, 1)))
	p.mode.Store(int32(m))
}

// SetDelay holds every _bulk request for d before forwarding it, a slow engine that lets a test
// act while a stream is still being indexed.
func (p *Proxy) SetDelay(d time.Duration) { p.delay.Store(int64(d)) }

// Close stops the proxy.
func (p *Proxy) Close() error { return p.Cut() }

func isBulk(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/_bulk") }

func (p *Proxy) handle(w http.ResponseWriter, r *http.Request) {
	if d := time.Duration(p.delay.Load()); d > 0 && isBulk(r) {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	if m := Mode(p.mode.Load()); (m == Unauthorized || m == Forbidden) && isBulk(r) {
		_, _ = io.Copy(io.Discard, r.Body)
		p.Injected.Add(1)
		status, typ := http.StatusUnauthorized, "security_exception"
		if m == Forbidden {
			status = http.StatusForbidden
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"error":{"type":%q,"reason":"faultproxy answered %d"},"status":%d}`, typ, status, status)
		return
	}
	if Mode(p.mode.Load()) == Faulty && isBulk(r) {
		n := p.bulks.Add(1)
		if n%p.everyNth.Load() == 0 {
			_, _ = io.Copy(io.Discard, r.Body)
			p.Injected.Add(1)
			status := http.StatusTooManyRequests
			if (n/p.everyNth.Load())%2 == 0 {
				status = http.StatusServiceUnavailable
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"error":{"type":"injected","reason":"faultproxy answered %d"},"status":%d}`, status, status)
			return
		}
	}
	p.rp.ServeHTTP(w, r)
}

// modifyResponse turns every nth item of a successful _bulk answer into a 429, as an engine does
// when its write queue is full. The engine did index those documents; the service must send them
// again anyway, which is harmless because it writes by _id.
func (p *Proxy) modifyResponse(res *http.Response) error {
	if Mode(p.mode.Load()) != Faulty || !isBulk(res.Request) || res.StatusCode != http.StatusOK {
		return nil
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		return errors.Join(err, errors.New("faultproxy: unreadable bulk answer"))
	}
	items, _ := doc["items"].([]any)
	nth := int(p.everyNth.Load())
	for i, it := range items {
		if (i+1)%nth != 0 {
			continue
		}
		m, _ := it.(map[string]any)
		for _, v := range m {
			op, _ := v.(map[string]any)
			if op == nil {
				continue
			}
			op["status"] = http.StatusTooManyRequests
			op["error"] = map[string]any{"type": "es_rejected_execution_exception", "reason": "injected by faultproxy"}
			doc["errors"] = true
			p.Injected.Add(1)
		}
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	res.Body = io.NopCloser(bytes.NewReader(out))
	res.ContentLength = int64(len(out))
	res.Header.Set("Content-Length", strconv.Itoa(len(out)))
	res.Header.Del("Content-Encoding")
	return nil
}
