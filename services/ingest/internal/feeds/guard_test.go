package feeds

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestGuardCheck(t *testing.T) {
	g := &Guard{}
	for addr, ok := range map[string]bool{
		"127.0.0.1": false, "127.1.2.3": false, "::1": false, "0.0.0.0": false, "::": false,
		"10.0.0.1": false, "172.16.5.4": false, "192.168.1.1": false, "fc00::1": false, "fd12:3456::1": false,
		"169.254.169.254": false, "fe80::1": false, "fe80::1%eth0": false, "100.64.0.1": false,
		"224.0.0.1": false, "239.255.255.250": false, "ff02::1": false, "255.255.255.255": false,
		"::ffff:127.0.0.1": false, "::ffff:10.0.0.1": false, "::ffff:169.254.169.254": false,
		"64:ff9b::a00:1": false, "2002:a00:1::": false,
		"93.184.215.14": true, "8.8.8.8": true, "2606:4700::1111": true, "::ffff:8.8.8.8": true, "172.32.0.1": true,
	} {
		err := g.Check(netip.MustParseAddr(addr))
		var be *BlockedError
		if ok != (err == nil) || (err != nil && !errors.As(err, &be)) {
			t.Errorf("Check(%s) = %v, want allowed=%v", addr, err, ok)
		}
	}
	cidrs, err := ParseCIDRs([]string{"10.1.0.0/16", "169.254.169.254", "fd00::/8"})
	if err != nil {
		t.Fatal(err)
	}
	g = &Guard{AllowCIDRs: cidrs}
	for addr, ok := range map[string]bool{"10.1.2.3": true, "::ffff:10.1.2.3": true, "10.2.0.1": false,
		"169.254.169.254": true, "169.254.169.253": false, "fd00::1": true, "fc00::1": false} {
		if err := g.Check(netip.MustParseAddr(addr)); ok != (err == nil) {
			t.Errorf("with allow-list, Check(%s) = %v, want allowed=%v", addr, err, ok)
		}
	}
	if _, err := ParseCIDRs([]string{"10.0.0.0/33"}); err == nil {
		t.Error("ParseCIDRs accepted 10.0.0.0/33")
	}
}

// counting serves ok and counts requests, so a test can tell that a refused fetch never arrived.
func counting(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func ok(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }

func isBlocked(err error) bool {
	var be *BlockedError
	return errors.As(err, &be)
}

// TestGuardDial: connections to loopback (by address or by a name resolving to it) and to
// private and metadata addresses are refused in the dialer, before connect(2): the 10.0.0.1 and
// 169.254.169.254 cases never send a packet (the error is the guard's, raised in the Control
// hook that runs before the connection is attempted, and a second hook stops anything that
// got past it before it leaves loopback). A redirect from an allowed host to
// loopback is refused too; the allow-list lets a fetch through.
func TestGuardDial(t *testing.T) {
	target, hits := counting(t, ok)
	targetURL := strings.Replace(target.URL, "127.0.0.1", "localhost", 1) // a name, resolved at dial time
	ctx := context.Background()
	get := func(c *http.Client, url string) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}

	// Should the check ever let one of these through, this stops it before connect(2): no test
	// sends a packet beyond loopback (a sandbox may well answer on 10.0.0.1).
	onlyLoopback := func(address string) error {
		if ap, err := netip.ParseAddrPort(address); err != nil || !ap.Addr().Unmap().IsLoopback() {
			return fmt.Errorf("the guard let a connection to %s through", address)
		}
		return nil
	}
	c := (&Guard{Timeout: 2 * time.Second, beforeConnect: onlyLoopback}).Client(5 * time.Second)
	defer c.CloseIdleConnections()
	for _, u := range []string{target.URL, targetURL, "http://10.0.0.1:9/", "http://169.254.169.254/latest/meta-data/",
		"http://[::ffff:10.0.0.1]:9/", "http://0.0.0.0:9/"} {
		if err := get(c, u); !isBlocked(err) {
			t.Errorf("GET %s: %v, want the guard's refusal", u, err)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("%d requests reached the loopback server", hits.Load())
	}

	// An allowed host (by host:port) that redirects to loopback: the redirect is refused.
	redirector, redirects := counting(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, targetURL+"/internal", http.StatusFound)
	})
	host := strings.TrimPrefix(redirector.URL, "http://")
	c2 := (&Guard{AllowHosts: []string{host}, Timeout: 2 * time.Second}).Client(5 * time.Second)
	defer c2.CloseIdleConnections()
	if err := get(c2, redirector.URL); !isBlocked(err) || redirects.Load() != 1 || hits.Load() != 0 {
		t.Fatalf("redirect to loopback: %v (redirector hit %d, target hit %d)", err, redirects.Load(), hits.Load())
	}

	// The allow-list lets it through: by CIDR, and by host name.
	lo, _ := ParseCIDRs([]string{"127.0.0.0/8"})
	c3 := (&Guard{AllowCIDRs: lo, Timeout: 2 * time.Second}).Client(5 * time.Second)
	defer c3.CloseIdleConnections()
	if err := get(c3, redirector.URL); err != nil || hits.Load() != 1 {
		t.Fatalf("allowed by CIDR: %v, target hit %d", err, hits.Load())
	}
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(target.URL, "http://"))
	c4 := (&Guard{AllowHosts: []string{"localhost:" + port}, Timeout: 2 * time.Second}).Client(5 * time.Second)
	defer c4.CloseIdleConnections()
	if err := get(c4, targetURL); err != nil || hits.Load() != 2 {
		t.Fatalf("allowed by host: %v, target hit %d", err, hits.Load())
	}
}

// TestPollPageGuard: with page fetching on, an item whose link points at loopback is not fetched
// (the feed's text is used instead), while the feed itself, on an operator-chosen loopback URL,
// is polled; an allow-list entry lets the page fetch through.
func TestPollPageGuard(t *testing.T) {
	fs := newFeedServer(t, false)
	fs.pages["/page/a"] = `<html><body><article><p>The full text of the article is much longer than the summary in the feed, and it goes on for a while so that readability takes it for the main content of the page.</p>
<p>A second paragraph adds more words about the story, the people in it and the places where it happened, as news articles do.</p></article></body></html>`
	fs.set("a")
	feedHost := strings.TrimPrefix(fs.URL, "http://")
	for _, tc := range []struct {
		name  string
		allow []string
		hits  int
		body  string
	}{
		{"refused", nil, 0, "Text of a."},
		{"allowed", []string{"127.0.0.1/32"}, 1, "The full text of the article"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs.mu.Lock()
			fs.pageHits = 0
			fs.mu.Unlock()
			cidrs, _ := ParseCIDRs(tc.allow)
			pub := &fakePub{}
			store, _ := OpenStore(t.TempDir())
			p := newPoller(t, store, pub)
			p.FetchPages = true
			p.Client = (&Guard{AllowHosts: []string{feedHost}, AllowCIDRs: cidrs}).Client(5 * time.Second)
			p.PageClient = (&Guard{AllowCIDRs: cidrs}).Client(5 * time.Second)
			defer p.Client.CloseIdleConnections()
			defer p.PageClient.CloseIdleConnections()
			if n, err := p.Poll(context.Background(), Feed{URL: fs.URL + "/feed", Source: "s"}); err != nil || n != 1 {
				t.Fatalf("%d, %v", n, err)
			}
			fs.mu.Lock()
			hits := fs.pageHits
			fs.mu.Unlock()
			if hits != tc.hits || !strings.HasPrefix(pub.arts[0].Body, tc.body) {
				t.Fatalf("page fetched %d times, body %.60q; want %d, %q", hits, pub.arts[0].Body, tc.hits, tc.body)
			}
		})
	}
}
