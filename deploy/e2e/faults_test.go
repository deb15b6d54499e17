package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/newsflow/newsflow/deploy/internal/pipeline"
	"github.com/newsflow/newsflow/pkg/article"
	"github.com/newsflow/newsflow/pkg/corpus"
	"github.com/newsflow/newsflow/pkg/kafkax"
	"github.com/newsflow/newsflow/pkg/search"
	"github.com/newsflow/newsflow/pkg/testenv"
)

// privateStack starts a Kafka broker and an OpenSearch node of their own (deploy/local on other
// ports, in a temporary folder), so that the fault test can stop and restart them without
// disturbing the tests that share the main stack.
type privateStack struct {
	t   testing.TB
	env []string
}

func startPrivateStack(t testing.TB) *privateStack {
	t.Helper()
	s := &privateStack{t: t, env: []string{"NEWSFLOW_LOCAL_DIR=" + t.TempDir(), "NEWSFLOW_LOCAL_COMPONENTS=kafka opensearch",
		"NEWSFLOW_LOCAL_KAFKA_PORT=19092", "NEWSFLOW_LOCAL_KAFKA_CONTROLLER_PORT=19093",
		"NEWSFLOW_LOCAL_SEARCH_PORT=9250", "NEWSFLOW_LOCAL_SEARCH_TRANSPORT_PORT=9350"}}
	t.Cleanup(func() { s.run("down.sh", "--purge") })
	s.run("up.sh")
	return s
}

func (s *privateStack) run(script string, args ...string) {
	s.t.Helper()
	cmd := exec.Command("bash", append([]string{filepath.Join("..", "local", script)}, args...)...)
	cmd.Env = append(os.Environ(), s.env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		s.t.Fatalf("%s %v: %v\n%s", script, args, err, out)
	}
}

// TestFaults streams 20,205 real articles (Reuters-21578 and CoNLL-2003 documents) while enrich
// and index are killed with SIGKILL at random moments, the broker restarts, the search node is
// stopped for 30 s, and a second enrich and index join and leave (rebalances). Bad input arrives
// through every door meanwhile. Afterwards every accepted article is indexed exactly once, nothing
// good is dead-lettered, and the bad input is on the DLQ or was refused with a clear error.
func TestFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test skipped under -short: starts its own Kafka and OpenSearch")
	}
	data := testenv.DataDir(t)
	var arts []article.Article
	if err := corpus.ReadReutersDir(filepath.Join(data, "reuters21578"), 0, func(a article.Article) error {
		arts = append(arts, a)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"train.txt", "valid.txt"} {
		fh, err := os.Open(filepath.Join(data, "conll2003", f))
		if err != nil {
			t.Fatal(err)
		}
		_ = corpus.ReadCoNLLDocs(fh, f, func(a article.Article) error { arts = append(arts, a); return nil })
		fh.Close()
	}
	if len(arts) < 20000 {
		t.Fatalf("only %d articles in the corpora", len(arts))
	}

	stack := startPrivateStack(t)
	kc := kafkax.Config{Brokers: []string{"127.0.0.1:19092"}, Partitions: 6, ReplicationFactor: 1, WriteTimeout: 10 * time.Second}
	r := newRig(t, kc, testenv.Engine{Name: "opensearch", Config: search.Config{URLs: []string{"http://127.0.0.1:9250"}}})
	ing, ingestURL := r.ingest()
	enr, idx := r.enrich("enrich"), r.index("index")
	for _, p := range []*proc{ing, enr, idx} {
		p.start()
	}
	for _, p := range []*proc{ing, enr, idx} {
		p.waitReady(2 * time.Minute)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	start := time.Now()

	// The stream: NDJSON batches of 250 a second (so that it lasts through every fault rather than
	// reaching Kafka before the first one), retried by the client while ingest answers 503 (the
	// broker is away); an article counts as accepted once ingest answered 202 for it.
	pace := time.NewTicker(time.Second)
	defer pace.Stop()
	var acceptedMu sync.Mutex
	accepted := map[string]bool{}
	var sent atomic.Int64
	var unavailable atomic.Int64
	streamErr := make(chan error, 1)
	go func() {
		for i := 0; i < len(arts); i += 250 {
			<-pace.C
			batch := arts[i:min(i+250, len(arts))]
			for {
				res, err := pipeline.Post(ctx, ingestURL, "", "application/x-ndjson", pipeline.NDJSON(batch), nil)
				if err == nil && res.Status == 202 {
					acceptedMu.Lock()
					for _, it := range res.Items {
						if it.Status != "rejected" {
							accepted[it.ID] = true
						}
					}
					acceptedMu.Unlock()
					break
				}
				if err == nil && res.Status != 503 {
					streamErr <- fmt.Errorf("ingest answered %d: %s", res.Status, res.Error)
					return
				}
				unavailable.Add(1)
				if ctx.Err() != nil {
					streamErr <- ctx.Err()
					return
				}
				time.Sleep(500 * time.Millisecond) // the client's own back-off, as Retry-After asks
			}
			sent.Add(int64(len(batch)))
		}
		streamErr <- nil
	}()

	indexed := func() int {
		n, _ := pipeline.Count(ctx, r.sc, r.prefix)
		return n
	}
	// progressAt waits until the stream has sent a share of the corpus.
	progressAt := func(share float64) {
		testenv.Eventually(t, 10*time.Minute, fmt.Sprintf("%.0f%% of the stream sent", share*100), func() (bool, string) {
			return float64(sent.Load()) >= share*float64(len(arts)), fmt.Sprintf("sent %d", sent.Load())
		})
	}
	logf := func(format string, args ...any) {
		t.Logf("%6.1fs sent %5d indexed %5d: %s", time.Since(start).Seconds(), sent.Load(), indexed(), fmt.Sprintf(format, args...))
	}
	jitter := func() { time.Sleep(time.Duration(rand.IntN(1500)) * time.Millisecond) }

	// Bad input through every door while the stream flows.
	badHTTP := []struct {
		ctype, body string
		want        int
	}{
		{"application/json", `{"title": "x", "body": `, 400},
		{"application/json", `{"title": "", "body": "b"}`, 400},
		{"application/x-ndjson", "\x00\x01\x02 binary garbage", 400},
		{"application/xml", `<a/>`, 415},
	}
	// Raw messages written to the topics directly: undecodable for enrich, and for index a
	// document its strict mapping must reject.
	rawPoison := []kafka.Message{{Key: []byte("poison-1"), Value: []byte("{not json")}, {Key: []byte("poison-2"), Value: []byte(`{"id": 5}`)}}
	mappingReject := article.Enriched{Article: article.Article{ID: "mapping-reject", Title: "t", Body: "b", PublishedAt: time.Date(1987, 3, 1, 0, 0, 0, 0, time.UTC)},
		Dates: []article.DateMention{{Text: "x", Field: "body", Start: 0, End: 1, Value: "X", Granularity: "day", GTE: "not-a-date", LTE: "2019-13-45"}}}

	// The fault schedule.
	progressAt(0.10)
	jitter()
	logf("SIGKILL enrich")
	_ = enr.stop(syscall.SIGKILL, 10*time.Second)
	enr.start()

	progressAt(0.18)
	for _, b := range badHTTP {
		res, err := pipeline.Post(ctx, ingestURL, "", b.ctype, []byte(b.body), nil)
		if err != nil || res.Status != b.want || res.Error == "" && res.Rejected == 0 {
			t.Errorf("bad input %q as %s: status %d (want %d) %+v %v", b.body, b.ctype, res.Status, b.want, res, err)
		}
	}
	if err := kc.EnsureTopics(ctx, r.raw, r.enriched); err != nil { // and wait until this process's metadata knows them
		t.Fatal(err)
	}
	pw := kc.NewWriter(r.raw)
	if err := pw.WriteMessages(ctx, rawPoison...); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	ew := kc.NewWriter(r.enriched)
	if err := ew.WriteMessages(ctx, kafka.Message{Key: []byte("mapping-reject"), Value: mustJSON(mappingReject)}); err != nil {
		t.Fatal(err)
	}
	ew.Close()

	progressAt(0.22)
	jitter()
	logf("SIGKILL index")
	_ = idx.stop(syscall.SIGKILL, 10*time.Second)
	idx.start()

	progressAt(0.32)
	logf("restarting the Kafka broker")
	stack.run("down.sh", "kafka")
	stack.run("up.sh")
	logf("broker back")

	progressAt(0.45)
	logf("stopping the search node for 30 s")
	stack.run("down.sh", "opensearch")
	time.Sleep(30 * time.Second) // the outage itself, not a synchronisation
	stack.run("up.sh")
	logf("search node back")

	progressAt(0.55)
	enr2, idx2 := r.enrich("enrich#2"), r.index("index#2")
	enr2.start()
	idx2.start()
	logf("second enrich and index joined")
	progressAt(0.70)
	jitter()
	_ = enr2.stop(syscall.SIGTERM, 40*time.Second)
	_ = idx2.stop(syscall.SIGTERM, 40*time.Second)
	logf("second enrich and index left")

	progressAt(0.80)
	jitter()
	logf("SIGKILL enrich and index together")
	_ = enr.stop(syscall.SIGKILL, 10*time.Second)
	_ = idx.stop(syscall.SIGKILL, 10*time.Second)
	enr.start()
	idx.start()

	if err := <-streamErr; err != nil {
		t.Fatalf("stream: %v", err)
	}
	logf("stream done: %d sent, %d distinct accepted, %d requests refused with 503 while the broker was away", sent.Load(), len(accepted), unavailable.Load())

	testenv.Eventually(t, 10*time.Minute, "every accepted article indexed", func() (bool, string) {
		n := indexed()
		return n >= len(accepted), fmt.Sprintf("indexed %d of %d", n, len(accepted))
	})
	// Exactly once: the index holds exactly the accepted ids, nothing more.
	n := r.requireExactlyOnce(ctx, accepted)
	// Nothing good was dead-lettered; exactly the poison is there.
	dl := readDLQ(t, kc.Brokers, r.dlq)
	keys := map[string]string{}
	for _, d := range dl {
		if accepted[d.Key] {
			t.Errorf("an accepted article was dead-lettered: %+v", d)
		}
		keys[d.Key] = d.Stage
	}
	if keys["poison-1"] != "enrich" || keys["poison-2"] != "enrich" || keys["mapping-reject"] != "index" || len(keys) != 3 {
		t.Errorf("dead letters by key→stage: %v; want poison-1, poison-2 from enrich and mapping-reject from index", keys)
	}
	elapsed := time.Since(start)
	t.Logf("FAULTS RESULT: %d articles accepted and indexed exactly once in %v (%.0f articles/s end to end under faults); %d dead letters, all bad input",
		len(accepted), elapsed.Round(time.Second), float64(len(accepted))/elapsed.Seconds(), len(dl))
	if !strings.Contains(os.Getenv("NEWSFLOW_FAULTS_REPORT"), "/") {
		return
	}
	_ = os.WriteFile(os.Getenv("NEWSFLOW_FAULTS_REPORT"), []byte(fmt.Sprintf("accepted=%d indexed=%d dead_letters=%d seconds=%.0f\n", len(accepted), n, len(dl), elapsed.Seconds())), 0o644)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
