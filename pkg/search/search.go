// Package search connects newsflow to its search engine, Elasticsearch 8 or OpenSearch 2, through
// go-elasticsearch's transport. It deliberately skips elasticsearch.Client's product check (which
// refuses OpenSearch): esapi requests and esutil.BulkIndexer take any esapi.Transport, and the
// REST API newsflow uses is the same on both engines.
package search

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/elastic/elastic-transport-go/v8/elastictransport"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/newsflow/newsflow/pkg/config"
)

// Config is the search-engine part of a service's configuration.
type Config struct {
	URLs     []string
	Username string
	Password config.Secret
	APIKey   config.Secret
	// CAFile is a PEM file of the CA(s) that signed the node's certificate: what a default
	// Elasticsearch 8 install writes to config/certs/http_ca.crt.
	CAFile string
	// CAFingerprint is the SHA-256 fingerprint (hex, colons allowed) of a certificate in the
	// node's chain, as Elasticsearch 8 prints it on first start; the node is trusted if its chain
	// holds that certificate and verifies up to it.
	CAFingerprint string
	// CertFile and KeyFile are an optional client certificate (PKI realm, mutual TLS).
	CertFile, KeyFile string
	// InsecureSkipVerify accepts any certificate: for development only, and logged as a warning.
	InsecureSkipVerify bool
}

// RegisterFlags binds the settings to flags and NEWSFLOW_SEARCH_* variables; the defaults reach
// deploy/local's OpenSearch.
func (c *Config) RegisterFlags(s *config.Set) {
	s.Strings(&c.URLs, "search-url", "NEWSFLOW_SEARCH_URL", "http://127.0.0.1:9200", "search engine URL(s), Elasticsearch 8 or OpenSearch 2")
	s.String(&c.Username, "search-username", "NEWSFLOW_SEARCH_USERNAME", "", "basic-auth user for the search engine")
	s.Secret(&c.Password, "search-password", "NEWSFLOW_SEARCH_PASSWORD", "basic-auth password for the search engine")
	s.Secret(&c.APIKey, "search-api-key", "NEWSFLOW_SEARCH_API_KEY", "API key for the search engine (Elasticsearch; the encoded form, base64 of id:key)")
	s.String(&c.CAFile, "search-ca-file", "NEWSFLOW_SEARCH_CA_FILE", "", "PEM file of the CA that signed the search node's certificate (Elasticsearch 8: config/certs/http_ca.crt)")
	s.String(&c.CAFingerprint, "search-ca-fingerprint", "NEWSFLOW_SEARCH_CA_FINGERPRINT", "", "SHA-256 fingerprint (hex) of the CA certificate Elasticsearch 8 printed on first start; an alternative to --search-ca-file")
	s.String(&c.CertFile, "search-cert-file", "NEWSFLOW_SEARCH_CERT_FILE", "", "PEM client certificate for the search engine (with --search-key-file)")
	s.String(&c.KeyFile, "search-key-file", "NEWSFLOW_SEARCH_KEY_FILE", "", "PEM private key of --search-cert-file")
	s.Bool(&c.InsecureSkipVerify, "search-insecure-skip-verify", "NEWSFLOW_SEARCH_INSECURE_SKIP_VERIFY", false, "accept any TLS certificate from the search engine (development only; logged as a warning)")
}

// Validate reports the first setting that cannot work.
func (c *Config) Validate() error {
	if len(c.URLs) == 0 {
		return errors.New("search-url: at least one URL is needed")
	}
	tlsSet := c.CAFile != "" || c.CAFingerprint != "" || c.CertFile != ""
	for _, u := range c.URLs {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return fmt.Errorf("search-url: %q is not an http(s) URL", config.RedactURL(u))
		}
		if tlsSet && p.Scheme == "http" {
			return fmt.Errorf("search-url: %q is plain http, but TLS settings (CA file, fingerprint or client certificate) are given; use https://", config.RedactURL(u))
		}
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return errors.New("search-cert-file and search-key-file: give both or neither")
	}
	if c.CAFingerprint != "" {
		if _, err := parseFingerprint(c.CAFingerprint); err != nil {
			return fmt.Errorf("search-ca-fingerprint: %w", err)
		}
	}
	if c.APIKey != "" && (c.Username != "" || c.Password != "") {
		return errors.New("search-api-key and search-username/-password: give one way to authenticate, not both")
	}
	if _, err := c.TLSConfig(); err != nil {
		return err
	}
	return nil
}

// Warnings lists settings that work but weaken security; services log them at start-up.
func (c *Config) Warnings() []string {
	var w []string
	if c.InsecureSkipVerify {
		w = append(w, "search-insecure-skip-verify is on: the search engine's certificate is not checked, so anyone on the path can read and change what is indexed; use --search-ca-file or --search-ca-fingerprint outside development")
	}
	return w
}

// Engine names what answered GET /.
type Engine struct {
	Distribution string // "elasticsearch" or "opensearch"
	Version      string
	ClusterName  string
}

func (e Engine) String() string { return e.Distribution + " " + e.Version }

// Client is a transport to the search engine; pass it to esapi requests as their Transport.
type Client struct {
	esapi.Transport
	urls []string // as configured, for error messages (redacted when printed)
	// noRoot is set once GET / answered 405 or 404: Elasticsearch builds without the rest-root
	// module (the integ-test distribution) serve no root endpoint, so Info asks _nodes instead.
	noRoot atomic.Bool
}

// New builds a client. The transport's own retries are off: callers decide what is retryable
// (the index stage retries 429 and 5xx per bulk item with its own backoff).
func New(c Config) (*Client, error) {
	var urls []*url.URL
	for _, s := range c.URLs {
		u, err := url.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("search URL %q: %w", config.RedactURL(s), config.RedactError(err))
		}
		urls = append(urls, u)
	}
	tc, err := c.TLSConfig()
	if err != nil {
		return nil, err
	}
	tp, err := elastictransport.New(elastictransport.Config{
		URLs:         urls,
		Username:     c.Username,
		Password:     string(c.Password),
		APIKey:       string(c.APIKey),
		DisableRetry: true,
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			TLSClientConfig:       tc,
			TLSHandshakeTimeout:   10 * time.Second,
			MaxIdleConnsPerHost:   16,
			IdleConnTimeout:       90 * time.Second,
			ResponseHeaderTimeout: 60 * time.Second,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("search transport: %w", err)
	}
	return &Client{Transport: tp, urls: c.URLs}, nil
}

// Info asks the engine what it is. It works on Elasticsearch 8 and OpenSearch 2 alike, and on
// Elasticsearch builds without a root endpoint (GET / answers 405 there), where it reads the
// local node's _nodes entry and the X-Elastic-Product header instead.
func (c *Client) Info(ctx context.Context) (Engine, error) {
	if !c.noRoot.Load() {
		e, status, err := c.rootInfo(ctx)
		if err == nil {
			return e, nil
		}
		if status != http.StatusMethodNotAllowed && status != http.StatusNotFound {
			return Engine{}, err
		}
		c.noRoot.Store(true)
	}
	return c.nodesInfo(ctx)
}

func (c *Client) rootInfo(ctx context.Context) (Engine, int, error) {
	res, err := esapi.InfoRequest{}.Do(ctx, c)
	if err != nil {
		return Engine{}, 0, fmt.Errorf("search engine: %w", err)
	}
	defer res.Body.Close()
	if res.IsError() {
		return Engine{}, res.StatusCode, &HTTPError{Method: http.MethodGet, Path: "/", Status: res.StatusCode, Body: readReason(res.Body)}
	}
	var body struct {
		ClusterName string `json:"cluster_name"`
		Version     struct {
			Number       string `json:"number"`
			Distribution string `json:"distribution"`
		} `json:"version"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		return Engine{}, res.StatusCode, fmt.Errorf("search engine: decoding GET /: %w", err)
	}
	e := Engine{Distribution: "elasticsearch", Version: body.Version.Number, ClusterName: body.ClusterName}
	if body.Version.Distribution != "" {
		e.Distribution = body.Version.Distribution
	}
	return e, res.StatusCode, nil
}

func (c *Client) nodesInfo(ctx context.Context) (Engine, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "/_nodes/_local?filter_path=cluster_name,nodes.*.version", nil)
	if err != nil {
		return Engine{}, err
	}
	res, err := c.Perform(req)
	if err != nil {
		return Engine{}, fmt.Errorf("search engine: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode >= 300 {
		return Engine{}, &HTTPError{Method: http.MethodGet, Path: "/_nodes/_local", Status: res.StatusCode, Body: readReason(res.Body)}
	}
	var body struct {
		ClusterName string `json:"cluster_name"`
		Nodes       map[string]struct {
			Version string `json:"version"`
		} `json:"nodes"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		return Engine{}, fmt.Errorf("search engine: decoding GET /_nodes/_local: %w", err)
	}
	e := Engine{Distribution: "elasticsearch", ClusterName: body.ClusterName}
	if p := res.Header.Get("X-Elastic-Product"); p == "" {
		e.Distribution = "unknown"
	}
	for _, n := range body.Nodes {
		e.Version = n.Version
	}
	return e, nil
}

func readReason(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, 4000))
	return Truncate(string(b), 2000)
}

// Ping checks the engine answers; it backs /readyz.
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.Info(ctx)
	return err
}

// Do sends method path with an optional JSON body and decodes a JSON answer into out (if not
// nil). A status >= 300 is an *HTTPError carrying the status and the engine's reason.
func (c *Client) Do(ctx context.Context, method, path string, body any, out any) error {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = strings.NewReader(string(b))
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			return fmt.Errorf("encoding %s %s: %w", method, path, err)
		}
		rd = strings.NewReader(string(buf))
	}
	req, err := http.NewRequestWithContext(ctx, method, path, rd)
	if err != nil {
		return err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.Perform(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return fmt.Errorf("%s %s: reading answer: %w", method, path, err)
	}
	if res.StatusCode >= 300 {
		return &HTTPError{Method: method, Path: path, Status: res.StatusCode, Body: Truncate(string(data), 2000)}
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decoding answer: %w", method, path, err)
		}
	}
	return nil
}

// HTTPError is an answer with a status >= 300.
type HTTPError struct {
	Method, Path string
	Status       int
	Body         string
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("%s %s: %d %s: %s", e.Method, e.Path, e.Status, http.StatusText(e.Status), e.Body)
}

// StatusOf returns the HTTP status carried by err, or 0.
func StatusOf(err error) int {
	var he *HTTPError
	if errors.As(err, &he) {
		return he.Status
	}
	return 0
}

// Truncate shortens an engine's answer to at most n bytes (plus "…") for an error, a log line or
// a dead-letter header, without cutting a UTF-8 character in two.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
