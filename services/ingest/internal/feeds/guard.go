package feeds

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// Guard decides which addresses the feed poller may connect to. A feed's items name URLs that
// whoever writes the feed chooses; with page fetching on, ingest would fetch them from inside the
// cluster, so a feed could make it read the cloud metadata service (169.254.169.254), an admin
// port on loopback or any private service, and publish the answer as an article. So every
// connection is checked at dial time, on the address actually being connected to: a redirect
// is a new connection and is checked again, and a name that resolves to a public address when
// looked at and to a private one when used (DNS rebinding) is caught, because the check runs on
// the address the dialer connects to, after resolution.
type Guard struct {
	// AllowHosts are host names or host:port pairs (as written in URLs, e.g. "intranet.example",
	// "127.0.0.1:8080") that may be reached whatever they resolve to.
	AllowHosts []string
	// AllowCIDRs are address ranges that may be reached although they are special.
	AllowCIDRs []netip.Prefix
	// Timeout bounds one connection attempt.
	Timeout time.Duration

	// beforeConnect, when set (tests), runs after the check has passed and before connect(2);
	// an error stops the connection, so a test can make sure nothing leaves the machine even if
	// the check were broken.
	beforeConnect func(address string) error
}

// BlockedError is the refusal of a connection to a special address.
type BlockedError struct {
	Addr   netip.Addr
	Reason string
}

func (e *BlockedError) Error() string {
	return fmt.Sprintf("refusing to connect to %s (%s): feeds may not reach internal addresses; allow it with --feed-allow-hosts or --feed-allow-cidrs", e.Addr, e.Reason)
}

// blockedRange is a range of special addresses and why it is special.
type blockedRange struct {
	p      netip.Prefix
	reason string
}

// blocked are the ranges no feed or page fetch reaches unless allowed. IPv4-mapped IPv6
// addresses (::ffff:10.0.0.1) are unmapped first, so they meet the IPv4 rules.
var blocked = func() []blockedRange {
	var out []blockedRange
	for _, b := range []struct{ cidr, reason string }{
		{"0.0.0.0/8", "this network"},
		{"10.0.0.0/8", "private"},
		{"100.64.0.0/10", "shared address space (CGNAT)"},
		{"127.0.0.0/8", "loopback"},
		{"169.254.0.0/16", "link-local, cloud metadata"},
		{"172.16.0.0/12", "private"},
		{"192.0.0.0/24", "IETF protocol assignments"},
		{"192.0.2.0/24", "documentation"},
		{"192.88.99.0/24", "6to4 relay"},
		{"192.168.0.0/16", "private"},
		{"198.18.0.0/15", "benchmarking"},
		{"198.51.100.0/24", "documentation"},
		{"203.0.113.0/24", "documentation"},
		{"224.0.0.0/4", "multicast"},
		{"240.0.0.0/4", "reserved, broadcast"},
		{"::/96", "unspecified, loopback, IPv4-compatible"},
		{"64:ff9b::/96", "NAT64 (embeds an IPv4 address)"},
		{"64:ff9b:1::/48", "local NAT64"},
		{"100::/64", "discard"},
		{"2001::/32", "Teredo (embeds an IPv4 address)"},
		{"2001:db8::/32", "documentation"},
		{"2002::/16", "6to4 (embeds an IPv4 address)"},
		{"fc00::/7", "unique local (private)"},
		{"fe80::/10", "link-local"},
		{"fec0::/10", "site-local"},
		{"ff00::/8", "multicast"},
	} {
		out = append(out, blockedRange{netip.MustParsePrefix(b.cidr), b.reason})
	}
	return out
}()

// Check returns a *BlockedError when a may not be connected to.
func (g *Guard) Check(a netip.Addr) error {
	a = a.Unmap().WithZone("") // a zoned address (fe80::1%eth0) matches no prefix otherwise
	if !a.IsValid() {
		return &BlockedError{Addr: a, Reason: "invalid"}
	}
	for _, p := range g.AllowCIDRs {
		if p.Contains(a) {
			return nil
		}
	}
	for _, b := range blocked {
		if b.p.Contains(a) {
			return &BlockedError{Addr: a, Reason: b.reason}
		}
	}
	return nil
}

// allowedHost reports whether addr (host:port, as the transport dials it) is on AllowHosts.
func (g *Guard) allowedHost(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	for _, h := range g.AllowHosts {
		if strings.EqualFold(h, addr) || strings.EqualFold(strings.Trim(h, "[]"), host) {
			return true
		}
	}
	return false
}

// DialContext connects like net.Dialer, refusing special addresses: the check runs in the
// dialer's Control hook, after the name is resolved and before connect(2), on each address tried.
func (g *Guard) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: g.Timeout, KeepAlive: 30 * time.Second}
	if !g.allowedHost(addr) {
		d.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("feed guard: unreadable address %q: %w", address, err)
			}
			if err := g.Check(ap.Addr()); err != nil {
				return err
			}
			if g.beforeConnect != nil {
				return g.beforeConnect(address)
			}
			return nil
		}
	}
	return d.DialContext(ctx, network, addr)
}

// Client is an HTTP client whose every connection, redirects included, passes the guard. It
// ignores HTTP(S)_PROXY: through a proxy the guard would see only the proxy's address.
func (g *Guard) Client(timeout time.Duration) *http.Client {
	tr := &http.Transport{
		DialContext:           g.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          20,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{Timeout: timeout, Transport: tr, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) >= 5 {
			return errors.New("stopped after 5 redirects")
		}
		return nil
	}}
}

// ParseCIDRs reads allow-list entries: CIDRs (10.1.0.0/16) or single addresses (10.1.2.3).
func ParseCIDRs(ss []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range ss {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is neither a CIDR (10.1.0.0/16) nor an IP address", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}
