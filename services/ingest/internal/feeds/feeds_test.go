package feeds

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/newsflow/newsflow/pkg/article"
	"github.com/newsflow/newsflow/pkg/metrics"
	"github.com/newsflow/newsflow/services/ingest/internal/intake"
	"github.com/newsflow/newsflow/services/ingest/internal/normalize"
	"github.com/newsflow/newsflow/services/ingest/internal/publish"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type fakePub struct {
	mu   sync.Mutex
	arts []article.Article
	err  error
}

func (f *fakePub) Publish(_ context.Context, recs []publish.Record) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	for _, r := range recs {
		f.arts = append(f.arts, r.Article)
	}
	return nil
}

func (f *fakePub) titles() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var t []string
	for _, a := range f.arts {
		t = append(t, a.Title)
	}
	return strings.Join(t, "|")
}

// feedServer serves an RSS or Atom feed whose items the test changes; it honours ETag and
// Last-Modified and counts full (200) and conditional (304) answers.
type feedServer struct {
	*httptest.Server
	mu        sync.Mutex
	items     []string // titles, newest first
	version   int
	full, not int
	atom      bool
	pages     map[string]string
	pageHits  int
}

func newFeedServer(t *testing.T, atom bool) *feedServer {
	fs := &feedServer{atom: atom, pages: map[string]string{}}
	fs.Server = httptest.NewServer(http.HandlerFunc(fs.serve))
	t.Cleanup(fs.Close)
	return fs
}

func (fs *feedServer) set(items ...string) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.items = items
	fs.version++
}

func (fs *feedServer) serve(w http.ResponseWriter, r *http.Request) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if p, ok := fs.pages[r.URL.Path]; ok {
		fs.pageHits++
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, p)
		return
	}
	etag := fmt.Sprintf(`"v%d"`, fs.version)
	lm := time.Date(2019, 8, 21, 0, fs.version, 0, 0, time.UTC).Format(http.TimeFormat)
	if r.Header.Get("If-None-Match") == etag || (r.Header.Get("If-None-Match") == "" && r.Header.Get("If-Modified-Since") == lm) {
		fs.not++
		w.WriteHeader(http.StatusNotModified)
		return
	}
	fs.full++
	w.Header().Set("ETag", etag)
	w.Header().Set("Last-Modified", lm)
	var b strings.Builder
	if fs.atom {
		b.WriteString(`<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><id>urn:t</id><updated>2019-08-21T08:00:00Z</updated>`)
		for _, it := range fs.items {
			fmt.Fprintf(&b, `<entry><title>%s</title><id>urn:%s</id><link href="%s/page/%s"/><updated>2019-08-21T08:00:00Z</updated><author><name>Ann</name></author><content type="html">&lt;p&gt;Text of %s.&lt;/p&gt;</content></entry>`, it, it, fs.URL, it, it)
		}
		b.WriteString(`</feed>`)
	} else {
		b.WriteString(`<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>`)
		for _, it := range fs.items {
			fmt.Fprintf(&b, `<item><title>%s</title><link>%s/page/%s</link><guid>%s</guid><description>Text of %s.</description><pubDate>Wed, 21 Aug 2019 08:00:00 GMT</pubDate></item>`, it, fs.URL, it, it, it)
		}
		b.WriteString(`</channel></rss>`)
	}
	w.Header().Set("Content-Type", "application/xml")
	fmt.Fprint(w, b.String())
}

func newPoller(t *testing.T, store *Store, pub Publisher) *Poller {
	reg := metrics.NewRegistry()
	return &Poller{Interval: time.Hour, Client: &http.Client{Timeout: 5 * time.Second}, Store: store, Pub: pub,
		Intake: intake.NewMetrics(reg, metrics.NewStage(reg, "ingest"), "t"), Metrics: NewMetrics(reg),
		Limits: normalize.DefaultLimits, Log: slog.New(slog.DiscardHandler)}
}

func TestPollNewItemsOnlyAcrossRestarts(t *testing.T) {
	for _, atom := range []bool{false, true} {
		t.Run(fmt.Sprintf("atom=%v", atom), func(t *testing.T) {
			fs := newFeedServer(t, atom)
			dir := t.TempDir()
			pub := &fakePub{}
			feed := Feed{URL: fs.URL + "/feed", Source: "test"}
			ctx := context.Background()

			fs.set("b", "a")
			store, err := OpenStore(dir)
			if err != nil {
				t.Fatal(err)
			}
			p := newPoller(t, store, pub)
			if n, err := p.Poll(ctx, feed); err != nil || n != 2 {
				t.Fatalf("first poll: %d, %v", n, err)
			}
			if got := pub.titles(); got != "a|b" { // oldest first
				t.Fatalf("published %q", got)
			}
			if n, err := p.Poll(ctx, feed); err != nil || n != 0 || fs.not != 1 {
				t.Fatalf("unchanged feed: %d new, %v, %d not-modified answers", n, err, fs.not)
			}

			// A restart: a new store from the same directory, a new poller. The feed changed.
			fs.set("c", "b", "a")
			store2, err := OpenStore(dir)
			if err != nil {
				t.Fatal(err)
			}
			p2 := newPoller(t, store2, pub)
			if n, err := p2.Poll(ctx, feed); err != nil || n != 1 {
				t.Fatalf("after restart: %d, %v", n, err)
			}
			if got := pub.titles(); got != "a|b|c" {
				t.Fatalf("published %q, want only c added", got)
			}
			a := pub.arts[2]
			if a.Source != "test" || a.Body != "Text of c." || a.URL != fs.URL+"/page/c" || a.PublishedAt != time.Date(2019, 8, 21, 8, 0, 0, 0, time.UTC) {
				t.Errorf("article %+v", a)
			}
			if atom && (len(a.Authors) != 1 || a.Authors[0] != "Ann") {
				t.Errorf("authors %v", a.Authors)
			}
		})
	}
}

func TestPollPublishFailureKeepsItems(t *testing.T) {
	fs := newFeedServer(t, false)
	fs.set("a")
	pub := &fakePub{err: errors.New("kafka down")}
	store, _ := OpenStore(t.TempDir())
	p := newPoller(t, store, pub)
	feed := Feed{URL: fs.URL + "/feed", Source: "s"}
	if _, err := p.Poll(context.Background(), feed); err == nil {
		t.Fatal("poll succeeded with Kafka down")
	}
	if st := store.Get(feed.URL); st.ETag != "" || len(st.Seen) != 0 {
		t.Fatalf("state saved although nothing was published: %+v", st)
	}
	pub.err = nil
	if n, err := p.Poll(context.Background(), feed); err != nil || n != 1 || fs.full != 2 {
		t.Fatalf("retry: %d, %v (full fetches %d)", n, err, fs.full)
	}
}

func TestPollFetchPages(t *testing.T) {
	fs := newFeedServer(t, false)
	fs.pages["/page/a"] = `<html><head><title>A</title></head><body><nav>Home | World | Sport</nav>
<article><h1>A</h1><p>The full text of the article is much longer than the summary in the feed, and it goes on for a while so that readability takes it for the main content of the page.</p>
<p>A second paragraph adds more words about the story, the people in it and the places where it happened, as news articles do.</p></article>
<footer>Copyright</footer></body></html>`
	fs.set("a")
	pub := &fakePub{}
	store, _ := OpenStore(t.TempDir())
	p := newPoller(t, store, pub)
	p.FetchPages = true
	if n, err := p.Poll(context.Background(), Feed{URL: fs.URL + "/feed", Source: "s"}); err != nil || n != 1 {
		t.Fatalf("%d, %v", n, err)
	}
	body := pub.arts[0].Body
	if !strings.HasPrefix(body, "The full text of the article") || !strings.Contains(body, "\n\nA second paragraph") || strings.Contains(body, "Copyright") || strings.Contains(body, "Sport") {
		t.Fatalf("extracted body %q", body)
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	fs := newFeedServer(t, false)
	fs.set("a")
	pub := &fakePub{}
	store, _ := OpenStore(t.TempDir())
	p := newPoller(t, store, pub)
	p.Feeds = []Feed{{URL: fs.URL + "/feed", Source: "s"}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for pub.titles() != "a" {
		if time.Now().After(deadline) {
			t.Fatal("Run did not poll")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestStore(t *testing.T) {
	dir := t.TempDir()
	s, _ := OpenStore(dir)
	seen := make([]string, MaxSeen+10)
	for i := range seen {
		seen[i] = fmt.Sprint(i)
	}
	if err := s.Put("u", State{Seen: seen, ETag: `"e"`}); err != nil {
		t.Fatal(err)
	}
	// The store keeps what the poller decided to keep (nextSeen bounds it), all of it.
	s2, err := OpenStore(dir)
	if err != nil || len(s2.Get("u").Seen) != MaxSeen+10 || s2.Get("u").Seen[0] != "0" || s2.Get("u").ETag != `"e"` {
		t.Fatalf("reopened: %v, %d seen", err, len(s2.Get("u").Seen))
	}
	if err := os.WriteFile(filepath.Join(dir, "feeds.json"), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenStore(dir); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("corrupt state file: %v", err)
	}
}

// TestNextSeen: keys of items still listed are all kept, keys of items no longer listed only up
// to MaxSeen, the most recent.
func TestNextSeen(t *testing.T) {
	var old []string
	for i := range MaxSeen + 100 {
		old = append(old, fmt.Sprint("gone-", i))
	}
	old = append(old, "listed-1")
	keys := []string{"listed-3", "listed-2", "listed-1"} // newest first, as feeds list them
	inFeed := map[string]bool{"listed-1": true, "listed-2": true, "listed-3": true}
	got := nextSeen(old, keys, inFeed, func(k string) bool { return k != "listed-3" }) // listed-3 deferred
	if len(got) != MaxSeen+2 || got[0] != "gone-100" || got[MaxSeen-1] != fmt.Sprint("gone-", MaxSeen+99) ||
		got[MaxSeen] != "listed-1" || got[MaxSeen+1] != "listed-2" {
		t.Fatalf("%d kept: first %q, last %q", len(got), got[0], got[len(got)-3:])
	}
}

// TestPollLargeFeed: a feed of 6,000 items, served locally, all of them published before (the
// state lists their keys). Polling it again publishes nothing, poll after poll: every key of an
// item the feed still lists is kept, although they are more than MaxSeen (keeping only the last
// 5,000 published the oldest 1,000 again at every poll).
func TestPollLargeFeed(t *testing.T) {
	const total = 6000
	titles := make([]string, total)
	keys := make([]string, total)
	for i := range titles {
		titles[i] = fmt.Sprint("item-", total-i) // newest first
		keys[total-1-i] = "guid:" + titles[i]    // state: oldest first
	}
	fs := newFeedServer(t, false)
	fs.set(titles...)
	pub := &fakePub{}
	store, _ := OpenStore(t.TempDir())
	feed := Feed{URL: fs.URL + "/feed", Source: "s"}
	if err := store.Put(feed.URL, State{Seen: keys}); err != nil {
		t.Fatal(err)
	}
	p := newPoller(t, store, pub)
	p.MaxItems = 200
	for i := range 3 {
		if n, err := p.Poll(context.Background(), feed); err != nil || n != 0 {
			t.Fatalf("poll %d published %d (%v), want 0: %.60q", i+1, n, err, pub.titles())
		}
	}
	if n := len(store.Get(feed.URL).Seen); n != total || fs.full != 1 {
		t.Fatalf("%d keys kept, %d full fetches; want %d, 1 (then 304s)", n, fs.full, total)
	}
}

// TestPollCapsItemsPerPoll: at most MaxItems new items are taken per poll, the newest first;
// the rest follow at the next polls (the feed is fetched in full again, not answered 304), and
// every item is published exactly once.
func TestPollCapsItemsPerPoll(t *testing.T) {
	const total = 1000
	titles := make([]string, total)
	for i := range titles {
		titles[i] = fmt.Sprint("item-", total-i) // newest first
	}
	fs := newFeedServer(t, false)
	fs.set(titles...)
	pub := &fakePub{}
	store, _ := OpenStore(t.TempDir())
	p := newPoller(t, store, pub)
	p.MaxItems = 300
	feed := Feed{URL: fs.URL + "/feed", Source: "s"}
	for i, want := range []int{300, 300, 300, 100, 0, 0} {
		n, err := p.Poll(context.Background(), feed)
		if err != nil || n != want {
			t.Fatalf("poll %d published %d (%v), want %d", i+1, n, err, want)
		}
		if i == 0 && !strings.HasPrefix(pub.titles(), "item-701|") {
			t.Fatalf("first poll should take the newest 300, oldest first: %.40q", pub.titles())
		}
	}
	ids := map[string]bool{}
	for _, a := range pub.arts {
		if ids[a.ID] {
			t.Fatalf("%q published twice", a.Title)
		}
		ids[a.ID] = true
	}
	// Four full fetches (the validators are kept only once nothing is left over), then 304s.
	if len(ids) != total || fs.full != 4 || fs.not != 2 {
		t.Fatalf("%d distinct published, %d full fetches, %d not-modified; want %d, 4, 2", len(ids), fs.full, fs.not, total)
	}
}

// TestPollRejectsOutOfRangeDateAndRemembers: an item dated before the floor is rejected with
// its reason, the other item is published, and the rejected one is not tried again.
func TestPollRejectsOutOfRangeDateAndRemembers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
<item><title>Fine</title><guid>fine</guid><description>Fine text.</description><pubDate>Wed, 21 Aug 2019 08:00:00 GMT</pubDate></item>
<item><title>Ancient</title><guid>ancient</guid><description>Old text.</description><pubDate>Mon, 01 Jan 1850 08:00:00 GMT</pubDate></item>
</channel></rss>`)
	}))
	defer srv.Close()
	reg := metrics.NewRegistry()
	store, _ := OpenStore(t.TempDir())
	pub := &fakePub{}
	p := newPoller(t, store, pub)
	p.Metrics = NewMetrics(reg)
	feed := Feed{URL: srv.URL, Source: "s"}
	for i, want := range []int{1, 0} {
		if n, err := p.Poll(context.Background(), feed); err != nil || n != want {
			t.Fatalf("poll %d: %d, %v; want %d", i+1, n, err, want)
		}
	}
	if got := testutil.ToFloat64(p.Metrics.Items.WithLabelValues("rejected")); got != 1 || pub.titles() != "Fine" {
		t.Fatalf("rejected %v times, published %q", got, pub.titles())
	}
}
