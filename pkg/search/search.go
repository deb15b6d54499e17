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
	"time"

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
}

// RegisterFlags binds the settings to flags and NEWSFLOW_SEARCH_* variables; the defaults reach
// deploy/local's OpenSearch.
func (c *Config) RegisterFlags(s *config.Set) {
	s.Strings(&c.URLs, "search-url", "NEWSFLOW_SEARCH_URL", "http://127.0.0.1:9200", "search engine URL(s), Elasticsearch 8 or OpenSearch 2")
	s.String(&c.Username, "search-username", "NEWSFLOW_SEARCH_USERNAME", "", "basic-auth user for the search engine")
	s.Secret(&c.Password, "search-password", "NEWSFLOW_SEARCH_PASSWORD", "basic-auth password for the search engine")
	s.Secret(&c.APIKey, "search-api-key", "NEWSFLOW_SEARCH_API_KEY", "API key for the search engine (Elasticsearch)")
}

// Validate reports the first setting that cannot work.
func (c *Config) Validate() error {
	if len(c.URLs) == 0 {
		return errors.New("search-url: at least one URL is needed")
	}
	for _, u := range c.URLs {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return fmt.Errorf("search-url: %q is not an http(s) URL", u)
		}
	}
	return nil
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
}

// New builds a client. The transport's own retries are off: callers decide what is retryable
// (the index stage retries 429 and 5xx per bulk item with its own backoff).
func New(c Config) (*Client, error) {
	var urls []*url.URL
	for _, s := range c.URLs {
		u, err := url.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("search URL %q: %w", s, err)
		}
		urls = append(urls, u)
	}
	tp, err := elastictransport.New(elastictransport.Config{
		URLs:         urls,
		Username:     c.Username,
		Password:     string(c.Password),
		APIKey:       string(c.APIKey),
		DisableRetry: true,
		Transport: &http.Transport{
			MaxIdleConnsPerHost:   16,
			IdleConnTimeout:       90 * time.Second,
			ResponseHeaderTimeout: 60 * time.Second,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("search transport: %w", err)
	}
	return &Client{Transport: tp}, nil
}

// Info asks the engine what it is. It works on Elasticsearch 8 and OpenSearch 2 alike.
func (c *Client) Info(ctx context.Context) (Engine, error) {
	res, err := esapi.InfoRequest{}.Do(ctx, c)
	if err != nil {
		return Engine{}, fmt.Errorf("search engine: %w", err)
	}
	defer res.Body.Close()
	if res.IsError() {
		return Engine{}, fmt.Errorf("search engine: GET / answered %s", res.Status())
	}
	var body struct {
		ClusterName string `json:"cluster_name"`
		Version     struct {
			Number       string `json:"number"`
			Distribution string `json:"distribution"`
		} `json:"version"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		return Engine{}, fmt.Errorf("search engine: decoding GET /: %w", err)
	}
	e := Engine{Distribution: "elasticsearch", Version: body.Version.Number, ClusterName: body.ClusterName}
	if body.Version.Distribution != "" {
		e.Distribution = body.Version.Distribution
	}
	return e, nil
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
		return &HTTPError{Method: method, Path: path, Status: res.StatusCode, Body: truncate(string(data), 2000)}
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

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
