package stage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"
	"go.uber.org/goleak"

	"github.com/newsflow/newsflow/pkg/article"
	"github.com/newsflow/newsflow/pkg/kafkax"
	"github.com/newsflow/newsflow/pkg/retry"
	"github.com/newsflow/newsflow/services/enrich/internal/enrich"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// fakeWriter records what Kafka acknowledged. Its first failures calls fail: with err, or, when
// partial is set, with a kafka.WriteErrors that refuses every other message of the call. cancel,
// when set, is called at the failure numbered cancelAt (1-based).
type fakeWriter struct {
	mu       sync.Mutex
	failures int
	err      error
	partial  bool
	cancel   func()
	cancelAt int

	calls  int
	failed int
	acked  []kafka.Message
}

func (w *fakeWriter) WriteMessages(ctx context.Context, msgs ...kafka.Message) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls++
	if err := ctx.Err(); err != nil {
		return err
	}
	if w.failed >= w.failures {
		w.acked = append(w.acked, msgs...)
		return nil
	}
	w.failed++
	if w.cancel != nil && w.failed == w.cancelAt {
		w.cancel()
	}
	err := w.err
	if err == nil {
		err = errors.New("kafka: broker not available")
	}
	if !w.partial {
		return err
	}
	werr := make(kafka.WriteErrors, len(msgs))
	for i, m := range msgs {
		if i%2 == 1 {
			werr[i] = err
		} else {
			w.acked = append(w.acked, m)
		}
	}
	return werr
}

// keys returns the keys of the acknowledged messages, sorted.
func (w *fakeWriter) keys() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var ks []string
	for _, m := range w.acked {
		ks = append(ks, string(m.Key))
	}
	sort.Strings(ks)
	return ks
}

// countingEntities finds one PERSON per article and counts the articles it was asked about,
// by title: an article enriched twice shows as 2.
type countingEntities struct {
	mu    sync.Mutex
	calls map[string]int
}

func (c *countingEntities) Extract(title, _ string) []article.Entity {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[title]++
	return []article.Entity{{Name: "Ali Shamkhani", Type: article.TypePerson, Mentions: []article.Mention{{Field: article.FieldTitle, Start: 0, End: 1}}}}
}

// oneDate finds one day-granularity date in every body.
type oneDate struct{}

func (oneDate) Extract(field, _ string, _ time.Time) []article.DateMention {
	if field != article.FieldBody {
		return nil
	}
	return []article.DateMention{{Text: "yesterday", Field: field, Start: 0, End: 9, Value: "2019-08-20", Granularity: "day"}}
}

// fixture is a stage on fakes, and a batch of good articles with poison records among them.
type fixture struct {
	stage    *Stage
	m        *Metrics
	entities *countingEntities
	out, dlq *fakeWriter
	batch    []kafka.Message
	good     []string // keys of the good articles
	poison   []string // keys of the records that can never be enriched
}

func newFixture(t *testing.T, out, dlq *fakeWriter) *fixture {
	t.Helper()
	f := &fixture{m: NewMetrics(prometheus.NewRegistry()), entities: &countingEntities{calls: map[string]int{}}, out: out, dlq: dlq}
	en := &enrich.Enricher{Entities: f.entities, Dates: oneDate{}, Version: "test"}
	f.stage = New(Config{Workers: 3, Output: "out", WriteTimeout: time.Second, Backoff: retry.Backoff{Initial: time.Millisecond, Max: 2 * time.Millisecond}},
		en, out, dlq, quiet, f.m)
	for i := range 8 {
		id := fmt.Sprintf("art-%d", i)
		v, _ := json.Marshal(article.Article{ID: id, Source: "test", Title: "Title " + id, Body: "Officials met yesterday.",
			PublishedAt: time.Date(2019, 8, 21, 8, 0, 0, 0, time.UTC)})
		f.batch = append(f.batch, kafka.Message{Topic: "raw", Partition: 0, Offset: int64(len(f.batch)), Key: []byte(id), Value: v})
		f.good = append(f.good, id)
		if i%3 == 1 { // poison among the good ones
			key := fmt.Sprintf("poison-%d", i)
			f.batch = append(f.batch, kafka.Message{Topic: "raw", Partition: 0, Offset: int64(len(f.batch)), Key: []byte(key), Value: []byte("{not json")})
			f.poison = append(f.poison, key)
		}
	}
	sort.Strings(f.good)
	sort.Strings(f.poison)
	return f
}

// checkOnce asserts that every article was enriched once, every dead letter and every enriched
// record acknowledged once, and every counter counted each record once.
func (f *fixture) checkOnce(t *testing.T) {
	t.Helper()
	for _, id := range f.good {
		if n := f.entities.calls["Title "+id]; n != 1 {
			t.Errorf("%s enriched %d times, want once", id, n)
		}
	}
	if got := f.out.keys(); strings.Join(got, ",") != strings.Join(f.good, ",") {
		t.Errorf("output acknowledged %v, want each of %v once", got, f.good)
	}
	if got := f.dlq.keys(); strings.Join(got, ",") != strings.Join(f.poison, ",") {
		t.Errorf("dead letters acknowledged %v, want each of %v once", got, f.poison)
	}
	n := float64(len(f.good))
	for name, c := range map[string]struct{ got, want float64 }{
		"received_total{topic=raw}":               {testutil.ToFloat64(f.m.Received.WithLabelValues("raw")), float64(len(f.batch))},
		"produced_total{topic=out}":               {testutil.ToFloat64(f.m.Produced.WithLabelValues("out")), n},
		"entities_total{type=PERSON}":             {testutil.ToFloat64(f.m.Entities.WithLabelValues(article.TypePerson)), n},
		"dates_total{granularity=day}":            {testutil.ToFloat64(f.m.Dates.WithLabelValues("day")), n},
		"dead_lettered_total{reason=undecodable}": {testutil.ToFloat64(f.m.DeadLettered.WithLabelValues(reasonUndecodable)), float64(len(f.poison))},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", name, c.got, c.want)
		}
	}
}

// fakeReader hands out a fixed list of messages, then waits for the context; it records commits.
type fakeReader struct {
	mu        sync.Mutex
	msgs      []kafka.Message
	committed []int64
}

func (r *fakeReader) FetchMessage(ctx context.Context) (kafka.Message, error) {
	r.mu.Lock()
	if len(r.msgs) > 0 {
		m := r.msgs[0]
		r.msgs = r.msgs[1:]
		r.mu.Unlock()
		return m, nil
	}
	r.mu.Unlock()
	<-ctx.Done()
	return kafka.Message{}, ctx.Err()
}

func (r *fakeReader) CommitMessages(_ context.Context, msgs ...kafka.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range msgs {
		r.committed = append(r.committed, m.Offset)
	}
	return nil
}

func (r *fakeReader) commits() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.committed)
}

// consume runs the batch through kafkax.Consumer with the stage as its handler, as enrich serve
// does, until stop says so or ctx ends, and returns the reader.
func (f *fixture) consume(t *testing.T, ctx context.Context, cancel func(), stop func(*fakeReader) bool) *fakeReader {
	t.Helper()
	r := &fakeReader{msgs: append([]kafka.Message(nil), f.batch...)}
	c := &kafkax.Consumer{Reader: r, Handler: f.stage.Handle, Log: quiet, MaxBatch: len(f.batch), Linger: 50 * time.Millisecond,
		Backoff: retry.Backoff{Initial: time.Millisecond, Max: 2 * time.Millisecond}, DrainTimeout: 100 * time.Millisecond}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	deadline := time.After(10 * time.Second)
	for !stop(r) && ctx.Err() == nil {
		select {
		case <-deadline:
			cancel()
			<-done
			t.Fatal("the consumer did not get there within 10 s")
		case <-ctx.Done():
		case <-time.After(time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("consumer: %v", err)
	}
	return r
}

// TestProduceFailuresRetryOnlyTheProduce: after N failed produces the batch is committed, and
// nothing of it was done twice: each article enriched once, each dead letter written once, each
// counter counting each record once. (A consumer retrying the whole batch did all of it N+1 times.)
func TestProduceFailuresRetryOnlyTheProduce(t *testing.T) {
	for _, tc := range []struct {
		name     string
		failures int
		partial  bool
	}{
		{"one failure", 1, false},
		{"four failures", 4, false},
		{"partial write errors", 3, true}, // kafka-go acknowledged some records of each attempt
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, &fakeWriter{failures: tc.failures, partial: tc.partial}, &fakeWriter{})
			ctx, cancel := context.WithCancel(context.Background())
			r := f.consume(t, ctx, cancel, func(r *fakeReader) bool { return r.commits() == len(f.batch) })
			if r.commits() != len(f.batch) {
				t.Fatalf("%d offsets committed, want %d", r.commits(), len(f.batch))
			}
			f.checkOnce(t)
			if f.out.calls != tc.failures+1 || f.dlq.calls != 1 {
				t.Errorf("%d produce calls and %d dead-letter calls, want %d and 1", f.out.calls, f.dlq.calls, tc.failures+1)
			}
			if got := testutil.ToFloat64(f.m.Failed.WithLabelValues(stepProduce)); got != float64(tc.failures) {
				t.Errorf("failed_total{reason=produce} = %v, want %d (one per failed attempt)", got, tc.failures)
			}
		})
	}
}

// TestDeadLetterFailuresRetryOnlyTheDeadLetters: a dead-letter topic that refuses writes a few
// times delays the batch, and again nothing is done twice.
func TestDeadLetterFailuresRetryOnlyTheDeadLetters(t *testing.T) {
	f := newFixture(t, &fakeWriter{}, &fakeWriter{failures: 3})
	if err := f.stage.Handle(context.Background(), f.batch); err != nil {
		t.Fatal(err)
	}
	f.checkOnce(t)
	if f.out.calls != 1 || f.dlq.calls != 4 {
		t.Errorf("%d produce calls and %d dead-letter calls, want 1 and 4", f.out.calls, f.dlq.calls)
	}
	if got := testutil.ToFloat64(f.m.Failed.WithLabelValues(stepDLQ)); got != 3 {
		t.Errorf("failed_total{reason=dlq} = %v, want 3", got)
	}
}

// TestContextEndingMidRetryCommitsNothing: when the consumer's context ends while a produce is
// being retried (shutdown past its drain deadline), Handle returns an error and the consumer
// commits nothing: the batch is redelivered rather than lost.
func TestContextEndingMidRetryCommitsNothing(t *testing.T) {
	t.Run("Handle", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		f := newFixture(t, &fakeWriter{failures: 1 << 30, cancel: cancel, cancelAt: 2}, &fakeWriter{})
		err := f.stage.Handle(ctx, f.batch)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Handle returned %v, want an error wrapping context.Canceled", err)
		}
		if got := testutil.ToFloat64(f.m.Produced.WithLabelValues("out")); got != 0 {
			t.Errorf("produced_total = %v for a batch Kafka never acknowledged", got)
		}
	})
	t.Run("consumer", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		out := &fakeWriter{failures: 1 << 30, cancel: cancel, cancelAt: 3}
		f := newFixture(t, out, &fakeWriter{})
		r := f.consume(t, ctx, cancel, func(*fakeReader) bool { return false }) // until the writer cancels
		if n := r.commits(); n != 0 {
			t.Fatalf("%d offsets committed although Kafka acknowledged no enriched record", n)
		}
		if len(out.acked) != 0 {
			t.Fatalf("%d records acknowledged by a writer that refuses all", len(out.acked))
		}
	})
}

// TestWriteFailuresAreCountedByStep: a failing dead-letter write counts as reason "dlq", a
// failing output write as "produce", so that the alerts can tell them apart.
func TestWriteFailuresAreCountedByStep(t *testing.T) {
	for _, tc := range []struct {
		name     string
		out, dlq *fakeWriter
		want     string
	}{
		{"dlq down", &fakeWriter{}, &fakeWriter{failures: 1 << 30, err: errors.New("dlq down")}, stepDLQ},
		{"output down", &fakeWriter{failures: 1 << 30, err: errors.New("out down")}, &fakeWriter{}, stepProduce},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.out, tc.dlq)
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			err := f.stage.Handle(ctx, []kafka.Message{{Value: []byte("{not json")}, {Value: []byte(`{"title":"A","body":"B"}`)}})
			if err == nil {
				t.Fatal("Handle succeeded with a writer that refuses everything")
			}
			other := stepProduce
			if tc.want == stepProduce {
				other = stepDLQ
			}
			if got := testutil.ToFloat64(f.m.Failed.WithLabelValues(tc.want)); got < 1 {
				t.Errorf("failed_total{reason=%s} = %v, want >= 1 (%v)", tc.want, got, err)
			}
			if got := testutil.ToFloat64(f.m.Failed.WithLabelValues(other)); got != 0 {
				t.Errorf("failed_total{reason=%s} = %v, want 0", other, got)
			}
		})
	}
}

// TestDeadLetterReasonsStartAtZero: every reason is on /metrics at 0 before the first dead
// letter, so the NewsflowDeadLetters alert sees the first one as an increase.
func TestDeadLetterReasonsStartAtZero(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	if n := testutil.CollectAndCount(m.DeadLettered); n != len(deadLetterReasons) {
		t.Errorf("%d dead_lettered_total series before any dead letter, want %d (%v)", n, len(deadLetterReasons), deadLetterReasons)
	}
}

// TestConcurrentBatchesEnrichEachArticleOnce: under a consumer with Depth 3 the stage handles
// several small batches at once while produces and dead-letter writes fail now and then; every
// article is still enriched once, each record and dead letter acknowledged once, and every
// offset committed.
func TestConcurrentBatchesEnrichEachArticleOnce(t *testing.T) {
	out := &fakeWriter{failures: 3}
	dlq := &fakeWriter{failures: 1}
	f := newFixture(t, out, dlq)
	ctx, cancel := context.WithCancel(context.Background())
	r := &fakeReader{msgs: f.batch}
	c := &kafkax.Consumer{Reader: r, Handler: f.stage.Handle, Log: quiet, MaxBatch: 2, Linger: 5 * time.Millisecond, Depth: 3,
		Backoff: retry.Backoff{Initial: time.Millisecond, Max: 2 * time.Millisecond}, DrainTimeout: time.Second}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	for deadline := time.Now().Add(5 * time.Second); r.commits() < len(f.batch) && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := r.commits(); got != len(f.batch) {
		t.Fatalf("%d of %d offsets committed", got, len(f.batch))
	}
	f.checkOnce(t)
}
