package kafkax

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl/plain"

	"github.com/newsflow/newsflow/pkg/config"
	"github.com/newsflow/newsflow/pkg/retry"
)

// pki is a CA and a certificate it signed, written as PEM files.
type pki struct {
	caFile, certFile, keyFile string
	cert                      tls.Certificate
}

func newPKI(t *testing.T, cn string, ips ...net.IP) pki {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn + " CA"}, IsCA: true, BasicConstraintsValid: true,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: cn}, IPAddresses: ips, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	p := pki{caFile: filepath.Join(dir, "ca.pem"), certFile: filepath.Join(dir, "cert.pem"), keyFile: filepath.Join(dir, "key.pem")}
	write := func(path, typ string, b []byte) {
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(p.caFile, "CERTIFICATE", caDER)
	write(p.certFile, "CERTIFICATE", der)
	write(p.keyFile, "EC PRIVATE KEY", keyDER)
	if p.cert, err = tls.LoadX509KeyPair(p.certFile, p.keyFile); err != nil {
		t.Fatal(err)
	}
	return p
}

func validConfig() Config {
	return Config{Brokers: []string{"127.0.0.1:9094"}, Partitions: 1, ReplicationFactor: 1, WriteTimeout: time.Second}
}

func TestSecurityFlagsAndEnv(t *testing.T) {
	t.Setenv("NEWSFLOW_KAFKA_CA_FILE", "/env/ca.pem")
	t.Setenv("NEWSFLOW_KAFKA_SASL_MECHANISM", "scram-sha-512")
	t.Setenv("NEWSFLOW_KAFKA_SASL_USERNAME", "envuser")
	t.Setenv("NEWSFLOW_KAFKA_SASL_PASSWORD", "envpass")
	t.Setenv("NEWSFLOW_KAFKA_TLS", "true")
	var c Config
	s := config.New("test")
	c.RegisterFlags(s)
	if err := s.Parse([]string{"--kafka-sasl-username", "flaguser", "--kafka-server-name", "kafka.example", "--kafka-cert-file", "c.pem", "--kafka-key-file", "k.pem", "--kafka-insecure-skip-verify"}); err != nil {
		t.Fatal(err)
	}
	want := Config{TLS: TLSConfig{Enabled: true, CAFile: "/env/ca.pem", CertFile: "c.pem", KeyFile: "k.pem", ServerName: "kafka.example", InsecureSkipVerify: true},
		SASL: SASLConfig{Mechanism: "scram-sha-512", Username: "flaguser", Password: "envpass"}}
	if c.TLS != want.TLS || c.SASL != want.SASL {
		t.Fatalf("got TLS %+v SASL %+v, want TLS %+v SASL %+v", c.TLS, c.SASL, want.TLS, want.SASL)
	}
	for _, v := range []string{"NEWSFLOW_KAFKA_TLS", "NEWSFLOW_KAFKA_CA_FILE", "NEWSFLOW_KAFKA_CERT_FILE", "NEWSFLOW_KAFKA_KEY_FILE", "NEWSFLOW_KAFKA_SERVER_NAME",
		"NEWSFLOW_KAFKA_INSECURE_SKIP_VERIFY", "NEWSFLOW_KAFKA_SASL_MECHANISM", "NEWSFLOW_KAFKA_SASL_USERNAME", "NEWSFLOW_KAFKA_SASL_PASSWORD"} {
		if !strings.Contains(strings.Join(s.EnvVars(), " "), v) {
			t.Errorf("%s is not bound", v)
		}
	}
	// The start-up log shows the settings but never the password.
	attrs := fmt.Sprint(config.Attrs(c))
	if strings.Contains(attrs, "envpass") || !strings.Contains(attrs, "sasl.password ***") || !strings.Contains(attrs, "tls.ca_file /env/ca.pem") {
		t.Fatalf("Attrs = %s", attrs)
	}
	// Bad environment values are reported by Parse.
	t.Setenv("NEWSFLOW_KAFKA_TLS", "maybe")
	s2 := config.New("test")
	new(Config).RegisterFlags(s2)
	if err := s2.Parse(nil); err == nil || !strings.Contains(err.Error(), "NEWSFLOW_KAFKA_TLS") {
		t.Fatalf("Parse with NEWSFLOW_KAFKA_TLS=maybe: %v", err)
	}
}

func TestValidateSecurity(t *testing.T) {
	p := newPKI(t, "broker", net.ParseIP("127.0.0.1"))
	notPEM := filepath.Join(t.TempDir(), "ca.txt")
	if err := os.WriteFile(notPEM, []byte("this is not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		tls     TLSConfig
		sasl    SASLConfig
		wantErr string // "" means valid
	}{
		{name: "plaintext"},
		{name: "tls with system roots", tls: TLSConfig{Enabled: true}},
		{name: "ca file", tls: TLSConfig{CAFile: p.caFile}},
		{name: "mutual tls", tls: TLSConfig{CAFile: p.caFile, CertFile: p.certFile, KeyFile: p.keyFile}},
		{name: "cert without key", tls: TLSConfig{CertFile: p.certFile}, wantErr: "give both or neither"},
		{name: "key without cert", tls: TLSConfig{KeyFile: p.keyFile}, wantErr: "give both or neither"},
		{name: "unreadable ca", tls: TLSConfig{CAFile: "/nonexistent/ca.pem"}, wantErr: "kafka-ca-file: open /nonexistent/ca.pem"},
		{name: "ca not pem", tls: TLSConfig{CAFile: notPEM}, wantErr: "no PEM certificate"},
		{name: "key does not match", tls: TLSConfig{CertFile: p.certFile, KeyFile: newPKI(t, "other").keyFile}, wantErr: "kafka-cert-file/kafka-key-file"},
		{name: "scram-sha-512", sasl: SASLConfig{Mechanism: "SCRAM-SHA-512", Username: "u", Password: "p"}},
		{name: "lower case mechanism", sasl: SASLConfig{Mechanism: " scram-sha-256 ", Username: "u", Password: "p"}},
		{name: "plain", sasl: SASLConfig{Mechanism: "PLAIN", Username: "u", Password: "p"}},
		{name: "unknown mechanism", sasl: SASLConfig{Mechanism: "GSSAPI", Username: "u", Password: "p"}, wantErr: `kafka-sasl-mechanism: "GSSAPI"`},
		{name: "mechanism without user", sasl: SASLConfig{Mechanism: "PLAIN", Password: "p"}, wantErr: "needs kafka-sasl-username and kafka-sasl-password"},
		{name: "mechanism without password", sasl: SASLConfig{Mechanism: "SCRAM-SHA-512", Username: "u"}, wantErr: "needs kafka-sasl-username and kafka-sasl-password"},
		{name: "user without mechanism", sasl: SASLConfig{Username: "u", Password: "p"}, wantErr: "kafka-sasl-mechanism is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			c.TLS, c.SASL = tc.tls, tc.sasl
			err := c.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				if c.sec == nil || c.sec.transport == nil {
					t.Fatal("Validate did not build the shared security settings")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Validate = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestMechanismSelection(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""}, {"PLAIN", "PLAIN"}, {"plain", "PLAIN"}, {"SCRAM-SHA-256", "SCRAM-SHA-256"}, {"Scram-Sha-512", "SCRAM-SHA-512"},
	} {
		c := validConfig()
		c.SASL = SASLConfig{Mechanism: tc.in}
		if tc.in != "" {
			c.SASL.Username, c.SASL.Password = "newsflow", "secret"
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		got := ""
		if c.sec.mechanism != nil {
			got = c.sec.mechanism.Name()
		}
		if got != tc.want || c.SASL.Mechanism != tc.want {
			t.Fatalf("mechanism %q: built %q (config says %q), want %q", tc.in, got, c.SASL.Mechanism, tc.want)
		}
		if tc.want == "PLAIN" {
			if m, ok := c.sec.mechanism.(plain.Mechanism); !ok || m.Username != "newsflow" || m.Password != "secret" {
				t.Fatalf("PLAIN mechanism = %#v", c.sec.mechanism)
			}
		}
		// Every connection of the Config uses what Validate built.
		if tr := c.Client().Transport.(*kafka.Transport); tr != c.sec.transport || tr.SASL != c.sec.mechanism {
			t.Fatal("Client does not use the shared transport")
		}
		if w := c.NewWriter("t"); w.Transport != c.sec.transport {
			t.Fatal("NewWriter does not use the shared transport")
		}
		if tr := c.NewTransport(); tr.SASL != c.sec.mechanism || tr.Dial == nil {
			t.Fatal("NewTransport lacks the SASL mechanism or the dialer")
		}
		if d := c.dialer(); d.SASLMechanism != c.sec.mechanism || d.DialFunc == nil {
			t.Fatal("the reader's dialer lacks the SASL mechanism or the TLS dial")
		}
	}
}

func TestTLSConfigFromPEM(t *testing.T) {
	p := newPKI(t, "broker", net.ParseIP("127.0.0.1"))
	c := validConfig()
	c.TLS = TLSConfig{CAFile: p.caFile, CertFile: p.certFile, KeyFile: p.keyFile, ServerName: "kafka-0.internal"}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	tc := c.sec.tls
	if tc == nil {
		t.Fatal("a CA file did not imply TLS")
	}
	if tc.ServerName != "kafka-0.internal" || tc.MinVersion != tls.VersionTLS12 || tc.InsecureSkipVerify || len(tc.Certificates) != 1 {
		t.Fatalf("tls.Config = server name %q, min version %x, insecure %v, %d client certs", tc.ServerName, tc.MinVersion, tc.InsecureSkipVerify, len(tc.Certificates))
	}
	leaf, _ := x509.ParseCertificate(p.cert.Certificate[0])
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: tc.RootCAs}); err != nil {
		t.Fatalf("the pool from kafka-ca-file does not verify a certificate its CA signed: %v", err)
	}
	// Copies share what Validate built.
	cp := c
	if cp.secure() != c.sec {
		t.Fatal("a copy of the Config rebuilt its security settings")
	}
	// Without TLS settings, no TLS.
	plainCfg := validConfig()
	if err := plainCfg.Validate(); err != nil || plainCfg.sec.tls != nil {
		t.Fatalf("plaintext config: %v, tls %v", err, plainCfg.sec.tls)
	}
}

// tlsServer accepts TLS connections with cert on loopback and completes handshakes; it stands for
// the TLS layer of a broker (nothing Kafka is spoken), to test what the dialer reports.
func tlsServer(t *testing.T, cert tls.Certificate) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				_ = conn.(*tls.Conn).Handshake()
				_, _ = conn.Read(make([]byte, 1))
			}()
		}
	}()
	return ln.Addr().String()
}

func TestDialReportsTLSFailures(t *testing.T) {
	broker := newPKI(t, "broker", net.ParseIP("127.0.0.1"))
	addr := tlsServer(t, broker.cert)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dialWith := func(tc TLSConfig) error {
		c := validConfig()
		c.Brokers, c.TLS = []string{addr}, tc
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		conn, err := c.secure().dial()(ctx, "tcp", addr)
		if err == nil {
			conn.Close()
		}
		return err
	}
	if err := dialWith(TLSConfig{CAFile: broker.caFile}); err != nil {
		t.Fatalf("the right CA: %v", err)
	}
	err := dialWith(TLSConfig{CAFile: newPKI(t, "other").caFile})
	if !IsAuthError(err) || !strings.Contains(err.Error(), "kafka "+addr+": TLS: ") || !strings.Contains(err.Error(), "unknown authority") ||
		!strings.Contains(err.Error(), "is --kafka-ca-file the CA") {
		t.Fatalf("an untrusted CA: %v", err)
	}
	err = dialWith(TLSConfig{CAFile: broker.caFile, ServerName: "kafka.example"})
	if !IsAuthError(err) || !strings.Contains(err.Error(), "--kafka-server-name") {
		t.Fatalf("a name not in the certificate: %v", err)
	}
	if err := dialWith(TLSConfig{InsecureSkipVerify: true}); err != nil {
		t.Fatalf("insecure-skip-verify: %v", err)
	}

	// A listener that does not speak TLS and closes the connection: retryable, with a hint.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conn.Close()
		}
	}()
	c := validConfig()
	c.Brokers, c.TLS = []string{ln.Addr().String()}, TLSConfig{Enabled: true}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	_, err = c.secure().dial()(ctx, "tcp", ln.Addr().String())
	if err == nil || IsAuthError(err) || !strings.Contains(err.Error(), "PLAINTEXT") {
		t.Fatalf("a non-TLS listener: %v, want a retryable error with a hint", err)
	}
}

func TestUnvalidatedConfigReportsBadSettingsOnDial(t *testing.T) {
	c := validConfig()
	c.TLS.CAFile = "/nonexistent/ca.pem"
	_, err := c.secure().dial()(context.Background(), "tcp", "127.0.0.1:1")
	if !IsAuthError(err) || !strings.Contains(err.Error(), "kafka-ca-file") {
		t.Fatalf("dial with an unreadable CA file: %v", err)
	}
	if p := validConfig(); p.secure() != plaintext {
		t.Fatal("unvalidated plaintext Configs should share one transport")
	}
}

func TestClassifyAndStopOnAuthError(t *testing.T) {
	c := validConfig()
	c.Brokers = []string{"b1:9094", "b2:9094"}
	c.SASL = SASLConfig{Mechanism: "SCRAM-SHA-512", Username: "u", Password: "hunter2"}
	err := c.classify(fmt.Errorf("kafka.(*Client).Metadata: %w", kafka.SASLAuthenticationFailed))
	if !IsAuthError(err) || !strings.HasPrefix(err.Error(), "kafka b1:9094,b2:9094: SASL SCRAM-SHA-512 authentication failed: ") || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("classify(SASLAuthenticationFailed) = %v", err)
	}
	if !errors.Is(err, kafka.SASLAuthenticationFailed) {
		t.Fatal("the AuthError does not unwrap to kafka-go's error")
	}
	if err := c.classify(kafka.LeaderNotAvailable); IsAuthError(err) {
		t.Fatalf("classify(LeaderNotAvailable) = %v, want it retryable", err)
	}
	// A start-up wait stops at the first AuthError and retries anything else.
	for _, tc := range []struct {
		err       error
		wantCalls int
	}{{err, 1}, {errors.New("connection refused"), 3}} {
		calls := 0
		got := retry.Do(context.Background(), retry.Backoff{Initial: time.Millisecond, Max: time.Millisecond, Attempts: 3}, func(context.Context) error {
			calls++
			return StopOnAuthError(fmt.Errorf("creating topics: %w", tc.err))
		}, nil)
		if calls != tc.wantCalls || !errors.Is(got, tc.err) {
			t.Fatalf("%v: %d calls, error %v; want %d calls", tc.err, calls, got, tc.wantCalls)
		}
	}
}

func TestWarnings(t *testing.T) {
	c := validConfig()
	if w := c.Warnings(); len(w) != 0 {
		t.Fatalf("plaintext without SASL: %v", w)
	}
	c.TLS.InsecureSkipVerify = true
	if w := c.Warnings(); len(w) != 1 || !strings.Contains(w[0], "NOT verified") {
		t.Fatalf("insecure-skip-verify: %v", w)
	}
	c = validConfig()
	c.SASL = SASLConfig{Mechanism: "PLAIN", Username: "u", Password: "p"}
	if w := c.Warnings(); len(w) != 1 || !strings.Contains(w[0], "unencrypted") {
		t.Fatalf("SASL without TLS: %v", w)
	}
}
