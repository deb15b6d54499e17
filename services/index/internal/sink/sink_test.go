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

	"github.com/newsflow/newsflow/pkg/kafkax"
	"github.com/newsflow/newsflow/pkg/retry"
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
}

func newFake() *fakeEngine {
	return &fakeEngine{attempts: map[string]int{}, sources: map[string]string{}}
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
		sc.Scan()
		ids = append(ids, action.Index.ID)
		f.mu.Lock()
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
		{"401 from a proxy", 401, nil, "request_4xx"},
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

type fakeFetcher struct {
	n         int
	committed int
}

func (f *fakeFetcher) FetchMessage(ctx context.Context) (kafka.Message, error) {
	f.n++
	return kafka.Message{Value: make([]byte, 100)}, nil
}

func (f *fakeFetcher) CommitMessages(ctx context.Context, msgs ...kafka.Message) error {
	f.committed += len(msgs)
	return nil
}

func TestCappedFetcher(t *testing.T) {
	ff := &fakeFetcher{}
	c := &sink.CappedFetcher{Fetcher: ff, Limit: 250}
	var got int
	for {
		if _, err := c.FetchMessage(context.Background()); err != nil {
			if !errors.Is(err, sink.ErrBatchFull) {
				t.Fatal(err)
			}
			break
		}
		got++
	}
	if got != 3 {
		t.Fatalf("fetched %d messages of 100 bytes under a 250-byte cap, want 3 (the one that crosses it included)", got)
	}
	_ = c.CommitMessages(context.Background(), kafka.Message{})
	if _, err := c.FetchMessage(context.Background()); err != nil {
		t.Fatalf("after commit: %v", err)
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
