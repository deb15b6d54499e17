package search

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/newsflow/newsflow/pkg/config"
)

// TLSConfig builds the TLS settings of the transport from the CA file, the CA fingerprint, the
// client certificate and the skip-verify switch. It returns nil (Go's defaults: the system's
// roots) when none is set.
func (c *Config) TLSConfig() (*tls.Config, error) {
	if c.CAFile == "" && c.CAFingerprint == "" && c.CertFile == "" && !c.InsecureSkipVerify {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("search-ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("search-ca-file: %s holds no PEM certificate", c.CAFile)
		}
		tc.RootCAs = pool
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("search-cert-file/search-key-file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	switch {
	case c.InsecureSkipVerify:
		tc.InsecureSkipVerify = true
	case c.CAFingerprint != "":
		want, err := parseFingerprint(c.CAFingerprint)
		if err != nil {
			return nil, fmt.Errorf("search-ca-fingerprint: %w", err)
		}
		// Go's own verification cannot pin a fingerprint, so it is switched off and done here
		// in full: the chain must hold the pinned certificate, and the node's certificate must
		// verify up to it for the host name dialled (a pinned CA, not "any certificate").
		extraRoots := tc.RootCAs
		tc.InsecureSkipVerify = true
		tc.VerifyConnection = func(cs tls.ConnectionState) error {
			return verifyPinned(cs, want, extraRoots)
		}
	}
	return tc, nil
}

// verifyPinned accepts a connection whose peer chain contains the certificate with SHA-256
// fingerprint want and whose leaf verifies against it (plus any CA file) for cs.ServerName.
func verifyPinned(cs tls.ConnectionState, want []byte, extraRoots *x509.CertPool) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("the node presented no certificate")
	}
	roots := extraRoots
	if roots == nil {
		roots = x509.NewCertPool()
	} else {
		roots = roots.Clone()
	}
	pinned := false
	inter := x509.NewCertPool()
	for _, cert := range cs.PeerCertificates {
		sum := sha256.Sum256(cert.Raw)
		if bytes.Equal(sum[:], want) {
			roots.AddCert(cert)
			pinned = true
		} else {
			inter.AddCert(cert)
		}
	}
	if !pinned {
		return fmt.Errorf("%w: no certificate in the node's chain has the fingerprint %s", errPinning, hex.EncodeToString(want))
	}
	leaf := cs.PeerCertificates[0]
	opts := x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: cs.ServerName}
	if _, err := leaf.Verify(opts); err != nil {
		return fmt.Errorf("%w: verifying the node's certificate against the pinned CA: %w", errPinning, err)
	}
	return nil
}

// errPinning marks a failed --search-ca-fingerprint check.
var errPinning = errors.New("certificate pinning failed")

// parseFingerprint reads a SHA-256 fingerprint as hex, with or without colons (both forms are
// what tools print: Elasticsearch without, openssl with).
func parseFingerprint(s string) ([]byte, error) {
	h := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), ":", ""))
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("%q is not a SHA-256 fingerprint (64 hex digits, colons allowed)", s)
	}
	return b, nil
}

// ConnError is a start-up failure to reach the search engine, with the URL and what to do. Fatal
// errors are configuration mistakes (an untrusted certificate, a refused password, plain HTTP
// against an HTTPS node) that no retry can mend: a service stops on them with this message
// rather than retrying with a generic one.
type ConnError struct {
	URL   string // redacted
	Cause string
	Fatal bool
	Err   error
}

func (e *ConnError) Error() string {
	return fmt.Sprintf("search engine %s: %s: %v", e.URL, e.Cause, e.Err)
}

func (e *ConnError) Unwrap() error { return e.Err }

// Check asks the engine what it is, as Info does, and explains a failure: it names the URL and
// the cause, and marks the causes that retrying cannot mend as Fatal.
func (c *Client) Check(ctx context.Context) (Engine, error) {
	e, err := c.Info(ctx)
	if err == nil {
		return e, nil
	}
	return Engine{}, c.diagnose(ctx, err)
}

func (c *Client) diagnose(ctx context.Context, err error) error {
	u := ""
	if len(c.urls) > 0 {
		u = config.RedactURL(c.urls[0])
	}
	ce := &ConnError{URL: u, Err: err}
	var (
		unknownCA   x509.UnknownAuthorityError
		hostErr     x509.HostnameError
		invalid     x509.CertificateInvalidError
		recordErr   tls.RecordHeaderError
		verifyErr   *tls.CertificateVerificationError
		statusError *HTTPError
	)
	switch {
	case errors.As(err, &unknownCA):
		ce.Cause, ce.Fatal = "TLS: the node's certificate is signed by an unknown authority (set --search-ca-file to the CA that signed it, e.g. Elasticsearch 8's config/certs/http_ca.crt, or --search-ca-fingerprint)", true
	case errors.As(err, &hostErr):
		ce.Cause, ce.Fatal = "TLS: the node's certificate is not valid for this host name (use the name or IP the certificate was made for)", true
	case errors.As(err, &invalid):
		ce.Cause, ce.Fatal = "TLS: the node's certificate is not valid", true
	case errors.As(err, &verifyErr):
		ce.Cause, ce.Fatal = "TLS: the node's certificate could not be verified", true
	case errors.As(err, &recordErr) || strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		ce.Cause, ce.Fatal = "TLS: the node answered in plain HTTP (use http:// in --search-url, or enable TLS on the node)", true
	case errors.As(err, &statusError) && statusError.Status == http.StatusUnauthorized:
		ce.Cause, ce.Fatal = "401 Unauthorized: the node refused the credentials (check --search-username/--search-password or --search-api-key)", true
	case errors.As(err, &statusError) && statusError.Status == http.StatusForbidden:
		ce.Cause, ce.Fatal = "403 Forbidden: the user lacks the cluster privileges newsflow needs (monitor, manage_index_templates, and write/create_index on the index pattern)", true
	case errors.Is(err, errPinning):
		ce.Cause, ce.Fatal = "TLS: the node's chain does not match --search-ca-fingerprint", true
	case len(c.urls) > 0 && strings.HasPrefix(c.urls[0], "http://") && c.speaksTLS(ctx, c.urls[0]):
		ce.Cause, ce.Fatal = "the node speaks HTTPS but --search-url is http:// (use https:// and give the node's CA with --search-ca-file)", true
	default:
		ce.Cause = "not reachable"
	}
	return ce
}

// speaksTLS reports whether a TLS handshake succeeds at rawURL's host, which tells a node with
// TLS on from one that is down when a plain-HTTP request failed.
func (c *Client) speaksTLS(ctx context.Context, rawURL string) bool {
	p, err := url.Parse(rawURL)
	if err != nil {
		return false
	}
	host := p.Host
	if p.Port() == "" {
		host = net.JoinHostPort(p.Hostname(), "80")
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	d := tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true}} // only probing whether TLS is spoken
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return false
	}
	_ = conn.Close()
	return true
}
