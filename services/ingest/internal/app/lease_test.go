package app

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/newsflow/newsflow/pkg/testenv"
	"github.com/newsflow/newsflow/services/ingest/internal/feeds"
)

// leaseChildEnv carries the arguments of an ingest process that TestFeedLease starts by running
// this test binary again (TestFeedLeaseChild), so that it is a process of its own: one that can
// be stopped with SIGTERM and killed with SIGKILL.
const leaseChildEnv = "NEWSFLOW_TEST_LEASE_CHILD_ARGS"

// TestFeedLeaseChild is not a test of its own: it is `ingest serve` in a child process of
// TestFeedLease, stopped by SIGTERM as in a pod.
func TestFeedLeaseChild(t *testing.T) {
	raw := os.Getenv(leaseChildEnv)
	if raw == "" {
		t.Skip("an ingest process of TestFeedLease")
	}
	var args []string
	if err := json.Unmarshal([]byte(raw), &args); err != nil {
		t.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := Run(ctx, args, nil, io.Discard, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "ingest:", err)
		os.Exit(1)
	}
	// Exit as ingest's main does, without TestMain's goleak: the feed clients' idle keep-alive
	// connections to the test's feed server, which is still up, are not leaks of a process.
	os.Exit(0)
}

// fetchLog is a feed server's record of every fetch: which feed, when, and which process
// (found from the connection's client port, see pidOfPort).
type fetchLog struct {
	mu      sync.Mutex
	fetches []fetch
	pids    func() []int
}

type fetch struct {
	feed string
	at   time.Time
	pid  int
}

func (l *fetchLog) record(feed, remote string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// Looked up on every fetch, never cached by address: a client port is reused by another
	// connection (of another process) once the first is closed, and on a busy machine (a CI run)
	// that happened within the test, attributing one process's fetches to another or to none.
	_, port, _ := strings.Cut(remote, ":")
	p, _ := strconv.Atoi(port)
	pid := pidOfPort(p, l.pids())
	l.fetches = append(l.fetches, fetch{feed: feed, at: time.Now(), pid: pid})
}

// between returns the fetches of each feed in [from, to), by feed and by pid.
func (l *fetchLog) between(from, to time.Time) map[string]map[int]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]map[int]int{}
	for _, f := range l.fetches {
		if !f.at.Before(from) && f.at.Before(to) {
			if out[f.feed] == nil {
				out[f.feed] = map[int]int{}
			}
			out[f.feed][f.pid]++
		}
	}
	return out
}

// firstAfter returns, for each feed, the first fetch at or after t.
func (l *fetchLog) firstAfter(t time.Time) map[string]fetch {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]fetch{}
	for _, f := range l.fetches {
		if _, ok := out[f.feed]; !ok && !f.at.Before(t) {
			out[f.feed] = f
		}
	}
	return out
}

// pidOfPort finds which of pids holds the TCP connection whose local port is port: the socket's
// inode from /proc/net/tcp, then the process with that inode among its open files. It returns 0
// when none does (Linux only; the test says so if it cannot tell).
func pidOfPort(port int, pids []int) int {
	inode := ""
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(file)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) < 10 {
				continue
			}
			_, hexPort, ok := strings.Cut(fs[1], ":")
			// Inode 0 is a socket no process holds any more (TIME_WAIT): a closed connection
			// that had the same port; the live one comes on another line.
			if p, err := strconv.ParseInt(hexPort, 16, 32); ok && err == nil && int(p) == port && fs[9] != "0" {
				inode = fs[9]
				break
			}
		}
		f.Close()
		if inode != "" {
			break
		}
	}
	if inode == "" {
		return 0
	}
	want := "socket:[" + inode + "]"
	for _, pid := range pids {
		dir := fmt.Sprintf("/proc/%d/fd", pid)
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if l, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && l == want {
				return pid
			}
		}
	}
	return 0
}

// leaseFeeds returns n feed URLs on srv whose partitions (of n) are all different, so that each
// of the group's members owns some.
func leaseFeeds(srv string, n int) []string {
	var out []string
	used := map[int]bool{}
	for i := 0; len(out) < n; i++ {
		u := fmt.Sprintf("%s/feed/%d", srv, i)
		if p := feeds.FeedPartition(feeds.Feed{URL: u}, n); !used[p] {
			used[p] = true
			out = append(out, u)
		}
	}
	return out
}

type child struct {
	cmd   *exec.Cmd
	admin string
	logs  *testenv.SyncBuffer
	done  chan error
}

// gauge reads one unlabelled metric from the child's /metrics (-1 when it cannot).
func (c *child) gauge(t *testing.T, name string) float64 {
	resp, err := http.Get(c.admin + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return -1
}

// TestFeedLease runs two ingest processes on one list of six feeds with one feed group, and
// checks with a feed server that records who fetched what when: while both run, each feed is
// fetched by one process, about once per interval (not twice), and both share the work; when one
// stops (SIGTERM: it leaves the group) or dies (SIGKILL: the coordinator notices at the session
// timeout), the other takes over every feed within the session timeout plus one interval.
func TestFeedLease(t *testing.T) {
	k := testenv.Kafka(t)
	topic, group := testenv.Name(t, "ingest-lease"), testenv.Name(t, "feeds")
	const (
		nFeeds   = 6
		interval = time.Second
		session  = 6 * time.Second // the broker's group.min.session.timeout.ms
		window   = 5               // intervals
	)
	var (
		mu   sync.Mutex
		pids []int
	)
	log := &fetchLog{pids: func() []int { mu.Lock(); defer mu.Unlock(); return append([]int(nil), pids...) }}
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, ok := strings.CutPrefix(r.URL.Path, "/feed/")
		if !ok {
			http.NotFound(w, r)
			return
		}
		log.record(name, r.RemoteAddr)
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Content-Type", "application/rss+xml")
		fmt.Fprintf(w, `<?xml version="1.0"?><rss version="2.0"><channel><title>Feed %[2]s</title>
<item><title>Item of feed %[2]s</title><link>%[1]s/item/%[2]s</link><guid>item-%[2]s</guid><description>The text of feed %[2]s's item.</description><pubDate>Wed, 21 Aug 2019 09:00:00 GMT</pubDate></item>
</channel></rss>`, srv.URL, name)
	}))
	defer srv.Close()
	feedList := leaseFeeds(srv.URL, nFeeds)
	feedGroup := group // "" here turns the lease off (to see this test fail without it)

	start := func(name string) *child {
		t.Helper()
		adm := testenv.FreeAddr(t)
		args := []string{"serve", "--topic", topic, "--addr", testenv.FreeAddr(t), "--admin-addr", adm, "--log-format", "json",
			"--kafka-brokers", strings.Join(k.Brokers, ","), "--kafka-partitions", strconv.Itoa(nFeeds), "--data-dir", t.TempDir(),
			"--feeds", strings.Join(feedList, ","), "--feed-interval", interval.String(),
			"--feed-group", feedGroup, "--feed-group-session-timeout", session.String()}
		raw, _ := json.Marshal(args)
		cmd := exec.Command(os.Args[0], "-test.run=^TestFeedLeaseChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), leaseChildEnv+"="+string(raw))
		c := &child{cmd: cmd, admin: "http://" + adm, logs: &testenv.SyncBuffer{}, done: make(chan error, 1)}
		cmd.Stdout, cmd.Stderr = c.logs, c.logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		pids = append(pids, cmd.Process.Pid)
		mu.Unlock()
		go func() { c.done <- cmd.Wait() }()
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			<-c.done
			if t.Failed() {
				t.Logf("logs of %s (pid %d):\n%s", name, cmd.Process.Pid, c.logs.String())
			}
		})
		testenv.Eventually(t, 30*time.Second, name+" /readyz", func() (bool, string) {
			select {
			case err := <-c.done:
				c.done <- err
				t.Fatalf("%s stopped early: %v\n%s", name, err, c.logs.String())
			default:
			}
			resp, err := http.Get(c.admin + "/readyz")
			if err != nil {
				return false, err.Error()
			}
			resp.Body.Close()
			return resp.StatusCode == 200, resp.Status
		})
		return c
	}
	// owned waits until the processes report these shares of the feeds.
	owned := func(what string, want map[*child]float64) {
		t.Helper()
		testenv.Eventually(t, 2*session+5*time.Second, what, func() (bool, string) {
			ok, got := true, []string{}
			for c, w := range want {
				g := c.gauge(t, "newsflow_ingest_feeds_owned")
				ok = ok && g == w
				got = append(got, fmt.Sprintf("pid %d owns %v (want %v)", c.cmd.Process.Pid, g, w))
			}
			return ok, strings.Join(got, ", ")
		})
		for c, w := range want {
			resp, err := http.Get(c.admin + "/readyz")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if note := fmt.Sprintf("polls %v of %d feeds (partitions", w, nFeeds); !strings.Contains(string(body), note) {
				t.Errorf("/readyz of pid %d does not say %q:\n%s", c.cmd.Process.Pid, note, body)
			}
		}
	}
	// steady checks a window of polls: every feed fetched by one process only, once per interval
	// give or take one, and returns the fetches per process.
	steady := func(phase string, procs int) map[int]int {
		t.Helper()
		from := time.Now()
		time.Sleep(window * interval) // the measurement window itself, not synchronisation
		counts := log.between(from, from.Add(window*interval))
		perPID := map[int]int{}
		var lines []string
		for _, u := range feedList {
			name := u[strings.LastIndex(u, "/")+1:]
			byPID := counts[name]
			total := 0
			for pid, n := range byPID {
				total += n
				perPID[pid] += n
			}
			lines = append(lines, fmt.Sprintf("feed %s: %d fetches %v", name, total, byPID))
			if len(byPID) != 1 {
				t.Errorf("%s: feed %s was fetched by %d processes in %d intervals (pid: fetches %v), want 1", phase, name, len(byPID), window, byPID)
			}
			if total < window-1 || total > window+1 {
				t.Errorf("%s: feed %s was fetched %d times in %d intervals of %v, want %d±1 (one poller)", phase, name, total, window, interval, window)
			}
		}
		t.Logf("%s, %d process(es), %d intervals of %v:\n  %s\n  fetches per pid: %v", phase, procs, window, interval, strings.Join(lines, "\n  "), perPID)
		return perPID
	}
	// takeover waits until every feed was fetched after since and returns how long the last one took.
	takeover := func(phase string, since time.Time, by int, bound time.Duration) time.Duration {
		t.Helper()
		var took time.Duration
		testenv.Eventually(t, bound+5*time.Second, phase+": every feed fetched again", func() (bool, string) {
			first := log.firstAfter(since)
			took = 0
			for _, f := range first {
				took = max(took, f.at.Sub(since))
				if f.pid != by {
					return false, fmt.Sprintf("feed %s fetched by pid %d, not %d", f.feed, f.pid, by)
				}
			}
			return len(first) == nFeeds, fmt.Sprintf("%d of %d feeds", len(first), nFeeds)
		})
		t.Logf("%s: pid %d polls all %d feeds %.1fs after (bound %v)", phase, by, nFeeds, took.Seconds(), bound)
		if took > bound {
			t.Errorf("%s: the survivor took %v to poll every feed, want <= %v", phase, took, bound)
		}
		return took
	}

	a, b := start("ingest A"), start("ingest B")
	half := float64(nFeeds / 2)
	owned("both processes own half of the feeds", map[*child]float64{a: half, b: half})
	perPID := steady("two processes", 2)
	for _, c := range []*child{a, b} {
		if n := perPID[c.cmd.Process.Pid]; n == 0 {
			t.Errorf("pid %d fetched nothing: the feeds are not shared (fetches per pid %v; 0 = process not found)", c.cmd.Process.Pid, perPID)
		}
	}

	// A stops as a pod does: SIGTERM; it leaves the group, so B takes its feeds at once.
	termAt := time.Now()
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-a.done:
		a.done <- err
		if err != nil {
			t.Errorf("ingest A after SIGTERM: %v\n%s", err, a.logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("ingest A did not stop within 30s of SIGTERM")
	}
	t.Logf("ingest A exited %.1fs after SIGTERM", time.Since(termAt).Seconds())
	takeover("after SIGTERM of A", time.Now(), b.cmd.Process.Pid, session+interval)
	owned("B owns every feed", map[*child]float64{b: nFeeds})
	steady("B alone", 1)

	// C joins, then dies without leaving: B gets C's feeds back when C's session times out.
	c := start("ingest C")
	owned("B and C own half each", map[*child]float64{b: half, c: half})
	if err := c.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-c.done
	c.done <- nil
	killed := time.Now()
	took := takeover("after SIGKILL of C", killed, b.cmd.Process.Pid, session+2*interval)
	if took < session/2 {
		t.Logf("note: B took over in %v, sooner than the session timeout %v", took, session)
	}
	t.Logf("processes: A=%d B=%d C=%d", a.cmd.Process.Pid, b.cmd.Process.Pid, c.cmd.Process.Pid)
}
