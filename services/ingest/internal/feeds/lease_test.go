package feeds

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/newsflow/newsflow/pkg/kafkax"
)

// TestFeedPartition pins the mapping: every replica must compute the same owner for a feed, in
// this release and the next, so its values are fixed here (FNV-1a 32 of the URL, computed
// independently).
func TestFeedPartition(t *testing.T) {
	for _, c := range []struct {
		url     string
		n, want int
	}{
		{"https://feeds.bbci.co.uk/news/rss.xml", 6, 3}, // 0x65408ded
		{"https://feeds.bbci.co.uk/news/rss.xml", 12, 9},
		{"https://www.theguardian.com/world/rss", 6, 2}, // 0xf80e7af8
		{"https://example.com/atom", 6, 1},              // 0xdfdeb1a5
		{"https://example.com/atom", 1, 0},
	} {
		if got := FeedPartition(Feed{URL: c.url, Source: "ignored"}, c.n); got != c.want {
			t.Errorf("FeedPartition(%s, %d) = %d, want %d", c.url, c.n, got, c.want)
		}
	}
}

func testFeeds(n int) []Feed {
	var list []Feed
	for i := range n {
		list = append(list, Feed{URL: fmt.Sprintf("https://news%d.example/rss", i), Source: fmt.Sprint(i)})
	}
	return list
}

// TestOwned: the members' shares of an assignment are disjoint and cover every feed, whatever
// way the partitions are split.
func TestOwned(t *testing.T) {
	list := testFeeds(40)
	for _, split := range [][][]int{
		{{0, 1, 2, 3, 4, 5}},
		{{0, 1, 2}, {3, 4, 5}},
		{{0, 3}, {1, 4}, {2, 5}},
		{{5}, {0, 1, 2, 3, 4}, {}},
	} {
		seen := map[string]int{}
		for _, mine := range split {
			for _, f := range Owned(list, mine, 6) {
				seen[f.URL]++
				if !slices.Contains(mine, FeedPartition(f, 6)) {
					t.Errorf("split %v: member %v got %s of partition %d", split, mine, f.URL, FeedPartition(f, 6))
				}
			}
		}
		for _, f := range list {
			if seen[f.URL] != 1 {
				t.Errorf("split %v: %s is polled by %d members, want 1", split, f.URL, seen[f.URL])
			}
		}
	}
	if got := Owned(list, []int{0}, 0); got != nil {
		t.Errorf("no partitions: %v, want none", got)
	}
}

// fakeGroup behaves like kafka-go's consumer group as the lease sees it: Next returns the next
// generation only after the previous one ended (the test ends it, as a rebalance would) and its
// functions returned.
type fakeGroup struct {
	gens   chan *fakeGen
	errs   chan error
	mu     sync.Mutex
	cur    *fakeGen
	closed bool
}

type fakeGen struct {
	id     int32
	mine   []int
	total  int
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newFakeGen(id int32, mine []int, total int) *fakeGen {
	ctx, cancel := context.WithCancel(context.Background())
	return &fakeGen{id: id, mine: mine, total: total, ctx: ctx, cancel: cancel}
}

func (g *fakeGen) ID() int32                { return g.id }
func (g *fakeGen) Partitions() ([]int, int) { return g.mine, g.total }
func (g *fakeGen) Start(fn func(context.Context)) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		fn(g.ctx)
		g.cancel() // as in kafka-go: a function that returns ends the generation
	}()
}

// end ends the generation as a rebalance does and waits for its functions.
func (g *fakeGen) end() { g.cancel(); g.wg.Wait() }

// endWithin is end for the test's goroutine: it fails when the functions do not return.
func (g *fakeGen) endWithin(t *testing.T, d time.Duration) {
	t.Helper()
	g.cancel()
	done := make(chan struct{})
	go func() { g.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("generation %d ended but its pollers did not stop within %v", g.id, d)
	}
}

func (f *fakeGroup) Next(ctx context.Context) (Generation, error) {
	f.mu.Lock()
	cur := f.cur
	f.mu.Unlock()
	if cur != nil {
		select {
		case <-cur.ctx.Done():
			cur.wg.Wait()
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case err := <-f.errs:
		return nil, err
	case g := <-f.gens:
		f.mu.Lock()
		f.cur = g
		f.mu.Unlock()
		return g, nil
	}
}

func (f *fakeGroup) Close() error {
	f.mu.Lock()
	cur := f.cur
	f.closed = true
	f.mu.Unlock()
	if cur != nil {
		cur.end()
	}
	return nil
}

// pollRecorder is the lease's Poll: it records which feeds each run polls and checks that no two
// runs overlap.
type pollRecorder struct {
	mu      sync.Mutex
	active  int
	overlap bool
	runs    [][]Feed
	started chan []Feed
	stopped chan []Feed
}

func newPollRecorder() *pollRecorder {
	return &pollRecorder{started: make(chan []Feed, 10), stopped: make(chan []Feed, 10)}
}

func (r *pollRecorder) Poll(ctx context.Context, list []Feed) error {
	r.mu.Lock()
	r.active++
	r.overlap = r.overlap || r.active > 1
	r.runs = append(r.runs, list)
	r.mu.Unlock()
	r.started <- list
	<-ctx.Done()
	r.mu.Lock()
	r.active--
	r.mu.Unlock()
	r.stopped <- list
	return nil
}

func recv[T any](t *testing.T, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

func urls(list []Feed) []string {
	var out []string
	for _, f := range list {
		out = append(out, f.URL)
	}
	return out
}

// TestLeaseSwitchesSubsets: in each generation the lease polls exactly the feeds of its
// partitions, stops them when the generation ends and before the next one starts, reports what
// it owns, and leaves the group when its context ends.
func TestLeaseSwitchesSubsets(t *testing.T) {
	list := testFeeds(24)
	g := &fakeGroup{gens: make(chan *fakeGen, 1), errs: make(chan error, 1)}
	rec := newPollRecorder()
	reg := prometheus.NewRegistry()
	var mu sync.Mutex
	var note string
	l := &Lease{Group: g, Feeds: list, Poll: rec.Poll, Metrics: NewLeaseMetrics(reg),
		Note: func(s string) { mu.Lock(); note = s; mu.Unlock() }, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()

	gen1 := newFakeGen(1, []int{0, 1, 2}, 6)
	g.gens <- gen1
	first := recv(t, rec.started, "the first generation's pollers")
	if want := Owned(list, []int{0, 1, 2}, 6); !slices.Equal(urls(first), urls(want)) || len(first) == 0 {
		t.Fatalf("generation 1 polls %v, want %v", urls(first), urls(want))
	}
	if got := testutil.ToFloat64(l.Metrics.Owned); got != float64(len(first)) {
		t.Errorf("feeds_owned = %v, want %d", got, len(first))
	}
	mu.Lock()
	if want := fmt.Sprintf("polls %d of 24 feeds (partitions [0 1 2] of 6, generation 1)", len(first)); note != want {
		t.Errorf("note %q, want %q", note, want)
	}
	mu.Unlock()

	// A rebalance: the other member left, this one gets every partition.
	gen2 := newFakeGen(2, []int{0, 1, 2, 3, 4, 5}, 6)
	g.gens <- gen2
	select {
	case l := <-rec.started:
		t.Fatalf("generation 2 started polling %d feeds while generation 1 was still on", len(l))
	case <-time.After(100 * time.Millisecond):
	}
	gen1.endWithin(t, 5*time.Second)
	if stopped := recv(t, rec.stopped, "generation 1's pollers to stop"); !slices.Equal(urls(stopped), urls(first)) {
		t.Fatalf("stopped %v, want generation 1's", urls(stopped))
	}
	second := recv(t, rec.started, "the second generation's pollers")
	if !slices.Equal(urls(second), urls(list)) {
		t.Fatalf("generation 2 polls %d feeds, want all %d", len(second), len(list))
	}
	if got := testutil.ToFloat64(l.Metrics.Owned); got != 24 {
		t.Errorf("feeds_owned = %v, want 24", got)
	}

	cancel()
	if err := recv(t, done, "Run to return"); err != nil {
		t.Fatalf("Run: %v", err)
	}
	recv(t, rec.stopped, "generation 2's pollers to stop")
	if rec.overlap {
		t.Error("two generations' pollers ran at once")
	}
	if !g.closed {
		t.Error("the lease did not leave the group")
	}
	if got := testutil.ToFloat64(l.Metrics.Rebalances); got != 2 {
		t.Errorf("rebalances_total = %v, want 2", got)
	}
	if got := testutil.ToFloat64(l.Metrics.Owned); got != 0 {
		t.Errorf("feeds_owned after leaving = %v, want 0", got)
	}
}

// TestLeaseErrors: a broker that is not there yet is waited for; a refused password or a missing
// ACL stops the lease with an error that says so.
func TestLeaseErrors(t *testing.T) {
	g := &fakeGroup{gens: make(chan *fakeGen, 1), errs: make(chan error, 1)}
	rec := newPollRecorder()
	l := &Lease{Group: g, Feeds: testFeeds(3), Poll: rec.Poll, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	done := make(chan error, 1)
	go func() { done <- l.Run(context.Background()) }()
	g.errs <- errors.New("[15] Group Coordinator Not Available")
	g.gens <- newFakeGen(1, []int{0}, 1)
	if got := recv(t, rec.started, "polling after a retryable error"); len(got) != 3 {
		t.Fatalf("polls %d feeds, want 3", len(got))
	}
	g.cur.endWithin(t, 5*time.Second)
	recv(t, rec.stopped, "the generation's pollers to stop")
	g.errs <- &kafkax.AuthError{Broker: "b:9094", What: "not authorised (check the ACLs of newsflow-ingest)", Err: errors.New("[30] Group Authorization Failed")}
	err := recv(t, done, "Run to stop at an authorization failure")
	if err == nil || !kafkax.IsAuthError(err) || !strings.Contains(err.Error(), "feed lease: joining the consumer group: kafka b:9094: not authorised") {
		t.Fatalf("Run: %v, want the authorization failure", err)
	}
	if !g.closed {
		t.Error("the lease did not close the group")
	}
}
