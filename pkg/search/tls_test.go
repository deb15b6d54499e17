package search

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/newsflow/newsflow/pkg/config"
)

// These tests exercise the client's own TLS and error handling against Go's httptest TLS server
// (a certificate for 127.0.0.1 signed by its own CA); the real engines are covered by the
// integration tests (search_integration_test.go and the index tests, on both engines).

// node answers like Elasticsearch's integ-test build: GET / is 405, _nodes names the version,
// and every request needs the user "u" with password "p".
func node(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "u" || p != "p" {
			w.Header().Set("WWW-Authenticate", `Basic realm="security"`)
			http.Error(w, `{"error":{"type":"security_exception","reason":"unable to authenticate user [u]"},"status":401}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		switch r.URL.Path {
		case "/":
			http.Error(w, `{"error":"Incorrect HTTP method for uri [/] and method [GET], allowed: []","status":405}`, http.StatusMethodNotAllowed)
		case "/_nodes/_local":
			_, _ = w.Write([]byte(`{"cluster_name":"c1","nodes":{"n1":{"version":"8.19.0"}}}`))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func writeCA(t *testing.T, srv *httptest.Server) (file, fingerprint string) {
	t.Helper()
	der := srv.Certificate().Raw
	file = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	return file, hex.EncodeToString(sum[:])
}

func check(t *testing.T, c Config) (Engine, error) {
	t.Helper()
	if err := c.Validate(); err != nil {
		return Engine{}, err
	}
	cl, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return cl.Check(ctx)
}

func TestTLSAndAuth(t *testing.T) {
	srv := node(t)
	caFile, fp := writeCA(t, srv)
	// httptest servers share one built-in certificate, so "untrusted" is shown by trusting no CA
	// at all and by pinning the fingerprint of something else.
	plainURL := strings.Replace(srv.URL, "https://", "http://", 1)
	plainNode := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(plainNode.Close)
	httpsToPlain := strings.Replace(plainNode.URL, "http://", "https://", 1)
	userAtURL := strings.Replace(srv.URL, "https://", "https://u:hunter2@", 1)

	cases := []struct {
		name      string
		cfg       Config
		wantCause string // "" means success
	}{
		{"CA file and password", Config{URLs: []string{srv.URL}, Username: "u", Password: "p", CAFile: caFile}, ""},
		{"fingerprint with colons", Config{URLs: []string{srv.URL}, Username: "u", Password: "p", CAFingerprint: colons(fp)}, ""},
		{"skip verify", Config{URLs: []string{srv.URL}, Username: "u", Password: "p", InsecureSkipVerify: true}, ""},
		{"no CA: system roots do not trust it", Config{URLs: []string{srv.URL}, Username: "u", Password: "p"}, "unknown authority"},
		{"wrong fingerprint", Config{URLs: []string{srv.URL}, Username: "u", Password: "p", CAFingerprint: strings.Repeat("ab", 32)}, "does not match --search-ca-fingerprint"},
		{"wrong password", Config{URLs: []string{srv.URL}, Username: "u", Password: "nope", CAFile: caFile}, "401 Unauthorized"},
		{"wrong password in the URL", Config{URLs: []string{userAtURL}, CAFile: caFile}, "401 Unauthorized"},
		{"plain http against an https node", Config{URLs: []string{plainURL}, Username: "u", Password: "p"}, "speaks HTTPS"},
		{"https against a plain http node", Config{URLs: []string{httpsToPlain}, CAFile: caFile}, "answered in plain HTTP"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			eng, err := check(t, tc.cfg)
			if tc.wantCause == "" {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				if eng.Distribution != "elasticsearch" || eng.Version != "8.19.0" || eng.ClusterName != "c1" {
					t.Errorf("engine %+v, want elasticsearch 8.19.0 of c1 (from _nodes, since GET / is 405)", eng)
				}
				return
			}
			var ce *ConnError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v (%T), want a *ConnError", err, err)
			}
			if !ce.Fatal {
				t.Errorf("%v: not marked fatal; a configuration mistake must stop start-up", err)
			}
			if !strings.Contains(err.Error(), tc.wantCause) {
				t.Errorf("error %q does not name the cause %q", err, tc.wantCause)
			}
			u := tc.cfg.URLs[0]
			if !strings.Contains(err.Error(), config.RedactURL(u)) {
				t.Errorf("error %q does not name the URL %s", err, config.RedactURL(u))
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q shows the password of the URL", err)
			}
		})
	}
}

func TestDownIsNotFatal(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL
	srv.Close()
	_, err := check(t, Config{URLs: []string{u}})
	var ce *ConnError
	if !errors.As(err, &ce) || ce.Fatal {
		t.Fatalf("a node that is down: %v; want a retryable *ConnError", err)
	}
}

func TestValidateTLSSettings(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "x.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, want string
		cfg        Config
	}{
		{"CA with plain http", "plain http", Config{URLs: []string{"http://127.0.0.1:9200"}, CAFile: notPEM}},
		{"cert without key", "give both", Config{URLs: []string{"https://h:9200"}, CertFile: notPEM}},
		{"bad fingerprint", "SHA-256", Config{URLs: []string{"https://h:9200"}, CAFingerprint: "12:34"}},
		{"missing CA file", "no such file", Config{URLs: []string{"https://h:9200"}, CAFile: filepath.Join(dir, "none.pem")}},
		{"CA file not PEM", "no PEM certificate", Config{URLs: []string{"https://h:9200"}, CAFile: notPEM}},
		{"API key and password", "one way", Config{URLs: []string{"https://h:9200"}, APIKey: "k", Username: "u"}},
		{"password in a bad URL is not shown", "is not an http(s) URL", Config{URLs: []string{"ftp://u:hunter2@h"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate: %v, want an error containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q shows a password", err)
			}
		})
	}
	if w := (&Config{InsecureSkipVerify: true}).Warnings(); len(w) != 1 || !strings.Contains(w[0], "not checked") {
		t.Errorf("skip-verify warnings %q", w)
	}
}

func colons(h string) string {
	var parts []string
	for i := 0; i < len(h); i += 2 {
		parts = append(parts, strings.ToUpper(h[i:i+2]))
	}
	return strings.Join(parts, ":")
}

// TestClientCertificate: --search-cert-file/--search-key-file present a client certificate, which
// a node requiring one (PKI realm, mutual TLS) accepts; without it the handshake fails.
func TestClientCertificate(t *testing.T) {
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "client CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "newsflow-index"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile := filepath.Join(dir, "client.pem"), filepath.Join(dir, "client-key.pem")
	_ = os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)

	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.PeerCertificates) == 0 || r.TLS.PeerCertificates[0].Subject.CommonName != "newsflow-index" {
			http.Error(w, "no client certificate", http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte(`{"cluster_name":"pki","version":{"number":"2.19.1","distribution":"opensearch"}}`))
	}))
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	caFile, _ := writeCA(t, srv)

	eng, err := check(t, Config{URLs: []string{srv.URL}, CAFile: caFile, CertFile: certFile, KeyFile: keyFile})
	if err != nil || eng.ClusterName != "pki" {
		t.Fatalf("with the client certificate: %+v %v", eng, err)
	}
	if _, err := check(t, Config{URLs: []string{srv.URL}, CAFile: caFile}); err == nil {
		t.Fatal("without a client certificate the node let us in")
	}
}
