package kafkax

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/newsflow/newsflow/pkg/config"
	"github.com/newsflow/newsflow/pkg/retry"
)

// TLSConfig is how newsflow reaches a broker over TLS, as every managed Kafka requires.
type TLSConfig struct {
	// Enabled turns TLS on; any of the other settings implies it.
	Enabled bool
	// CAFile is a PEM bundle of the CAs that sign the brokers' certificates (default: the system's).
	CAFile string
	// CertFile and KeyFile are an optional client certificate (mutual TLS).
	CertFile, KeyFile string
	// ServerName overrides the name checked in the broker certificate (default: the broker host).
	ServerName string
	// InsecureSkipVerify accepts any certificate: for development only, and it says so in the log.
	InsecureSkipVerify bool
}

// SASLConfig is how newsflow authenticates to the brokers.
type SASLConfig struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; empty means no SASL.
	Mechanism string
	Username  string
	Password  config.Secret
}

// SASL mechanism names as Kafka spells them.
const (
	MechanismPlain       = "PLAIN"
	MechanismScramSHA256 = "SCRAM-SHA-256"
	MechanismScramSHA512 = "SCRAM-SHA-512"
)

func (c *Config) registerSecurityFlags(s *config.Set) {
	s.Bool(&c.TLS.Enabled, "kafka-tls", "NEWSFLOW_KAFKA_TLS", false, "connect to the brokers over TLS (implied by --kafka-ca-file, --kafka-cert-file, --kafka-server-name and --kafka-insecure-skip-verify)")
	s.String(&c.TLS.CAFile, "kafka-ca-file", "NEWSFLOW_KAFKA_CA_FILE", "", "PEM file of the CA(s) that sign the broker certificates (default: the system roots)")
	s.String(&c.TLS.CertFile, "kafka-cert-file", "NEWSFLOW_KAFKA_CERT_FILE", "", "PEM client certificate for mutual TLS (with --kafka-key-file)")
	s.String(&c.TLS.KeyFile, "kafka-key-file", "NEWSFLOW_KAFKA_KEY_FILE", "", "PEM private key of --kafka-cert-file")
	s.String(&c.TLS.ServerName, "kafka-server-name", "NEWSFLOW_KAFKA_SERVER_NAME", "", "name to verify in the broker certificates (default: the broker host)")
	s.Bool(&c.TLS.InsecureSkipVerify, "kafka-insecure-skip-verify", "NEWSFLOW_KAFKA_INSECURE_SKIP_VERIFY", false, "accept any broker certificate (development only; logged as a warning)")
	s.String(&c.SASL.Mechanism, "kafka-sasl-mechanism", "NEWSFLOW_KAFKA_SASL_MECHANISM", "", "SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (empty: no SASL)")
	s.String(&c.SASL.Username, "kafka-sasl-username", "NEWSFLOW_KAFKA_SASL_USERNAME", "", "SASL user name")
	s.Secret(&c.SASL.Password, "kafka-sasl-password", "NEWSFLOW_KAFKA_SASL_PASSWORD", "SASL password")
}

// tlsOn reports whether connections use TLS.
func (t TLSConfig) tlsOn() bool {
	return t.Enabled || t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.ServerName != "" || t.InsecureSkipVerify
}

// security is what every connection of a Config shares: built once (by Validate) because it reads
// files, and held by pointer so that copies of the Config share it.
type security struct {
	tls       *tls.Config // nil: plaintext
	mechanism sasl.Mechanism
	err       error // why the settings cannot be used; every dial reports it
	// transport is shared by the admin clients and writers of the Config, as kafka-go's
	// DefaultTransport was: its connections are pooled and reused.
	transport *kafka.Transport
}

// plaintext is the security of every unvalidated Config without TLS or SASL, so that such
// Configs share one transport, as they shared kafka-go's default one before.
var plaintext = withTransport(&security{})

func withTransport(sec *security) *security {
	sec.transport = sec.newTransport()
	transportsMu.Lock()
	transports = append(transports, sec.transport)
	transportsMu.Unlock()
	return sec
}

var (
	transportsMu sync.Mutex
	transports   []*kafka.Transport // every shared transport withTransport made
	// unvalidated caches the security of Configs that were never validated (test literals), one
	// per distinct setting, so that their admin clients share a pool as validated ones do.
	unvalidated sync.Map // securityKey -> *security
)

type securityKey struct {
	TLS  TLSConfig
	SASL SASLConfig
}

// CloseIdleConnections closes the idle pooled connections of every transport kafkax made, as
// kafka.Transport.CloseIdleConnections does for one. The pools live as long as the process (as
// kafka-go's DefaultTransport's do); tests that check for leaked goroutines call this first.
func CloseIdleConnections() {
	transportsMu.Lock()
	defer transportsMu.Unlock()
	for _, t := range transports {
		t.CloseIdleConnections()
	}
}

func (c *Config) validateSecurity() error {
	var errs []error
	t, s := c.TLS, &c.SASL
	if (t.CertFile == "") != (t.KeyFile == "") {
		errs = append(errs, errors.New("kafka-cert-file and kafka-key-file: give both or neither"))
	}
	s.Mechanism = strings.ToUpper(strings.TrimSpace(s.Mechanism))
	switch s.Mechanism {
	case "":
		if s.Username != "" || s.Password != "" {
			errs = append(errs, errors.New("kafka-sasl-username/password are set but kafka-sasl-mechanism is empty (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)"))
		}
	case MechanismPlain, MechanismScramSHA256, MechanismScramSHA512:
		if s.Username == "" || s.Password == "" {
			errs = append(errs, fmt.Errorf("kafka-sasl-mechanism %s needs kafka-sasl-username and kafka-sasl-password", s.Mechanism))
		}
	default:
		errs = append(errs, fmt.Errorf("kafka-sasl-mechanism: %q, want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", s.Mechanism))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	sec, err := buildSecurity(c.TLS, c.SASL)
	if err != nil {
		return err
	}
	c.sec = sec
	return nil
}

func buildSecurity(t TLSConfig, s SASLConfig) (*security, error) {
	sec := &security{}
	if t.tlsOn() {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify} //nolint:gosec // opt-in, warned
		if t.CAFile != "" {
			pem, err := os.ReadFile(t.CAFile)
			if err != nil {
				return nil, fmt.Errorf("kafka-ca-file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("kafka-ca-file %s: no PEM certificate in it", t.CAFile)
			}
			tc.RootCAs = pool
		}
		if t.CertFile != "" {
			cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("kafka-cert-file/kafka-key-file: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		sec.tls = tc
	}
	switch s.Mechanism {
	case MechanismPlain:
		sec.mechanism = plain.Mechanism{Username: s.Username, Password: string(s.Password)}
	case MechanismScramSHA256, MechanismScramSHA512:
		algo := scram.SHA256
		if s.Mechanism == MechanismScramSHA512 {
			algo = scram.SHA512
		}
		m, err := scram.Mechanism(algo, s.Username, string(s.Password))
		if err != nil {
			return nil, fmt.Errorf("kafka-sasl: %s: %w", s.Mechanism, err)
		}
		sec.mechanism = m
	}
	return withTransport(sec), nil
}

// secure returns the shared security settings. Validate builds them; a Config that was never
// validated (tests build literals) gets them built here once per distinct setting, and a dial
// reports a failure.
func (c *Config) secure() *security {
	if c.sec != nil {
		return c.sec
	}
	s := c.SASL
	s.Mechanism = strings.ToUpper(strings.TrimSpace(s.Mechanism))
	if !c.TLS.tlsOn() && s.Mechanism == "" {
		return plaintext
	}
	key := securityKey{TLS: c.TLS, SASL: s}
	if sec, ok := unvalidated.Load(key); ok {
		return sec.(*security)
	}
	sec, err := buildSecurity(c.TLS, s)
	if err != nil {
		sec = withTransport(&security{err: err})
	}
	actual, _ := unvalidated.LoadOrStore(key, sec)
	return actual.(*security)
}

// Warnings lists the settings that work but should not be used in production; the services log
// them at start-up.
func (c *Config) Warnings() []string {
	var w []string
	if c.TLS.InsecureSkipVerify {
		w = append(w, "kafka-insecure-skip-verify: broker certificates are NOT verified; anyone on the path can read and change the traffic (development only)")
	}
	if c.SASL.Mechanism != "" && !c.TLS.tlsOn() {
		w = append(w, "kafka-sasl-mechanism "+c.SASL.Mechanism+" without kafka-tls: credentials and records cross the network unencrypted")
	}
	return w
}

// LogWarnings logs Warnings at warn level.
func (c *Config) LogWarnings(log *slog.Logger) {
	for _, w := range c.Warnings() {
		log.Warn(w)
	}
}

// dialTimeout bounds connecting, the TLS handshake included, so that an unreachable or silent
// broker fails a start-up attempt instead of hanging it.
const dialTimeout = 10 * time.Second

// dial opens a TCP connection and, with TLS on, completes the handshake here rather than leaving
// it to kafka-go, so that a certificate problem is reported with the broker address and a hint.
func (sec *security) dial() func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if sec.err != nil {
			return nil, &AuthError{Broker: addr, What: "settings", Err: sec.err}
		}
		d := net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil || sec.tls == nil {
			return conn, err
		}
		tc := sec.tls
		if tc.ServerName == "" {
			host, _, _ := net.SplitHostPort(addr)
			tc = tc.Clone()
			tc.ServerName = host
		}
		tconn := tls.Client(conn, tc)
		hctx, cancel := context.WithTimeout(ctx, dialTimeout)
		defer cancel()
		if err := tconn.HandshakeContext(hctx); err != nil {
			conn.Close()
			return nil, tlsFailure(addr, err)
		}
		return tconn, nil
	}
}

// newTransport returns a kafka-go transport that dials with sec (TLS) and authenticates with its
// SASL mechanism.
func (sec *security) newTransport() *kafka.Transport {
	return &kafka.Transport{Dial: sec.dial(), SASL: sec.mechanism, DialTimeout: dialTimeout}
}

// NewTransport returns a new kafka-go transport with the configured TLS and SASL, for callers
// that tune and close their own (NewServiceWriter). Set its other fields, never Dial or SASL.
func (c *Config) NewTransport() *kafka.Transport { return c.secure().newTransport() }

// dialer returns the kafka-go dialer readers use, with the configured TLS and SASL.
func (c *Config) dialer() *kafka.Dialer {
	sec := c.secure()
	return &kafka.Dialer{Timeout: dialTimeout, DualStack: true, DialFunc: sec.dial(), SASLMechanism: sec.mechanism}
}

// AuthError is a failure that retrying cannot fix: the broker's certificate is not trusted, the
// TLS handshake failed, the credentials were refused, or the settings cannot be used. Start-up
// waits stop at it (StopOnAuthError) and report it, instead of retrying until their timeout.
type AuthError struct {
	Broker string // host:port, or the bootstrap list when the failing broker is not known
	What   string // "TLS", "SASL <mechanism>", "settings"
	Err    error
}

// Error names the broker and what failed, with a hint at the usual mistake.
func (e *AuthError) Error() string {
	msg := fmt.Sprintf("kafka %s: %s: %v", e.Broker, e.What, e.Err)
	switch {
	case e.What == "TLS" && errors.As(e.Err, new(x509.UnknownAuthorityError)):
		msg += " (is --kafka-ca-file the CA that signed the broker certificate?)"
	case e.What == "TLS" && errors.As(e.Err, new(tls.RecordHeaderError)):
		msg += " (the broker does not speak TLS on this port: is it a PLAINTEXT or SASL_PLAINTEXT listener?)"
	case e.What == "TLS" && errors.As(e.Err, new(x509.HostnameError)):
		msg += " (set --kafka-server-name to a name in the broker certificate)"
	}
	return msg
}

// Unwrap returns the TLS, SASL or settings error, so errors.Is and errors.As see it.
func (e *AuthError) Unwrap() error { return e.Err }

// tlsFailure reports a failed handshake with addr. A certificate that does not verify, or an
// answer that is not TLS, is an AuthError; a connection closed or reset mid-handshake may be a
// broker that is restarting, so it stays retryable, with a hint for the likely mistake.
func tlsFailure(addr string, err error) error {
	var (
		verify *tls.CertificateVerificationError
		alert  tls.AlertError
		header tls.RecordHeaderError
	)
	if errors.As(err, &verify) || errors.As(err, &alert) || errors.As(err, &header) ||
		errors.As(err, new(x509.UnknownAuthorityError)) || errors.As(err, new(x509.HostnameError)) || errors.As(err, new(x509.CertificateInvalidError)) {
		return &AuthError{Broker: addr, What: "TLS", Err: err}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
		return fmt.Errorf("kafka %s: TLS handshake: %w (the broker closed the connection: is this a PLAINTEXT or SASL_PLAINTEXT listener?)", addr, err)
	}
	return fmt.Errorf("kafka %s: TLS handshake: %w", addr, err)
}

// IsAuthError reports whether err is a TLS or SASL failure that retrying will not fix.
func IsAuthError(err error) bool {
	var a *AuthError
	return errors.As(err, &a)
}

// StopOnAuthError marks an AuthError as permanent for retry.Do, and returns other errors as they
// are: start-up waits retry while the broker is starting, but not a refused password.
func StopOnAuthError(err error) error {
	if IsAuthError(err) {
		return retry.Permanent(err)
	}
	return err
}

// diagnose explains a failed request whose error hides the cause: kafka-go answers CreateTopics
// with "Broker Not Available" when it could not connect at all, so ask for metadata, which
// reports the connection's own error, and return it if it is an AuthError.
func (c *Config) diagnose(ctx context.Context, cl *kafka.Client) error {
	_, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{}})
	if err := c.classify(err); IsAuthError(err) {
		return err
	}
	return nil
}

// classify turns kafka-go's bare SASL failures into an AuthError naming the brokers and the
// mechanism. kafka-go does not say which broker refused, so the bootstrap list is named.
func (c *Config) classify(err error) error {
	var a *AuthError
	if err == nil {
		return nil
	}
	if errors.As(err, &a) {
		return a // without kafka-go's "kafka.(*Client).Metadata:" prefix: the AuthError says it all
	}
	var kerr kafka.Error
	if errors.As(err, &kerr) {
		switch kerr {
		case kafka.SASLAuthenticationFailed, kafka.UnsupportedSASLMechanism, kafka.IllegalSASLState:
			mech := c.SASL.Mechanism
			if mech == "" {
				mech = "(none configured)"
			}
			return &AuthError{Broker: strings.Join(c.Brokers, ","), What: "SASL " + mech + " authentication failed", Err: err}
		case kafka.TopicAuthorizationFailed, kafka.GroupAuthorizationFailed, kafka.ClusterAuthorizationFailed:
			return &AuthError{Broker: strings.Join(c.Brokers, ","), What: "not authorised (check the ACLs of " + c.SASL.Username + ")", Err: err}
		}
	}
	return err
}
