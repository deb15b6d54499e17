package app

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/newsflow/newsflow/pkg/config"
	"github.com/newsflow/newsflow/pkg/kafkax"
	"github.com/newsflow/newsflow/pkg/service"
	"github.com/newsflow/newsflow/services/ingest/internal/feeds"
	"github.com/newsflow/newsflow/services/ingest/internal/httpapi"
	"github.com/newsflow/newsflow/services/ingest/internal/normalize"
)

// Limits are the size limits shared by `serve` and `import`.
type Limits struct {
	MaxRequestBytes int64
	MaxBodyBytes    int
	MaxItems        int
	// MinPublishedAt is the earliest publication date taken, a date or RFC 3339 time; older
	// items are rejected one by one (date_out_of_range), as are items more than two days ahead.
	MinPublishedAt string
	minPublished   time.Time // MinPublishedAt as validate parsed it
}

func (l *Limits) registerFlags(s *config.Set) {
	s.Int64(&l.MaxRequestBytes, "max-request-bytes", "NEWSFLOW_INGEST_MAX_REQUEST_BYTES", 8<<20, "largest request body (and largest .txt/.json file or .jsonl line import reads), in bytes; larger gets 413")
	s.Int(&l.MaxBodyBytes, "max-body-bytes", "NEWSFLOW_INGEST_MAX_BODY_BYTES", normalize.DefaultLimits.MaxBodyBytes, "largest article body in bytes (after HTML is converted to text); larger is rejected")
	s.Int(&l.MaxItems, "max-items", "NEWSFLOW_INGEST_MAX_ITEMS", 10000, "most articles in one request; more gets 413")
	s.String(&l.MinPublishedAt, "min-published-at", "NEWSFLOW_INGEST_MIN_PUBLISHED_AT", normalize.DefaultMinPublishedAt.Format(time.DateOnly),
		"earliest published_at taken (date or RFC 3339); older items, and items more than 2 days after the ingest time, are rejected one by one, which bounds the indices input can create")
}

func (l *Limits) validate() error {
	var p config.Problems
	t, err := time.Parse(time.DateOnly, l.MinPublishedAt)
	if err != nil {
		t, err = time.Parse(time.RFC3339, l.MinPublishedAt)
	}
	p.Check(err != nil, "min-published-at: %q is neither a date (1900-01-01) nor an RFC 3339 time", l.MinPublishedAt)
	l.minPublished = t.UTC()
	p.Check(l.MaxRequestBytes < 1024, "max-request-bytes: %d, want >= 1024", l.MaxRequestBytes)
	p.Check(l.MaxBodyBytes < 1 || l.MaxBodyBytes > kafkax.MaxArticleBodyBytes,
		"max-body-bytes: %d, want 1..%d (one Kafka record must stay under 1 MB)", l.MaxBodyBytes, kafkax.MaxArticleBodyBytes)
	p.Check(l.MaxItems < 1, "max-items: %d, want >= 1", l.MaxItems)
	return p.Err()
}

func (l Limits) article() normalize.Limits {
	return normalize.Limits{MaxTitleBytes: normalize.DefaultLimits.MaxTitleBytes, MaxBodyBytes: l.MaxBodyBytes, MinPublishedAt: l.minPublished}
}

// HTTPLimits bound what clients of the HTTP API can hold: a connection's time (timeouts),
// ingest's attention (requests in flight) and its memory (bytes buffered across requests).
type HTTPLimits struct {
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	MaxInFlight       int
	MaxBufferedBytes  int64
}

func (l *HTTPLimits) registerFlags(s *config.Set) {
	s.Duration(&l.ReadHeaderTimeout, "read-header-timeout", "NEWSFLOW_INGEST_READ_HEADER_TIMEOUT", 10*time.Second, "longest time to read a request's headers")
	s.Duration(&l.ReadTimeout, "read-timeout", "NEWSFLOW_INGEST_READ_TIMEOUT", 2*time.Minute, "longest time to read a whole request, body included (2m lets an 8 MiB body arrive at 70 kB/s)")
	s.Duration(&l.WriteTimeout, "write-timeout", "NEWSFLOW_INGEST_WRITE_TIMEOUT", 30*time.Second, "longest time to write an answer once it is ready; a client that does not read it is cut off")
	s.Duration(&l.IdleTimeout, "idle-timeout", "NEWSFLOW_INGEST_IDLE_TIMEOUT", 2*time.Minute, "how long an idle keep-alive connection stays open")
	s.Int(&l.MaxInFlight, "max-in-flight", "NEWSFLOW_INGEST_MAX_IN_FLIGHT", 64, "most POST /v1/articles requests handled at once; more are answered 429 with Retry-After")
	s.Int64(&l.MaxBufferedBytes, "max-buffered-bytes", "NEWSFLOW_INGEST_MAX_BUFFERED_BYTES", 64<<20,
		fmt.Sprintf("bytes all requests together may hold (bodies as read, then %d× a body plus %d bytes an item while it is decoded, published and answered); a request that finds none free for 1s gets 429 with Retry-After; unless GOMEMLIMIT is set, Go's soft memory limit is twice this plus 64 MiB", httpapi.DecodeFactor, httpapi.ItemBytes))
}

func (l *HTTPLimits) validate(maxRequestBytes int64, maxItems int) error {
	var errs []error
	if l.ReadHeaderTimeout <= 0 || l.ReadTimeout <= 0 || l.WriteTimeout <= 0 || l.IdleTimeout <= 0 {
		errs = append(errs, errors.New("read-header-timeout, read-timeout, write-timeout, idle-timeout: want > 0"))
	}
	if l.MaxInFlight < 1 {
		errs = append(errs, fmt.Errorf("max-in-flight: %d, want >= 1", l.MaxInFlight))
	}
	if m := httpapi.MinBufferedBytes(maxRequestBytes, maxItems); l.MaxBufferedBytes < m {
		errs = append(errs, fmt.Errorf("max-buffered-bytes: %d, want >= %d (%d× max-request-bytes + %d bytes × max-items, so that the largest request fits)",
			l.MaxBufferedBytes, m, httpapi.DecodeFactor, httpapi.ItemBytes))
	}
	return errors.Join(errs...)
}

// ServeConfig is everything `ingest serve` reads from flags and NEWSFLOW_* variables.
type ServeConfig struct {
	service.Common
	Kafka kafkax.Config
	Topic string
	Addr  string
	// Tokens and the lines of TokenFile are the bearer tokens POST /v1/articles accepts; more
	// than one so that they can be rotated without downtime.
	Tokens    []config.Secret
	TokenFile string
	// InsecureAllowAnonymous lets the API take unauthenticated requests on a non-loopback
	// address (a laptop's compose stack); without it such a configuration does not start.
	InsecureAllowAnonymous bool
	Limits                 Limits
	// RetryAfter is what 503 and 429 answers tell clients to wait.
	RetryAfter time.Duration
	// HTTP bounds what slow and greedy clients can hold.
	HTTP HTTPLimits
	// StartupTimeout bounds waiting for Kafka (topic creation) at start-up; 0, the default,
	// waits until the process is stopped, as enrich and index do: alive and not ready, so a
	// slow Kafka delays a pod instead of crash-looping it.
	StartupTimeout time.Duration

	Feeds          []string
	FeedInterval   time.Duration
	FeedTimeout    time.Duration
	FeedFetchPages bool
	// FeedMaxItems bounds the new items taken from one feed per poll.
	FeedMaxItems int
	// FeedAllowHosts and FeedAllowCIDRs are what feed and page fetches may reach although it is
	// internal (loopback, private, link-local, metadata): see feeds.Guard. A configured feed's
	// own host is always allowed for the feed itself, never for the pages its items link to.
	FeedAllowHosts []string
	FeedAllowCIDRs []string
	feedAllowCIDRs []netip.Prefix // FeedAllowCIDRs as Validate parsed them
	DataDir        string
	// FeedGroup is the Kafka consumer group on Topic whose partitions are the replicas' leases
	// on the feeds (feeds.Lease), so that each feed has one poller however many replicas run
	// the same --feeds. Empty: no coordination, every process polls every feed.
	FeedGroup string
	// FeedGroupSessionTimeout is how long a replica that vanished without leaving the group
	// keeps its feeds before another replica takes them.
	FeedGroupSessionTimeout time.Duration

	// auth checks Tokens plus TokenFile's, as Validate read them; nil: no authentication. It
	// holds digests only, so that no way of printing the struct shows a token (fmt prints
	// unexported fields without calling config.Secret's String).
	auth *httpapi.Auth
}

func (c *ServeConfig) registerFlags(s *config.Set) {
	c.Common.RegisterFlags(s, "127.0.0.1:9101")
	c.Kafka.RegisterFlags(s)
	s.String(&c.Topic, "topic", "NEWSFLOW_INGEST_TOPIC", kafkax.TopicRaw, "Kafka topic articles are written to (created at start-up)")
	s.String(&c.Addr, "addr", "NEWSFLOW_INGEST_ADDR", "127.0.0.1:8080", "address of the HTTP API")
	s.Secrets(&c.Tokens, "token", "NEWSFLOW_INGEST_TOKEN", "bearer token(s) POST /v1/articles accepts; several for rotation (none: no authentication, allowed only on a loopback --addr)")
	s.String(&c.TokenFile, "token-file", "NEWSFLOW_INGEST_TOKEN_FILE", "", "file of bearer tokens, one a line (blank lines and # comments ignored), read at start-up; adds to --token (e.g. a mounted Kubernetes Secret)")
	s.Bool(&c.InsecureAllowAnonymous, "insecure-allow-anonymous", "NEWSFLOW_INGEST_INSECURE_ALLOW_ANONYMOUS", false, "accept requests without a token on a non-loopback --addr (development only; logs a warning and /readyz says so)")
	c.Limits.registerFlags(s)
	s.Duration(&c.RetryAfter, "retry-after", "NEWSFLOW_INGEST_RETRY_AFTER", 5*time.Second, "Retry-After of 503 answers (Kafka unavailable) and 429 answers (ingest at capacity)")
	c.HTTP.registerFlags(s)
	s.Duration(&c.StartupTimeout, "startup-timeout", "NEWSFLOW_INGEST_STARTUP_TIMEOUT", 0, "how long to wait for Kafka at start-up before exiting (0: until stopped; /readyz says what it waits for)")
	s.Strings(&c.Feeds, "feeds", "NEWSFLOW_INGEST_FEEDS", "", "RSS/Atom feed URLs to poll, each optionally prefixed with a source name: bbc=https://…")
	s.Duration(&c.FeedInterval, "feed-interval", "NEWSFLOW_INGEST_FEED_INTERVAL", 5*time.Minute, "how often each feed is polled")
	s.Duration(&c.FeedTimeout, "feed-timeout", "NEWSFLOW_INGEST_FEED_TIMEOUT", 30*time.Second, "deadline of one feed or page fetch")
	s.Bool(&c.FeedFetchPages, "feed-fetch-pages", "NEWSFLOW_INGEST_FEED_FETCH_PAGES", false, "fetch each new item's linked page and extract the article text (readability)")
	s.Int(&c.FeedMaxItems, "feed-max-items", "NEWSFLOW_INGEST_FEED_MAX_ITEMS", 200, "most new items taken from one feed per poll, newest first; the rest follow at the next polls")
	s.Strings(&c.FeedAllowHosts, "feed-allow-hosts", "NEWSFLOW_INGEST_FEED_ALLOW_HOSTS", "", "hosts (name or host:port) feed and page fetches may reach although they resolve to internal addresses (loopback, private, link-local, cloud metadata), which are refused otherwise; a feed's own host is allowed for the feed itself")
	s.Strings(&c.FeedAllowCIDRs, "feed-allow-cidrs", "NEWSFLOW_INGEST_FEED_ALLOW_CIDRS", "", "address ranges (CIDR or IP) feed and page fetches may reach although they are internal")
	s.String(&c.DataDir, "data-dir", "NEWSFLOW_INGEST_DATA_DIR", ".local/ingest", "where feed state (seen items, ETags) is kept across restarts")
	s.String(&c.FeedGroup, "feed-group", "NEWSFLOW_INGEST_FEED_GROUP", "newsflow-ingest-feeds", "Kafka consumer group (on --topic; no message is read) through which replicas with the same --feeds share them, each feed polled by one replica at a time; empty: no coordination, every process polls every feed")
	s.Duration(&c.FeedGroupSessionTimeout, "feed-group-session-timeout", "NEWSFLOW_INGEST_FEED_GROUP_SESSION_TIMEOUT", 10*time.Second, "how long a replica that stopped without leaving --feed-group keeps its feeds before another takes them (the broker allows 6s to 5m by default)")
}

// Validate reports every setting that cannot work, at start-up rather than at the first request.
func (c *ServeConfig) Validate() error {
	var errs []error
	if err := c.Kafka.Validate(); err != nil {
		errs = append(errs, err)
	}
	if strings.TrimSpace(c.Topic) == "" {
		errs = append(errs, errors.New("topic: empty"))
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("addr: %q is not host:port", c.Addr))
	}
	tokens, err := c.readTokens()
	c.auth = httpapi.NewAuth(tokens)
	if err != nil {
		errs = append(errs, err)
	} else if err := c.checkAnonymous(); err != nil {
		errs = append(errs, err)
	}
	if _, _, err := net.SplitHostPort(c.AdminAddr); err != nil {
		errs = append(errs, fmt.Errorf("admin-addr: %q is not host:port", c.AdminAddr))
	}
	if err := c.Limits.validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.HTTP.validate(c.Limits.MaxRequestBytes, c.Limits.MaxItems); err != nil {
		errs = append(errs, err)
	}
	if c.RetryAfter < time.Second {
		errs = append(errs, fmt.Errorf("retry-after: %v, want >= 1s", c.RetryAfter))
	}
	if c.ShutdownTimeout <= 0 || c.StartupTimeout < 0 {
		errs = append(errs, errors.New("shutdown-timeout: want > 0; startup-timeout: want >= 0 (0: until stopped)"))
	}
	if len(c.Feeds) > 0 {
		if c.FeedInterval < time.Second {
			errs = append(errs, fmt.Errorf("feed-interval: %v, want >= 1s", c.FeedInterval))
		}
		if c.FeedTimeout <= 0 {
			errs = append(errs, fmt.Errorf("feed-timeout: %v, want > 0", c.FeedTimeout))
		}
		if c.DataDir == "" {
			errs = append(errs, errors.New("data-dir: needed to remember which feed items were published"))
		}
		if c.FeedGroup != "" && c.FeedGroupSessionTimeout < time.Second {
			errs = append(errs, fmt.Errorf("feed-group-session-timeout: %v, want >= 1s", c.FeedGroupSessionTimeout))
		}
		if c.FeedMaxItems < 1 {
			errs = append(errs, fmt.Errorf("feed-max-items: %d, want >= 1", c.FeedMaxItems))
		}
		if cidrs, err := feeds.ParseCIDRs(c.FeedAllowCIDRs); err != nil {
			errs = append(errs, fmt.Errorf("feed-allow-cidrs: %w", err))
		} else {
			c.feedAllowCIDRs = cidrs
		}
		for _, f := range c.Feeds {
			if _, err := parseFeed(f); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// readTokens returns --token's tokens followed by --token-file's, refusing empty ones ("a,,b",
// a trailing comma) and ones no client could send (blanks, control characters), so a typo
// cannot silently leave fewer tokens than meant or a token nobody can present.
func (c *ServeConfig) readTokens() ([]config.Secret, error) {
	var errs []error
	tokens := append([]config.Secret(nil), c.Tokens...)
	for i, t := range c.Tokens {
		if err := checkToken(t); err != nil {
			errs = append(errs, fmt.Errorf("token: item %d of %d %v", i+1, len(c.Tokens), err))
		}
	}
	if c.TokenFile != "" {
		fromFile, err := readTokenFile(c.TokenFile)
		if err != nil {
			errs = append(errs, err)
		}
		tokens = append(tokens, fromFile...)
	}
	return tokens, errors.Join(errs...)
}

// readTokenFile reads one token a line; blank lines and lines starting with # are skipped. A
// file without any token is an error: it is a mounted Secret gone wrong, not a wish for no
// authentication.
func readTokenFile(path string) ([]config.Secret, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("token-file: %w", err)
	}
	var tokens []config.Secret
	var errs []error
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := checkToken(config.Secret(line)); err != nil {
			errs = append(errs, fmt.Errorf("token-file: %s line %d %v", path, i+1, err))
			continue
		}
		tokens = append(tokens, config.Secret(line))
	}
	if len(tokens) == 0 && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("token-file: %s holds no token (one a line; blank lines and # comments are ignored)", path))
	}
	return tokens, errors.Join(errs...)
}

// checkToken refuses a token that is empty or that no client could send in an Authorization
// header as one bearer token (blanks, control characters). The error never quotes the token.
func checkToken(t config.Secret) error {
	if t == "" {
		return errors.New("is empty (a stray or trailing comma?)")
	}
	for _, r := range string(t) {
		if r <= ' ' || r == 0x7f {
			return errors.New("holds a blank or control character")
		}
	}
	return nil
}

// checkAnonymous refuses an API reachable beyond this machine that takes anyone's articles.
func (c *ServeConfig) checkAnonymous() error {
	if c.auth != nil || c.InsecureAllowAnonymous || IsLoopback(c.Addr) {
		return nil
	}
	return fmt.Errorf("addr: %s is reachable from other machines and no token is configured, so anyone who can reach it "+
		"could write articles; set --token / NEWSFLOW_INGEST_TOKEN or --token-file / NEWSFLOW_INGEST_TOKEN_FILE, "+
		"listen on loopback only (--addr 127.0.0.1:8080), or, for development only, pass --insecure-allow-anonymous "+
		"(NEWSFLOW_INGEST_INSECURE_ALLOW_ANONYMOUS=true)", c.Addr)
}

// Anonymous reports whether the API takes requests without a token from beyond loopback
// (allowed by --insecure-allow-anonymous only).
func (c *ServeConfig) Anonymous() bool { return c.auth == nil && !IsLoopback(c.Addr) }

// IsLoopback reports whether a listen address host:port can be reached only from this machine:
// a loopback IP (127.0.0.0/8, ::1) or "localhost". An empty host (":8080"), 0.0.0.0, ::, any
// other IP and any other host name count as reachable from elsewhere; names are not resolved,
// because what a name resolves to can change after the check.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// feedSpec is one --feeds entry.
type feedSpec struct{ Source, URL string }

// parseFeed reads "name=https://…" or a bare URL (the source is then the host name).
func parseFeed(s string) (feedSpec, error) {
	var f feedSpec
	if name, rest, ok := strings.Cut(s, "="); ok && !strings.Contains(name, "/") && !strings.Contains(name, ":") {
		f.Source, s = strings.TrimSpace(name), strings.TrimSpace(rest)
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return f, fmt.Errorf("feeds: %q is not an http(s) URL", config.RedactURL(s))
	}
	f.URL = s
	if f.Source == "" {
		f.Source = strings.TrimPrefix(u.Hostname(), "www.")
	}
	return f, nil
}

// ImportConfig is everything `ingest import` reads from flags and NEWSFLOW_* variables.
type ImportConfig struct {
	Kafka       kafkax.Config
	Topic       string
	Limits      Limits
	Source      string
	PublishedAt string
	Language    string
	BatchSize   int
	DryRun      bool
	Progress    string
}

func (c *ImportConfig) registerFlags(s *config.Set) {
	c.Kafka.RegisterFlags(s)
	s.String(&c.Topic, "topic", "NEWSFLOW_INGEST_TOPIC", kafkax.TopicRaw, "Kafka topic articles are written to (created if missing)")
	c.Limits.registerFlags(s)
	s.String(&c.Source, "source", "", "", "source of .txt articles (JSON articles carry their own)")
	s.String(&c.PublishedAt, "published-at", "", "", "publication date of .txt articles, RFC 3339 (missing: the ingest time)")
	s.String(&c.Language, "language", "", "", "language of .txt articles (missing: detected)")
	s.Int(&c.BatchSize, "batch", "NEWSFLOW_INGEST_IMPORT_BATCH", 500, "articles per acknowledged Kafka write")
	s.Bool(&c.DryRun, "dry-run", "", false, "validate and report without writing to Kafka")
	s.String(&c.Progress, "progress", "", "auto", "progress line on stderr: auto (on a terminal), always, never")
}

// Validate reports every setting that cannot work.
func (c *ImportConfig) Validate() error {
	var errs []error
	if !c.DryRun {
		if err := c.Kafka.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if strings.TrimSpace(c.Topic) == "" {
		errs = append(errs, errors.New("topic: empty"))
	}
	if err := c.Limits.validate(); err != nil {
		errs = append(errs, err)
	}
	if c.BatchSize < 1 {
		errs = append(errs, fmt.Errorf("batch: %d, want >= 1", c.BatchSize))
	}
	if c.PublishedAt != "" {
		if t, err := normalize.ParseTime(c.PublishedAt); err != nil {
			errs = append(errs, fmt.Errorf("published-at: %w", err))
		} else if ferr := c.Limits.article().CheckPublished(t, time.Now()); ferr != nil {
			errs = append(errs, fmt.Errorf("published-at: %s", ferr.Reason))
		}
	}
	switch c.Progress {
	case "auto", "always", "never":
	default:
		errs = append(errs, fmt.Errorf("progress: %q, want auto, always or never", c.Progress))
	}
	return errors.Join(errs...)
}
