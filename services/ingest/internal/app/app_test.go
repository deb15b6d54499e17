package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/newsflow/newsflow/pkg/article"
	"github.com/newsflow/newsflow/pkg/kafkax"
	"github.com/newsflow/newsflow/pkg/service"
	"github.com/newsflow/newsflow/pkg/testenv"
)

// kafka-go's shared default transport (used by kafkax's admin client for topic creation and
// pings) keeps idle connection pools for the life of the process; they are not ours to close.
// The pool's goroutines are ignored in whatever they are doing when the check runs (a metadata
// refresh in flight puts kafka-go's async.await or a socket read on top, not discover or run).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/segmentio/kafka-go.(*connPool).discover"),
		goleak.IgnoreAnyFunction("github.com/segmentio/kafka-go.(*conn).run"),
	)
}

// readTopic reads every record of topic back with kcat, as enrich (or any consumer of the
// contract in docs/ARCHITECTURE.md) would see it.
func readTopic(t testing.TB, k kafkax.Config, topic string) []article.Article {
	t.Helper()
	out, err := exec.Command("kcat", "-C", "-b", strings.Join(k.Brokers, ","), "-t", topic, "-o", "beginning", "-e", "-q",
		"-f", "%k\t%s\n").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("kcat: %v: %s", err, ee.Stderr)
		}
		t.Fatalf("kcat: %v (is kcat installed?)", err)
	}
	var arts []article.Article
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 4<<20)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), "\t")
		if !ok {
			continue
		}
		var a article.Article
		if err := json.Unmarshal([]byte(val), &a); err != nil {
			t.Fatalf("record %s is not an article: %v", key, err)
		}
		if a.ID != key {
			t.Fatalf("record key %q != id %q", key, a.ID)
		}
		arts = append(arts, a)
	}
	return arts
}

// waitTopic waits until topic holds at least n records and returns them.
func waitTopic(t testing.TB, k kafkax.Config, topic string, n int) []article.Article {
	t.Helper()
	var arts []article.Article
	testenv.Eventually(t, 20*time.Second, fmt.Sprintf("%d records on %s", n, topic), func() (bool, string) {
		arts = readTopic(t, k, topic)
		return len(arts) >= n, fmt.Sprintf("%d records", len(arts))
	})
	return arts
}

type running struct {
	api, admin string
	stop       func() error
}

// startServe runs `ingest serve` in-process with its own topic and ports.
func startServe(t testing.TB, k kafkax.Config, topic string, extra ...string) *running {
	t.Helper()
	api, adm := testenv.FreeAddr(t), testenv.FreeAddr(t)
	args := append([]string{"serve", "--topic", topic, "--addr", api, "--admin-addr", adm, "--log-format", "json",
		"--kafka-brokers", strings.Join(k.Brokers, ","), "--kafka-partitions", "3", "--data-dir", t.TempDir()}, extra...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var logs testenv.SyncBuffer
	go func() { done <- Run(ctx, args, nil, io.Discard, &logs) }()
	r := &running{api: "http://" + api, admin: "http://" + adm}
	var once sync.Once
	var stopErr error
	r.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(30 * time.Second):
				stopErr = errors.New("serve did not stop within 30s")
			}
		})
		return stopErr
	}
	t.Cleanup(func() {
		if err := r.stop(); err != nil {
			t.Errorf("serve: %v\nlogs:\n%s", err, logs.String())
		}
	})
	testenv.Eventually(t, 30*time.Second, "/readyz", func() (bool, string) {
		select {
		case err := <-done:
			t.Fatalf("serve stopped early: %v\nlogs:\n%s", err, logs.String())
		default:
		}
		resp, err := http.Get(r.admin + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
	return r
}

func postBody(t testing.TB, url, ct string, body []byte) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(url, ct, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// TestServeEndToEnd: every content type of the HTTP API, and a feed, end up on the topic as
// docs/ARCHITECTURE.md says; the seed article keeps every character of its body.
func TestServeEndToEnd(t *testing.T) {
	k := testenv.Kafka(t)
	topic := testenv.Name(t, "ingest")
	feed := newFeedServer(t)
	// A feed group of its own: other tests' ingest processes must not share (and rebalance) it.
	r := startServe(t, k, topic, "--feeds", "testfeed="+feed.URL+"/rss", "--feed-interval", "1s", "--feed-group", testenv.Name(t, "feeds"))

	seed, err := os.ReadFile(filepath.Join(testenv.DataDir(t), "seed", "imperialism-hits-the-rocks.txt"))
	if err != nil {
		t.Fatal(err)
	}
	posts := []struct{ ct, query, body string }{
		{"application/json", "", `{"title":"One","body":"Body one.","source":"bbc","url":"https://www.bbc.co.uk/news/1?utm_source=x","published_at":"2019-08-21T08:00:00Z","authors":["A B"]}`},
		{"application/json", "", `[{"title":"Two","body":"Body two."},{"title":"Three","body":"<p>Body <b>three</b>.</p>"}]`},
		{"application/x-ndjson", "", "{\"title\":\"Four\",\"body\":\"Body four.\"}\n{\"title\":\"Five\",\"body\":\"Body five.\"}\n"},
		{"text/plain", "?source=newsline&published_at=2019-08-21", string(seed)},
	}
	ids := map[string]bool{}
	for _, p := range posts {
		code, m := postBody(t, r.api+"/v1/articles"+p.query, p.ct, []byte(p.body))
		if code != 202 {
			t.Fatalf("%s: status %d %v", p.ct, code, m)
		}
		for _, it := range m["items"].([]any) {
			ids[it.(map[string]any)["id"].(string)] = true
		}
	}
	arts := waitTopic(t, k, topic, 6+2) // six posted, two from the feed
	byTitle := map[string]article.Article{}
	for _, a := range arts {
		byTitle[a.Title] = a
		if a.IngestedAt.IsZero() || a.PublishedAt.IsZero() || a.ID == "" {
			t.Errorf("incomplete record %+v", a)
		}
	}
	if len(arts) != 8 {
		t.Errorf("%d records, want 8", len(arts))
	}
	for id := range ids {
		found := false
		for _, a := range arts {
			found = found || a.ID == id
		}
		if !found {
			t.Errorf("id %s answered as accepted is not on the topic", id)
		}
	}
	s := byTitle["As Imperialism Hits The Rocks – Forward To The Victory Of The World Socialist Revolution!"]
	_, body, _ := strings.Cut(string(seed), "\n")
	if s.Body != strings.TrimLeft(body, "\n") || s.Source != "newsline" || s.Language != "en" ||
		!s.PublishedAt.Equal(time.Date(2019, 8, 21, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("seed article changed: source %q language %q published %v body %d bytes", s.Source, s.Language, s.PublishedAt, len(s.Body))
	}
	if a := byTitle["One"]; a.Authors[0] != "A B" || a.ID != article.ID(&article.Article{URL: "https://www.bbc.co.uk/news/1"}) {
		t.Errorf("One: %+v", a)
	}
	if a := byTitle["Three"]; a.Body != "Body three." {
		t.Errorf("HTML body not converted: %q", a.Body)
	}
	if a := byTitle["Feed item one"]; a.Source != "testfeed" || a.URL != feed.URL+"/item/1" || a.Body != "First item text." {
		t.Errorf("feed item: %+v", a)
	}

	// Metrics name what happened.
	resp, err := http.Get(r.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`newsflow_ingest_items_accepted_total{channel="http"} 6`, `newsflow_ingest_items_accepted_total{channel="feed"} 2`,
		"newsflow_ingest_produce_seconds_bucket", `newsflow_ingest_feed_polls_total{outcome="ok"}`, `newsflow_ingest_http_requests_total{code="202"} 4`} {
		if !bytes.Contains(mb, []byte(want)) {
			t.Errorf("metrics lack %s", want)
		}
	}

	// Graceful stop: Run returns nil.
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
}

func TestImportCommand(t *testing.T) {
	k := testenv.Kafka(t)
	topic := testenv.Name(t, "ingest-import")
	dir := t.TempDir()
	write := func(name, s string) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.txt", "Title A\n\nBody of A.\n")
	write("sub/b.json", `[{"title":"B1","body":"Body B1."},{"title":"B2","body":"Body B2."}]`)
	write("sub/deeper/c.jsonl", "{\"title\":\"C1\",\"body\":\"Body C1.\"}\n{\"title\":\"\",\"body\":\"x\"}\n{\"title\":\"B1\",\"body\":\"Body B1.\"}\n")
	write("notes.md", "ignored")

	var out, errb bytes.Buffer
	err := Run(context.Background(), []string{"import", "--topic", topic, "--kafka-brokers", strings.Join(k.Brokers, ","),
		"--kafka-partitions", "3", "--source", "files", "--published-at", "2019-08-21T08:00:00Z", dir}, nil, &out, &errb)
	if !errors.Is(err, errRejected) || service.ExitCode(err) != 1 {
		t.Fatalf("err %v (exit %d), want rejection exit 1; stderr %s", err, service.ExitCode(err), errb.String())
	}
	sum := out.String()
	for _, want := range []string{"3 files, 6 read, 4 accepted, 1 duplicates, 1 rejected", "(1 files of other types skipped)",
		filepath.Join(dir, "sub/deeper/c.jsonl") + ":2: title: missing or empty"} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}
	arts := waitTopic(t, k, topic, 4)
	if len(arts) != 4 {
		t.Fatalf("%d records, want 4", len(arts))
	}
	for _, a := range arts {
		if a.Title == "Title A" && (a.Source != "files" || a.Body != "Body of A.\n") {
			t.Errorf("txt article %+v", a)
		}
	}

	// A clean import exits 0.
	out.Reset()
	if err := Run(context.Background(), []string{"import", "--topic", topic, "--kafka-brokers", strings.Join(k.Brokers, ","),
		filepath.Join(dir, "a.txt")}, nil, &out, &errb); err != nil {
		t.Fatalf("clean import: %v\n%s", err, out.String())
	}
}

func TestUsage(t *testing.T) {
	var out bytes.Buffer
	err := Run(context.Background(), []string{"--help"}, nil, &out, &out)
	if service.ExitCode(err) != 0 {
		t.Fatalf("--help: %v", err)
	}
	for _, want := range []string{"POST /v1/articles", "NEWSFLOW_INGEST_ADDR", "NEWSFLOW_INGEST_TOKEN", "NEWSFLOW_INGEST_TOPIC", "Flags of import", "-dry-run"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help lacks %q", want)
		}
	}
	for _, args := range [][]string{{"bogus"}, {"serve", "--max-items", "0"}, {"serve", "--addr", "nope"}, {"import"}, {"serve", "--feeds", "ftp://x"}} {
		out.Reset()
		if err := Run(context.Background(), args, nil, &out, &out); service.ExitCode(err) != 2 {
			t.Errorf("%v: err %v, want a usage error", args, err)
		}
	}
}
