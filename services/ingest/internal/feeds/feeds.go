// Package feeds polls RSS 2.0 and Atom feeds for analysts who follow sources that publish no
// API: a conditional GET on an interval (ETag / Last-Modified, so an unchanged feed costs one
// 304), only items not seen before are published, and the seen set survives restarts (Store),
// so a restart does not flood articles.raw with the whole feed again.
package feeds

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	readability "codeberg.org/readeck/go-readability/v2"
	"github.com/mmcdole/gofeed"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/newsflow/newsflow/pkg/config"
	"github.com/newsflow/newsflow/pkg/tracing"
	"github.com/newsflow/newsflow/services/ingest/internal/decode"
	"github.com/newsflow/newsflow/services/ingest/internal/intake"
	"github.com/newsflow/newsflow/services/ingest/internal/normalize"
	"github.com/newsflow/newsflow/services/ingest/internal/publish"
)

// Feed is one polled URL and the source name its articles carry.
type Feed struct {
	URL    string
	Source string
}

// redacted is the feed's URL for logs and errors: a password in it (https://user:pw@host/rss,
// which net/http sends as basic auth) is masked.
func (f Feed) redacted() string { return config.RedactURL(f.URL) }

// Publisher writes a batch durably or not at all.
type Publisher interface {
	Publish(ctx context.Context, recs []publish.Record) error
}

// StateStore remembers feed state; *Store is the real one.
type StateStore interface {
	Get(url string) State
	Put(url string, st State) error
}

// MaxFeedBytes bounds one feed document or linked page.
const MaxFeedBytes = 16 << 20

// Metrics counts polls and items.
type Metrics struct {
	Polls *prometheus.CounterVec // outcome: ok, not_modified, error
	Items *prometheus.CounterVec // outcome: new, seen, rejected
	Poll  prometheus.Histogram
}

// NewMetrics registers the feed metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Polls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "newsflow_ingest_feed_polls_total",
			Help: "Feed polls, by outcome (ok, not_modified, error)."}, []string{"outcome"}),
		Items: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "newsflow_ingest_feed_items_total",
			Help: "Feed items looked at, by outcome (new, seen, rejected, deferred: beyond one poll's --feed-max-items, taken at a later poll)."}, []string{"outcome"}),
		Poll: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "newsflow_ingest_feed_poll_seconds",
			Help: "Duration of one poll of one feed, publishing included.", Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 12)}),
	}
	reg.MustRegister(m.Polls, m.Items, m.Poll)
	return m
}

// Poller polls every feed on Interval until its context ends.
type Poller struct {
	Feeds    []Feed
	Interval time.Duration
	Client   *http.Client
	Store    StateStore
	Pub      Publisher
	// Intake and Metrics are where the poller counts (app's metrics.go builds ingest's); nil
	// counts into a set on a private registry that nothing exposes (privateMetrics), so the
	// poller's code needs no nil checks.
	Intake     *intake.Metrics
	Metrics    *Metrics
	Limits     normalize.Limits
	FetchPages bool // fetch each new item's page and extract the article (readability)
	// PageClient fetches the items' pages (nil: Client). Its transport should refuse internal
	// addresses (Guard): the links are whatever the feed's author wrote.
	PageClient *http.Client
	// MaxItems bounds the new items taken from one feed per poll (0: no bound); the rest are
	// taken at the next polls, newest first.
	MaxItems int
	Log      *slog.Logger
	Now      func() time.Time
	// Tracer records one span per poll of one feed (a trace of its own), so the publish of
	// its new items and their path downstream hang from it. nil: tracing off.
	Tracer trace.Tracer
}

// Run polls all feeds at once, then every Interval, until ctx is done. A failing feed is logged
// and tried again at the next interval; it never stops the others.
func (p *Poller) Run(ctx context.Context) error { return p.RunFeeds(ctx, p.Feeds) }

// RunFeeds is Run over list instead of Feeds: the feed lease (Lease) polls this replica's share
// of the feeds with it, one list per generation of its group, each until the generation ends.
// The state store is the same whichever list is polled.
func (p *Poller) RunFeeds(ctx context.Context, list []Feed) error {
	t := time.NewTicker(p.Interval)
	defer t.Stop()
	for {
		for _, f := range list {
			if ctx.Err() != nil {
				return nil
			}
			n, err := p.Poll(ctx, f)
			if err != nil {
				p.Log.Warn("feed poll failed", "feed", f.redacted(), "error", err)
			} else if n > 0 {
				p.Log.Info("feed items published", "feed", f.redacted(), "new", n)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Poll fetches one feed and publishes its new items; it returns how many were published. State
// (validators and seen keys) is saved only after Kafka acknowledged the items, so a failure means
// the same items are tried again next time, never lost.
func (p *Poller) Poll(ctx context.Context, f Feed) (n int, err error) {
	start := time.Now()
	outcome := "ok"
	var span trace.Span
	if p.Tracer != nil {
		ctx, span = p.Tracer.Start(ctx, "ingest feed poll", trace.WithNewRoot(),
			trace.WithAttributes(attribute.String("newsflow.feed", f.redacted())))
	}
	defer func() {
		if err != nil {
			outcome = "error"
		}
		if span != nil {
			span.SetAttributes(attribute.String("newsflow.outcome", outcome), attribute.Int("newsflow.published", n))
			if err != nil {
				tracing.Fail(span, err, "poll failed")
			}
			span.End()
		}
		m := p.metrics()
		m.Polls.WithLabelValues(outcome).Inc()
		m.Poll.Observe(time.Since(start).Seconds())
	}()

	st := p.Store.Get(f.URL)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.URL, nil)
	if err != nil {
		return 0, fmt.Errorf("building request for %s: %w", f.redacted(), config.RedactError(err))
	}
	req.Header.Set("User-Agent", "newsflow-ingest/1 (+feed poller)")
	req.Header.Set("Accept", "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5")
	if st.ETag != "" {
		req.Header.Set("If-None-Match", st.ETag)
	}
	if st.LastModified != "" {
		req.Header.Set("If-Modified-Since", st.LastModified)
	}
	resp, err := p.Client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("fetching %s: %w", f.redacted(), config.RedactError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified {
		outcome = "not_modified"
		return 0, nil
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("fetching %s: status %s", f.redacted(), resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxFeedBytes+1))
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", f.redacted(), err)
	}
	if len(body) > MaxFeedBytes {
		return 0, fmt.Errorf("feed %s is larger than %d bytes", f.redacted(), MaxFeedBytes)
	}
	p.intakeMetrics().Bytes.WithLabelValues(intake.ChannelFeed).Add(float64(len(body)))
	feed, err := gofeed.NewParser().Parse(bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("parsing feed %s: %w", f.redacted(), err)
	}

	seen := make(map[string]bool, len(st.Seen))
	for _, k := range st.Seen {
		seen[k] = true
	}
	// Take the newest unseen items, at most MaxItems: one poll's work (and its page fetches)
	// is bounded whatever the feed lists, fresh news comes first, and what is left over is
	// taken at the next polls (the validators are not saved, so the next poll reads the
	// feed in full again).
	keys := make([]string, len(feed.Items))
	var take []int // indices into feed.Items, newest first
	deferred := 0
	inFeed := make(map[string]bool, len(feed.Items))
	for i, it := range feed.Items {
		k := ItemKey(it)
		keys[i] = k
		switch {
		case seen[k]:
			p.countItem("seen")
		case inFeed[k]: // listed twice in one document
		case p.MaxItems > 0 && len(take) >= p.MaxItems:
			deferred++
			p.countItem("deferred")
		default:
			take = append(take, i)
		}
		inFeed[k] = true
	}
	if deferred > 0 {
		p.Log.Info("feed lists more new items than one poll takes; the rest follow at the next polls",
			"feed", f.redacted(), "taken", len(take), "deferred", deferred, "max_items", p.MaxItems)
	}
	var items []decode.Item
	taken := make(map[string]bool, len(take))
	// Feeds list newest first; publish oldest first so the topic reads in order.
	for j := len(take) - 1; j >= 0; j-- {
		i := take[j]
		it := feed.Items[i]
		taken[keys[i]] = true
		raw := ItemRaw(it, f)
		if p.FetchPages && raw.URL != "" {
			if text, err := p.fetchPage(ctx, raw.URL); err != nil {
				p.Log.Warn("fetching linked page failed; using the feed's text", "url", raw.URL, "error", err)
			} else if strings.TrimSpace(text) != "" {
				raw.Body = text
			}
		}
		items = append(items, decode.Item{Index: len(items), Line: i + 1, Raw: raw})
	}
	b := intake.Prepare(items, p.now(), p.Limits)
	p.intakeMetrics().Judged(intake.ChannelFeed, &b)
	for _, r := range b.Results {
		if r.Status == intake.StatusRejected {
			p.countItem("rejected")
			p.Log.WarnContext(ctx, "feed item rejected", "feed", f.redacted(), "item", r.Line, "error", r.Error.Error())
		}
	}
	// A publish under way finishes even when shutdown begins (the publisher's own deadline
	// bounds it), so that what Kafka acknowledged is also recorded as seen.
	if err := p.Pub.Publish(context.WithoutCancel(ctx), b.Records); err != nil {
		return 0, err
	}
	p.intakeMetrics().Published(intake.ChannelFeed, &b)
	for range b.Records {
		p.countItem("new")
	}
	// Rejected items are remembered too: they will not become valid by being fetched again.
	st.Seen = nextSeen(st.Seen, keys, inFeed, func(k string) bool { return seen[k] || taken[k] })
	st.ETag, st.LastModified = resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	if deferred > 0 {
		st.ETag, st.LastModified = "", ""
	}
	if err := p.Store.Put(f.URL, st); err != nil {
		return len(b.Records), err
	}
	return len(b.Records), nil
}

// nextSeen is the seen keys to keep after a poll, oldest first: every key of an item the feed
// still lists and that is seen (however many: a key forgotten while its item is still listed
// would be published again at the next poll), then, before them, up to MaxSeen of the keys of
// items the feed no longer lists, the most recent ones, for feeds that drop an item and list it
// again. keys are the feed's item keys, newest first, as listed.
func nextSeen(old, keys []string, inFeed map[string]bool, isSeen func(string) bool) []string {
	var gone []string
	for _, k := range old {
		if !inFeed[k] {
			gone = append(gone, k)
		}
	}
	gone = gone[max(0, len(gone)-MaxSeen):]
	out := make([]string, 0, len(gone)+len(keys))
	out = append(out, gone...)
	added := make(map[string]bool, len(keys))
	for i := len(keys) - 1; i >= 0; i-- {
		if k := keys[i]; isSeen(k) && !added[k] {
			added[k] = true
			out = append(out, k)
		}
	}
	return out
}

func (p *Poller) countItem(outcome string) {
	p.metrics().Items.WithLabelValues(outcome).Inc()
}

// privateMetrics is the default of every Poller and Lease built without metrics, registered on a
// registry of its own the first time one is needed.
var privateMetrics = sync.OnceValue(func() pollerMetrics {
	reg := prometheus.NewRegistry()
	return pollerMetrics{intake: intake.PrivateMetrics(), feeds: NewMetrics(reg), lease: NewLeaseMetrics(reg)}
})

type pollerMetrics struct {
	intake *intake.Metrics
	feeds  *Metrics
	lease  *LeaseMetrics
}

// metrics is Metrics, or the private default when it is nil.
func (p *Poller) metrics() *Metrics {
	if p.Metrics == nil {
		return privateMetrics().feeds
	}
	return p.Metrics
}

// intakeMetrics is Intake, or the private default when it is nil.
func (p *Poller) intakeMetrics() *intake.Metrics {
	if p.Intake == nil {
		return privateMetrics().intake
	}
	return p.Intake
}

func (p *Poller) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// ItemKey identifies a feed item across polls: its GUID, else its link, else a hash of its
// title and text. It is deliberately not the article id: an item whose text was edited keeps its
// key, so it is not published again as new.
func ItemKey(it *gofeed.Item) string {
	switch {
	case strings.TrimSpace(it.GUID) != "":
		return "guid:" + strings.TrimSpace(it.GUID)
	case strings.TrimSpace(it.Link) != "":
		return "link:" + strings.TrimSpace(it.Link)
	}
	h := sha256.Sum256([]byte(it.Title + "\x00" + it.Description + "\x00" + it.Content))
	return "hash:" + hex.EncodeToString(h[:16])
}

// ItemRaw maps a feed item onto a raw article: the full content when the feed carries it, else
// the description; HTML is converted by normalize like any other body.
func ItemRaw(it *gofeed.Item, f Feed) decode.Raw {
	r := decode.Raw{Source: f.Source, Title: it.Title, Body: it.Content, URL: strings.TrimSpace(it.Link)}
	if strings.TrimSpace(r.Body) == "" {
		r.Body = it.Description
	}
	switch {
	case it.PublishedParsed != nil:
		r.PublishedAt = it.PublishedParsed.UTC().Format(time.RFC3339)
	case it.UpdatedParsed != nil:
		r.PublishedAt = it.UpdatedParsed.UTC().Format(time.RFC3339)
	}
	for _, a := range it.Authors {
		if a != nil && a.Name != "" {
			r.Authors = append(r.Authors, a.Name)
		}
	}
	return r
}

// fetchPage downloads an item's page and extracts the article's text with readability.
func (p *Poller) fetchPage(ctx context.Context, link string) (string, error) {
	u, err := url.Parse(link)
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, link, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("User-Agent", "newsflow-ingest/1 (+feed poller)")
	c := p.PageClient
	if c == nil {
		c = p.Client
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %s", resp.Status)
	}
	return ExtractText(io.LimitReader(resp.Body, MaxFeedBytes), u)
}

// ExtractText finds the article in an HTML page (readability: the main text, without navigation,
// comments or advertising) and returns it as paragraphs of plain text.
func ExtractText(page io.Reader, u *url.URL) (string, error) {
	a, err := readability.FromReader(page, u)
	if err != nil {
		return "", fmt.Errorf("extracting article: %w", err)
	}
	if a.Node == nil {
		return "", fmt.Errorf("extracting article: no article found")
	}
	var b strings.Builder
	if err := a.RenderHTML(&b); err != nil {
		return "", fmt.Errorf("rendering article: %w", err)
	}
	return normalize.HTMLToText(b.String()), nil
}
