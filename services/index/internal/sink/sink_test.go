package sink_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"
	"go.uber.org/goleak"
	"golang.org/x/sync/errgroup"

	"github.com/newsflow/newsflow/pkg/kafkax"
	"github.com/newsflow/newsflow/pkg/retry"
	"github.com/newsflow/newsflow/pkg/search"
	"github.com/newsflow/newsflow/services/index/internal/document"
	"github.com/newsflow/newsflow/services/index/internal/schema"
	"github.com/newsflow/newsflow/services/index/internal/sink"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// verdict is what the fake engine answers for one document: an HTTP item status and error type.
type verdict struct {
	status  int
	errType string
}

// fakeEngine answers _bulk requests through answer, called per request with the attempt number
// (1-based, counted per document id) of each document; it records every request.
type fakeEngine struct {
	mu       sync.Mutex
	attempts map[string]int
	requests [][]string // ids per request
	sources  map[string]string
	// request-level behaviour for the nth request (1-based); zero value means answer per item
	whole func(n int, ids []string) (status int, err error)
	item  func(id string, attempt int) verdict
	made  []string
	// ensure, when set, answers the nth (1-based, per index) attempt at creating index.
	ensure  func(index string, n int) error
	ensured map[string]int
	actions map[string]string // the action line of each document id, as last sent
}

func newFake() *fakeEngine {
	return &fakeEngine{attempts: map[string]int{}, sources: map[string]string{}, ensured: map[string]int{}, actions: map[string]string{}}
}

func (f *fakeEngine) Bulk(ctx context.Context, body []byte) (int, []byte, error) {
	var ids []string
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var action struct {
			Index struct {
				ID string `json:"_id"`
			} `json:"index"`
		}
		if err := json.Unmarshal(sc.Bytes(), &action); err != nil {
			return 0, nil, err
		}
		line := sc.Text()
		sc.Scan()
		ids = append(ids, action.Index.ID)
		f.mu.Lock()
		f.actions[action.Index.ID] = line
		f.sources[action.Index.ID] = sc.Text()
		f.mu.Unlock()
	}
	f.mu.Lock()
	f.requests = append(f.requests, ids)
	n := len(f.requests)
	f.mu.Unlock()
	if f.whole != nil {
		if status, err := f.whole(n, ids); err != nil || status != 0 {
			return status, []byte(`{"error":"x"}`), err
		}
	}
	var items []string
	for _, id := range ids {
		f.mu.Lock()
		f.attempts[id]++
		a := f.attempts[id]
		f.mu.Unlock()
		v := verdict{status: 201}
		if f.item != nil {
			v = f.item(id, a)
		}
		if v.errType != "" {
			items = append(items, fmt.Sprintf(`{"index":{"status":%d,"error":{"type":%q,"reason":"because"}}}`, v.status, v.errType))
		} else {
			items = append(items, fmt.Sprintf(`{"index":{"status":%d}}`, v.status))
		}
	}
	return 200, []byte(`{"errors":true,"items":[` + strings.Join(items, ",") + `]}`), nil
}

func (f *fakeEngine) EnsureIndex(ctx context.Context, index string) error {
	f.mu.Lock()
	f.ensured[index]++
	n := f.ensured[index]
	f.mu.Unlock()
	if f.ensure != nil {
		if err := f.ensure(index, n); err != nil {
			return err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.made = append(f.made, index)
	return nil
}

type fakeDLQ struct {
	mu    sync.Mutex
	msgs  []kafka.Message
	fails int
}

func (d *fakeDLQ) WriteMessages(ctx context.Context, msgs ...kafka.Message) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fails > 0 {
		d.fails--
		return errors.New("broker away")
	}
	d.msgs = append(d.msgs, msgs...)
	return nil
}

func msg(offset int64, id string) kafka.Message {
	v := fmt.Sprintf(`{"id":%q,"title":"t","body":"b","published_at":"2019-08-21T08:00:00Z","ingested_at":"2019-08-21T08:00:01Z"}`, id)
	return kafka.Message{Topic: "in", Partition: 1, Offset: offset, Key: []byte(id), Value: []byte(v)}
}

func batch(n int) []kafka.Message {
	var out []kafka.Message
	for i := 0; i < n; i++ {
		out = append(out, msg(int64(i), fmt.Sprintf("d%02d", i)))
	}
	return out
}

func newSink(f *fakeEngine, d *fakeDLQ, flushBytes int) (*sink.Sink, *sink.Metrics) {
	reg := prometheus.NewRegistry()
	m := sink.NewMetrics(reg)
	s := sink.New(sink.Config{Names: schema.Names{Prefix: "articles"}, Version: 1, FlushBytes: flushBytes, Workers: 3,
		Backoff: retry.Backoff{Initial: time.Millisecond, Max: 5 * time.Millisecond}, Topic: "in"},
		f, d, slog.New(slog.NewTextHandler(io.Discard, nil)), m)
	return s, m
}

func TestItemLevelRetryOnlyFailedItems(t *testing.T) {
	f, d := newFake(), &fakeDLQ{}
	f.item = func(id string, attempt int) verdict {
		if (id == "d03" || id == "d07") && attempt < 3 {
			return verdict{429, "es_rejected_execution_exception"}
		}
		if id == "d05" && attempt == 1 {
			return verdict{503, "unavailable_shards_exception"}
		}
		return verdict{status: 201}
	}
	s, m := newSink(f, d, 5<<20)
	if err := s.Handle(context.Background(), batch(10)); err != nil {
		t.Fatal(err)
	}
	if len(f.requests) != 3 {
		t.Fatalf("%d requests, want 3: %v", len(f.requests), f.requests)
	}
	if got := strings.Join(f.requests[1], ","); got != "d03,d05,d07" {
		t.Errorf("second request %s, want only the failed items d03,d05,d07", got)
	}
	if got := strings.Join(f.requests[2], ","); got != "d03,d07" {
		t.Errorf("third request %s, want d03,d07", got)
	}
	if len(d.msgs) != 0 {
		t.Errorf("%d dead letters, want 0", len(d.msgs))
	}
	if got := testutil.ToFloat64(m.Produced.WithLabelValues("articles")); got != 10 {
		t.Errorf("produced %v, want 10", got)
	}
	if got := testutil.ToFloat64(m.Retries.WithLabelValues("item_429")); got != 4 {
		t.Errorf("item_429 retries %v, want 4", got)
	}
	if got := testutil.CollectAndCount(m.EndToEnd); got != 1 {
		t.Errorf("end-to-end histogram missing")
	}
	if strings.Join(f.made, ",") != "articles-2019.08" {
		t.Errorf("ensured indices %v, want articles-2019.08 once", f.made)
	}
}

func TestRejectedAndUndecodableGoToDLQ(t *testing.T) {
	f, d := newFake(), &fakeDLQ{fails: 2}
	f.item = func(id string, attempt int) verdict {
		if id == "d02" {
			return verdict{400, "mapper_parsing_exception"}
		}
		return verdict{status: 200}
	}
	msgs := batch(5)
	msgs = append(msgs, kafka.Message{Topic: "in", Partition: 2, Offset: 9, Key: []byte("junk"), Value: []byte("{not json")})
	s, m := newSink(f, d, 5<<20)
	if err := s.Handle(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
	if len(f.requests) != 1 || len(f.requests[0]) != 5 {
		t.Fatalf("requests %v, want one with the 5 decodable documents", f.requests)
	}
	if len(d.msgs) != 2 {
		t.Fatalf("%d dead letters, want 2", len(d.msgs))
	}
	reasons := map[string]string{}
	for _, dm := range d.msgs {
		reasons[string(dm.Key)] = kafkax.Header(dm, kafkax.HeaderError)
	}
	if !strings.Contains(reasons["d02"], "mapper_parsing_exception") || !strings.Contains(reasons["junk"], "decoding JSON") {
		t.Errorf("reasons %v", reasons)
	}
	if kafkax.Header(d.msgs[0], kafkax.HeaderOffset) == "" || kafkax.Header(d.msgs[0], kafkax.HeaderStage) != "index" {
		t.Errorf("headers %v", d.msgs[0].Headers)
	}
	if got := testutil.ToFloat64(m.DeadLettered.WithLabelValues("rejected")); got != 1 {
		t.Errorf("dead_lettered{rejected} %v", got)
	}
}

func TestWholeRequestFailuresAreRetried(t *testing.T) {
	tests := []struct {
		name   string
		status int
		err    error
		reason string
	}{
		{"connection refused", 0, errors.New("dial tcp: connection refused"), "connection"},
		{"429", 429, nil, "request_429"},
		{"503", 503, nil, "request_5xx"},
		{"401 from a proxy", 401, nil, "unauthorized"},
		{"403", 403, nil, "forbidden"},
		{"404 from a wrong path", 404, nil, "not_found"},
		{"400 whole request", 400, nil, "request_4xx"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, d := newFake(), &fakeDLQ{}
			f.whole = func(n int, ids []string) (int, error) {
				if n <= 3 {
					return tc.status, tc.err
				}
				return 0, nil
			}
			s, m := newSink(f, d, 5<<20)
			if err := s.Handle(context.Background(), batch(4)); err != nil {
				t.Fatal(err)
			}
			if len(f.requests) != 4 || len(d.msgs) != 0 {
				t.Fatalf("%d requests, %d dead letters; want 4 and 0", len(f.requests), len(d.msgs))
			}
			if got := testutil.ToFloat64(m.Retries.WithLabelValues(tc.reason)); got != 12 {
				t.Errorf("retries{%s} %v, want 12", tc.reason, got)
			}
		})
	}
}

func TestTooLargeIsSplit(t *testing.T) {
	f, d := newFake(), &fakeDLQ{}
	f.whole = func(n int, ids []string) (int, error) {
		if len(ids) > 2 {
			return 413, nil
		}
		for _, id := range ids {
			if id == "d05" {
				return 413, nil // too large even alone
			}
		}
		return 0, nil
	}
	s, _ := newSink(f, d, 1<<20)
	if err := s.Handle(context.Background(), batch(8)); err != nil {
		t.Fatal(err)
	}
	if len(d.msgs) != 1 || string(d.msgs[0].Key) != "d05" {
		t.Fatalf("dead letters %v, want d05 alone", d.msgs)
	}
	if len(f.attempts) != 7 {
		t.Fatalf("%d documents acknowledged, want 7", len(f.attempts))
	}
}

func TestShutdownLeavesBatchUncommitted(t *testing.T) {
	f, d := newFake(), &fakeDLQ{}
	f.item = func(string, int) verdict { return verdict{429, "es_rejected_execution_exception"} }
	s, _ := newSink(f, d, 5<<20)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Handle(ctx, batch(3)); err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Handle = %v, want a deadline error (nothing may be committed)", err)
	}
	if len(d.msgs) != 0 {
		t.Fatal("retryable documents were dead-lettered")
	}
}

func TestDuplicatesInBatchWriteTheLatest(t *testing.T) {
	f, d := newFake(), &fakeDLQ{}
	s, _ := newSink(f, d, 5<<20)
	old, newer := msg(1, "same"), msg(2, "same")
	newer.Value = bytes.Replace(newer.Value, []byte(`"title":"t"`), []byte(`"title":"newer"`), 1)
	if err := s.Handle(context.Background(), []kafka.Message{old, msg(3, "other"), newer}); err != nil {
		t.Fatal(err)
	}
	if len(f.requests) != 1 || len(f.requests[0]) != 2 || !strings.Contains(f.sources["same"], `"newer"`) {
		t.Fatalf("requests %v, source %s", f.requests, f.sources["same"])
	}
}

func TestWorkersAndChunks(t *testing.T) {
	f, d := newFake(), &fakeDLQ{}
	f.item = func(id string, attempt int) verdict {
		if attempt == 1 && strings.HasSuffix(id, "7") {
			return verdict{500, "internal"}
		}
		return verdict{status: 201}
	}
	s, _ := newSink(f, d, 1024) // a few documents per request
	if err := s.Handle(context.Background(), batch(60)); err != nil {
		t.Fatal(err)
	}
	if len(f.attempts) != 60 || len(f.requests) < 10 {
		t.Fatalf("%d documents in %d requests", len(f.attempts), len(f.requests))
	}
}

func TestDeletedIndexIsCreatedAgain(t *testing.T) {
	f, d := newFake(), &fakeDLQ{}
	f.item = func(id string, attempt int) verdict {
		if attempt == 1 {
			return verdict{404, "index_not_found_exception"}
		}
		return verdict{status: 201}
	}
	s, _ := newSink(f, d, 5<<20)
	if err := s.Handle(context.Background(), batch(2)); err != nil {
		t.Fatal(err)
	}
	if len(f.made) != 2 || len(d.msgs) != 0 {
		t.Fatalf("indices ensured %v (want twice), dead letters %d", f.made, len(d.msgs))
	}
}

// msgAt is a message published at pub and ingested at ingested.
func msgAt(offset int64, id string, pub, ingested time.Time) kafka.Message {
	v := fmt.Sprintf(`{"id":%q,"title":"t","body":"b","published_at":%q,"ingested_at":%q}`,
		id, pub.Format(time.RFC3339Nano), ingested.Format(time.RFC3339Nano))
	return kafka.Message{Topic: "in", Partition: 1, Offset: offset, Key: []byte(id), Value: []byte(v)}
}

// shardLimit is how both engines answer PUT /<index> once the cluster's shard limit is reached.
func shardLimit(index string) error {
	return &search.HTTPError{Method: "PUT", Path: "/" + index, Status: 400,
		Body: `{"error":{"root_cause":[{"type":"validation_exception","reason":"Validation Failed: 1: this action would add [1] total shards, but this cluster currently has [30]/[30] maximum shards open;"}],"type":"validation_exception","reason":"Validation Failed: 1: this action would add [1] total shards, but this cluster currently has [30]/[30] maximum shards open;"},"status":400}`}
}

// TestRefusedIndexCreationDeadLettersOnlyItsDocuments: the engine refusing to create one index
// (the shard limit) costs the documents meant for it a bounded number of attempts, then they are
// dead-lettered with the engine's reason; every other document of the batch is indexed at the
// first attempt, and the batch completes (is committed) instead of retrying forever.
func TestRefusedIndexCreationDeadLettersOnlyItsDocuments(t *testing.T) {
	f, d := newFake(), &fakeDLQ{}
	f.ensure = func(index string, n int) error {
		if index == "articles-1987" || index == "articles-1988" {
			return shardLimit(index)
		}
		return nil
	}
	reg := prometheus.NewRegistry()
	m := sink.NewMetrics(reg)
	s := sink.New(sink.Config{Names: schema.Names{Prefix: "articles", MonthlyFrom: 2000}, Version: 1, Workers: 2, CreateAttempts: 3,
		Backoff: retry.Backoff{Initial: time.Millisecond, Max: 5 * time.Millisecond}, Topic: "in"},
		f, d, slog.New(slog.NewTextHandler(io.Discard, nil)), m)
	ing := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	var msgs []kafka.Message
	for i := 0; i < 12; i++ { // 1987 and 1988, two yearly indices, one month each
		msgs = append(msgs, msgAt(int64(i), fmt.Sprintf("old%02d", i), time.Date(1987+i/6, time.Month(1+i%6), 5, 0, 0, 0, 0, time.UTC), ing))
	}
	for i := 0; i < 5; i++ {
		msgs = append(msgs, msgAt(int64(100+i), fmt.Sprintf("new%d", i), time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC), ing))
	}
	if err := s.Handle(context.Background(), msgs); err != nil {
		t.Fatalf("Handle = %v, want nil (the batch completes)", err)
	}
	if f.ensured["articles-1987"] != 1 || f.ensured["articles-1988"] != 1 {
		t.Errorf("creation attempts %v, want 1 at each index refused for the shard limit (a cluster-wide limit does not lift a second later)", f.ensured)
	}
	if len(f.requests) != 1 || len(f.requests[0]) != 5 {
		t.Fatalf("requests %v, want one with the 5 documents whose index exists", f.requests)
	}
	if len(d.msgs) != 12 {
		t.Fatalf("%d dead letters, want the 12 documents of the refused indices", len(d.msgs))
	}
	for _, dm := range d.msgs {
		r := kafkax.Header(dm, kafkax.HeaderError)
		if !strings.HasPrefix(string(dm.Key), "old") || !strings.Contains(r, "refused to create index articles-198") ||
			!strings.Contains(r, "validation_exception") || !strings.Contains(r, "maximum shards open") {
			t.Errorf("dead letter %s: reason %q", dm.Key, r)
		}
	}
	if got := testutil.ToFloat64(m.DeadLettered.WithLabelValues("index_creation")); got != 12 {
		t.Errorf("dead_lettered{index_creation} %v, want 12", got)
	}
	if got := testutil.ToFloat64(m.Produced.WithLabelValues("articles")); got != 5 {
		t.Errorf("produced %v, want 5", got)
	}
	if got := testutil.ToFloat64(m.Retries.WithLabelValues("ensure_index")); got != 0 {
		t.Errorf("retries{ensure_index} %v, want 0 (decided in one round)", got)
	}
	// A refusal is remembered for a while: the next batch's documents for that index are
	// dead-lettered at once, without more doomed requests.
	if err := s.Handle(context.Background(), msgs[:2]); err != nil || f.ensured["articles-1987"] != 1 || len(d.msgs) != 14 {
		t.Fatalf("next batch: %v, attempts %d, dead letters %d; want no new attempt and 2 more dead letters", err, f.ensured["articles-1987"], len(d.msgs))
	}
	if r := kafkax.Header(d.msgs[13], kafkax.HeaderError); !strings.Contains(r, "maximum shards open") {
		t.Errorf("remembered refusal: reason %q", r)
	}
}

// TestRefusalIsAskedAgainWithoutMemory: with RefusalMemory off, a later batch asks the engine
// again (the shard limit may have been raised meanwhile) and indexes the documents it now can.
func TestRefusalIsAskedAgainWithoutMemory(t *testing.T) {
	f, d := newFake(), &fakeDLQ{}
	limit := true
	f.ensure = func(index string, n int) error {
		if limit {
			return shardLimit(index)
		}
		return nil
	}
	s := sink.New(sink.Config{Names: schema.Names{Prefix: "articles"}, Version: 1, Workers: 2, RefusalMemory: -1,
		Backoff: retry.Backoff{Initial: time.Millisecond, Max: 5 * time.Millisecond}, Topic: "in"},
		f, d, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err := s.Handle(context.Background(), batch(2)); err != nil || len(d.msgs) != 2 || f.ensured["articles-2019.08"] != 1 {
		t.Fatalf("first batch: %v, %d dead letters, %d attempts", err, len(d.msgs), f.ensured["articles-2019.08"])
	}
	limit = false
	if err := s.Handle(context.Background(), batch(2)); err != nil || len(d.msgs) != 2 || len(f.attempts) != 2 {
		t.Fatalf("second batch: %v, %d dead letters, %d documents indexed; want 2 indexed", err, len(d.msgs), len(f.attempts))
	}
}

// TestIndexCreationOutagesAreRetried: what may pass (connection errors, 5xx, 429, missing
// credentials or privileges, cluster blocks) is retried until it does, never dead-lettered.
func TestIndexCreationOutagesAreRetried(t *testing.T) {
	tests := []struct {
		name string
		err  error
	}{
		{"connection refused", errors.New("PUT /articles-2019.08: dial tcp 127.0.0.1:9200: connect: connection refused")},
		{"503", &search.HTTPError{Method: "PUT", Status: 503, Body: `{"error":{"type":"master_not_discovered_exception","reason":"x"},"status":503}`}},
		{"429", &search.HTTPError{Method: "PUT", Status: 429, Body: `{"error":{"type":"es_rejected_execution_exception","reason":"x"},"status":429}`}},
		{"401", &search.HTTPError{Method: "PUT", Status: 401, Body: `{"error":{"type":"security_exception","reason":"missing authentication credentials"},"status":401}`}},
		{"403 privileges", &search.HTTPError{Method: "PUT", Status: 403, Body: `{"error":{"type":"security_exception","reason":"action [indices:admin/create] is unauthorized"},"status":403}`}},
		{"403 block", &search.HTTPError{Method: "PUT", Status: 403, Body: `{"error":{"type":"cluster_block_exception","reason":"index [x] blocked by: [FORBIDDEN/12/index read-only / allow delete (api)]"},"status":403}`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, d := newFake(), &fakeDLQ{}
			f.ensure = func(index string, n int) error {
				if n <= 5 { // more than CreateAttempts: an outage is not a refusal
					return tc.err
				}
				return nil
			}
			s, m := newSink(f, d, 5<<20)
			if err := s.Handle(context.Background(), batch(3)); err != nil {
				t.Fatal(err)
			}
			if len(d.msgs) != 0 || len(f.attempts) != 3 {
				t.Fatalf("%d dead letters, %d documents indexed; want 0 and 3", len(d.msgs), len(f.attempts))
			}
			if got := testutil.ToFloat64(m.Retries.WithLabelValues("ensure_index")); got != 15 {
				t.Errorf("retries{ensure_index} %v, want 15", got)
			}
		})
	}
}

// TestOutOfWindowDatesCreateNoIndex: a publication date before the floor or too far in the
// future creates no index; the message is dead-lettered with the reason.
func TestOutOfWindowDatesCreateNoIndex(t *testing.T) {
	f, d := newFake(), &fakeDLQ{}
	s, m := newSink(f, d, 5<<20)
	now := time.Now()
	msgs := []kafka.Message{
		msgAt(1, "ancient", time.Date(1850, 3, 1, 0, 0, 0, 0, time.UTC), now),
		msgAt(2, "future", now.Add(72*time.Hour), now),
		msgAt(3, "far", time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), now),
		msgAt(4, "ok", now, now),
	}
	if err := s.Handle(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
	if len(f.made) != 1 || len(f.attempts) != 1 {
		t.Fatalf("indices %v, documents %v; want only the current month's", f.made, f.attempts)
	}
	if len(d.msgs) != 3 {
		t.Fatalf("%d dead letters, want 3", len(d.msgs))
	}
	for _, dm := range d.msgs {
		if r := kafkax.Header(dm, kafkax.HeaderError); !strings.Contains(r, "published_at") {
			t.Errorf("dead letter %s: reason %q", dm.Key, r)
		}
	}
	if got := testutil.ToFloat64(m.DeadLettered.WithLabelValues("out_of_range")); got != 3 {
		t.Errorf("dead_lettered{out_of_range} %v, want 3", got)
	}
}

// TestVersionConflictIsSuperseded: every document is written with external versioning on its
// ingested_at, and a 409 version conflict (the engine holds the same or a newer version) is done:
// counted as superseded, neither retried nor dead-lettered nor counted as produced.
func TestVersionConflictIsSuperseded(t *testing.T) {
	f, d := newFake(), &fakeDLQ{}
	f.item = func(id string, attempt int) verdict {
		if id == "d01" {
			return verdict{409, "version_conflict_engine_exception"}
		}
		return verdict{status: 201}
	}
	s, m := newSink(f, d, 5<<20)
	if err := s.Handle(context.Background(), batch(3)); err != nil {
		t.Fatal(err)
	}
	if len(f.requests) != 1 || len(d.msgs) != 0 {
		t.Fatalf("%d requests, %d dead letters; want 1 and 0", len(f.requests), len(d.msgs))
	}
	if got := testutil.ToFloat64(m.Superseded); got != 1 {
		t.Errorf("superseded %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.Produced.WithLabelValues("articles")); got != 2 {
		t.Errorf("produced %v, want 2", got)
	}
	ing, _ := time.Parse(time.RFC3339, "2019-08-21T08:00:01Z")
	want := fmt.Sprintf(`"version":%d,"version_type":"external"`, ing.UnixMicro())
	if a := f.actions["d00"]; !strings.Contains(a, want) {
		t.Errorf("action %s, want it to carry %s", a, want)
	}
}

// TestDuplicatesInBatchKeepTheNewerVersion: of two copies of one article in a batch the one with
// the later ingested_at is written, even when it comes first.
func TestDuplicatesInBatchKeepTheNewerVersion(t *testing.T) {
	f, d := newFake(), &fakeDLQ{}
	s, _ := newSink(f, d, 5<<20)
	pub := time.Date(2019, 8, 1, 0, 0, 0, 0, time.UTC)
	newer := msgAt(1, "same", pub, pub.Add(2*time.Hour))
	newer.Value = bytes.Replace(newer.Value, []byte(`"title":"t"`), []byte(`"title":"newer"`), 1)
	older := msgAt(2, "same", pub, pub.Add(time.Hour))
	if err := s.Handle(context.Background(), []kafka.Message{newer, older}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(f.sources["same"], `"newer"`) {
		t.Fatalf("source %s, want the newer copy", f.sources["same"])
	}
}

// TestKnownIndexNotHeldUpByCreation: documents for an index that exists are sent while the
// indices of the others are still being created (a batch of archive articles needing dozens of
// new indices must not delay the current news beside it).
func TestKnownIndexNotHeldUpByCreation(t *testing.T) {
	f, d := newFake(), &fakeDLQ{}
	s, _ := newSink(f, d, 5<<20)
	if err := s.Handle(context.Background(), batch(1)); err != nil { // creates articles-2019.08
		t.Fatal(err)
	}
	sent := make(chan struct{})
	var once sync.Once
	f.item = func(id string, attempt int) verdict {
		if id == "current" {
			once.Do(func() { close(sent) })
		}
		return verdict{status: 201}
	}
	f.ensure = func(index string, n int) error {
		if index != "articles-1987.03" {
			return nil
		}
		select {
		case <-sent:
		case <-time.After(5 * time.Second):
			t.Errorf("creating %s waited for nothing: the document of the existing index was not sent meanwhile", index)
		}
		return nil
	}
	ing := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	msgs := []kafka.Message{msgAt(1, "archive", time.Date(1987, 3, 1, 0, 0, 0, 0, time.UTC), ing),
		msgAt(2, "current", time.Date(2019, 8, 2, 0, 0, 0, 0, time.UTC), ing)}
	if err := s.Handle(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
	if f.attempts["archive"] != 1 || f.attempts["current"] != 1 || len(d.msgs) != 0 {
		t.Fatalf("attempts %v, dead letters %d", f.attempts, len(d.msgs))
	}
}

// TestDeadLetterReasonsStartAtZero: every reason the sink dead-letters with is on /metrics at 0
// before the first dead letter, so the alerts see the first one as an increase.
func TestDeadLetterReasonsStartAtZero(t *testing.T) {
	m := sink.NewMetrics(prometheus.NewRegistry())
	reasons := []string{"invalid", "out_of_range", "rejected", "index_creation"}
	if n := testutil.CollectAndCount(m.DeadLettered); n != len(reasons) {
		t.Errorf("%d dead_lettered_total series before any dead letter, want %d (%v)", n, len(reasons), reasons)
	}
	for _, r := range reasons {
		if got := testutil.ToFloat64(m.DeadLettered.WithLabelValues(r)); got != 0 {
			t.Errorf("dead_lettered_total{reason=%q} = %v, want 0", r, got)
		}
	}
}

// TestIndexRefusalGetsBoundedAttempts: a refusal about the index itself (not the cluster's shard
// limit) gets CreateAttempts attempts before its documents are dead-lettered.
func TestIndexRefusalGetsBoundedAttempts(t *testing.T) {
	f, d := newFake(), &fakeDLQ{}
	f.ensure = func(index string, n int) error {
		return &search.HTTPError{Method: "PUT", Path: "/" + index, Status: 400,
			Body: `{"error":{"type":"invalid_index_name_exception","reason":"Invalid index name [` + index + `]"},"status":400}`}
	}
	s := sink.New(sink.Config{Names: schema.Names{Prefix: "articles"}, Version: 1, Workers: 2, CreateAttempts: 3,
		Backoff: retry.Backoff{Initial: time.Millisecond, Max: 5 * time.Millisecond}, Topic: "in"},
		f, d, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err := s.Handle(context.Background(), batch(2)); err != nil || len(d.msgs) != 2 || f.ensured["articles-2019.08"] != 3 {
		t.Fatalf("Handle: %v, %d dead letters, %d creation attempts; want 2 dead letters after 3 attempts", err, len(d.msgs), f.ensured["articles-2019.08"])
	}
}

// TestConcurrentHandlesShareWorkers: the consumer hands the sink up to Depth batches at once;
// together they keep at most Workers _bulk requests in flight (the engine sees the load it was
// sized for), and every document of both is indexed.
func TestConcurrentHandlesShareWorkers(t *testing.T) {
	f, d := newFake(), &fakeDLQ{}
	var mu sync.Mutex
	inFlight, peak := 0, 0
	f.whole = func(int, []string) (int, error) {
		mu.Lock()
		inFlight++
		peak = max(peak, inFlight)
		mu.Unlock()
		time.Sleep(5 * time.Millisecond)
		mu.Lock()
		inFlight--
		mu.Unlock()
		return 0, nil
	}
	s, _ := newSink(f, d, 1024) // Workers 3; a few documents per request
	var other []kafka.Message
	for i := 0; i < 60; i++ {
		other = append(other, msg(int64(100+i), fmt.Sprintf("e%02d", i)))
	}
	var g errgroup.Group
	for _, b := range [][]kafka.Message{batch(60), other} {
		g.Go(func() error { return s.Handle(context.Background(), b) })
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if len(f.attempts) != 120 {
		t.Fatalf("%d documents indexed, want 120", len(f.attempts))
	}
	if peak > 3 {
		t.Fatalf("%d _bulk requests in flight at once across two batches, want at most Workers (3)", peak)
	}
}

// TestBatchSplitsOnlyBetweenIdleWorkers: a batch is split between the workers that are idle, so
// that the engine works on it in parallel; while another batch keeps a worker busy it goes in as
// one request (fewer, larger requests cost the engine fewer translog syncs).
func TestBatchSplitsOnlyBetweenIdleWorkers(t *testing.T) {
	f, d := newFake(), &fakeDLQ{}
	inEngine, release := make(chan struct{}), make(chan struct{})
	f.whole = func(_ int, ids []string) (int, error) {
		if ids[0] == "blocker" {
			close(inEngine)
			<-release
		}
		return 0, nil
	}
	s := sink.New(sink.Config{Names: schema.Names{Prefix: "articles"}, Version: 1, Workers: 2,
		Backoff: retry.Backoff{Initial: time.Millisecond, Max: 5 * time.Millisecond}, Topic: "in"},
		f, d, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	big := func(prefix string) []kafka.Message { // 60 documents of ~20 KB: 1.2 MB, under FlushBytes
		var out []kafka.Message
		for i := 0; i < 60; i++ {
			id := fmt.Sprintf("%s%02d", prefix, i)
			v := fmt.Sprintf(`{"id":%q,"title":"t","body":%q,"published_at":"2019-08-21T08:00:00Z","ingested_at":"2019-08-21T08:00:01Z"}`, id, strings.Repeat("word ", 4000))
			out = append(out, kafka.Message{Topic: "in", Partition: 1, Offset: int64(i), Key: []byte(id), Value: []byte(v)})
		}
		return out
	}
	requestsOf := func(prefix string) int {
		f.mu.Lock()
		defer f.mu.Unlock()
		n := 0
		for _, ids := range f.requests {
			if strings.HasPrefix(ids[0], prefix) {
				n++
			}
		}
		return n
	}
	blocked := make(chan error, 1)
	go func() { blocked <- s.Handle(context.Background(), []kafka.Message{msg(0, "blocker")}) }()
	<-inEngine
	if err := s.Handle(context.Background(), big("busy")); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := <-blocked; err != nil {
		t.Fatal(err)
	}
	if err := s.Handle(context.Background(), big("idle")); err != nil {
		t.Fatal(err)
	}
	if got := requestsOf("busy"); got != 1 {
		t.Errorf("a batch sent while the other worker was busy went in %d requests, want 1", got)
	}
	if got := requestsOf("idle"); got != 2 {
		t.Errorf("a batch sent with both workers idle went in %d requests, want 2 (one per worker)", got)
	}
}

// TestShutdownWhileWaitingForAWorker: a batch whose context ends while every worker is busy
// with another batch's requests is not done: its documents were never sent, so Handle must
// fail (and nothing be committed) rather than count them indexed.
func TestShutdownWhileWaitingForAWorker(t *testing.T) {
	f, d := newFake(), &fakeDLQ{}
	hold := make(chan struct{})
	f.whole = func(int, []string) (int, error) {
		<-hold
		return 0, nil
	}
	s, _ := newSink(f, d, 100) // Workers 3; one document per request
	first := make(chan error, 1)
	go func() {
		var b []kafka.Message
		for i := 0; i < 3; i++ {
			b = append(b, msg(int64(i), fmt.Sprintf("big%02d", i)))
		}
		first <- s.Handle(context.Background(), b)
	}()
	testenvEventually(t, func() bool { f.mu.Lock(); defer f.mu.Unlock(); return len(f.requests) == 3 })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := s.Handle(ctx, []kafka.Message{msg(100, "x00"), msg(101, "x01")})
	close(hold)
	if ferr := <-first; ferr != nil {
		t.Fatal(ferr)
	}
	if err == nil {
		t.Fatal("Handle returned nil with its documents never sent")
	}
}

// testenvEventually polls cond every millisecond for up to 5 s.
func testenvEventually(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not met within 5 s")
}

// fakeStories is a hand-written sink.Stories: it fails the first fails lookups, then marks
// every document but the first a duplicate of it.
type fakeStories struct {
	mu    sync.Mutex
	calls int
	fails int
}

func (f *fakeStories) Assign(ctx context.Context, docs []*document.Document) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls++; f.calls <= f.fails {
		return errors.New("search engine unavailable")
	}
	for _, d := range docs[1:] {
		d.DuplicateOf, d.StoryID = docs[0].ID, docs[0].ID
	}
	return nil
}

// TestStoriesDecideBeforeWriting: the lookup's decisions are in the documents written, and a
// failed lookup is retried, not skipped (which would make the batch originals for good).
func TestStoriesDecideBeforeWriting(t *testing.T) {
	f, d := newFake(), &fakeDLQ{}
	st := &fakeStories{fails: 2}
	m := sink.NewMetrics(prometheus.NewRegistry())
	s := sink.New(sink.Config{Names: schema.Names{Prefix: "articles"}, Version: 1, Workers: 1, Stories: st,
		Backoff: retry.Backoff{Initial: time.Millisecond, Max: 5 * time.Millisecond}, Topic: "in"},
		f, d, slog.New(slog.NewTextHandler(io.Discard, nil)), m)
	if err := s.Handle(context.Background(), batch(3)); err != nil {
		t.Fatal(err)
	}
	if st.calls != 3 {
		t.Errorf("%d lookups, want 3 (two failures retried)", st.calls)
	}
	if !strings.Contains(f.sources["d01"], `"duplicate_of":"d00","story_id":"d00"`) ||
		strings.Contains(f.sources["d00"], `"duplicate_of"`) || !strings.Contains(f.sources["d00"], `"story_id":"d00"`) {
		t.Errorf("sources:\n%s\n%s", f.sources["d00"], f.sources["d01"])
	}
	if got := testutil.ToFloat64(m.StoriesDocuments); got != 3 {
		t.Errorf("stories documents %v, want 3", got)
	}
	// A lookup that never succeeds holds the batch until shutdown: nothing is committed.
	st.fails = 1 << 30
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if err := s.Handle(ctx, batch(2)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Handle with a failing lookup = %v, want a deadline error", err)
	}
}

// TestSimilarityFieldsOnlyWithTheLookup: the signature and band keys are written when the story
// lookup is on (it queries them) and left out when it is off (nothing reads them, and they cost
// the engine half its indexing throughput).
func TestSimilarityFieldsOnlyWithTheLookup(t *testing.T) {
	similar := func(id string) kafka.Message {
		m := msg(0, id)
		m.Value = []byte(strings.TrimSuffix(string(m.Value), "}") + `,"similarity":{"signature":"c2ln","near_bands":["n1"],"story_bands":["s1"]}}`)
		return m
	}
	for _, on := range []bool{false, true} {
		f, d := newFake(), &fakeDLQ{}
		cfg := sink.Config{Names: schema.Names{Prefix: "articles"}, Version: 1, Workers: 1,
			Backoff: retry.Backoff{Initial: time.Millisecond, Max: 5 * time.Millisecond}, Topic: "in"}
		if on {
			cfg.Stories = &fakeStories{}
		}
		s := sink.New(cfg, f, d, slog.New(slog.NewTextHandler(io.Discard, nil)), sink.NewMetrics(prometheus.NewRegistry()))
		if err := s.Handle(context.Background(), []kafka.Message{similar("s00")}); err != nil {
			t.Fatal(err)
		}
		src := f.sources["s00"]
		if has := strings.Contains(src, `"minhash":"c2ln"`) && strings.Contains(src, `"near_bands":["n1"]`) && strings.Contains(src, `"story_bands":["s1"]`); has != on {
			t.Errorf("lookup on %v: similarity fields written %v: %s", on, has, src)
		}
	}
}
