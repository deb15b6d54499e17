package kafkax

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"go.uber.org/goleak"

	"github.com/newsflow/newsflow/pkg/retry"
)

// kafka-go's package-level DefaultTransport (used by kafka.Client) keeps a connection pool with
// its own goroutines for the life of the process; everything else must be gone when tests end.
// The pool's goroutines are ignored in whatever they are doing when the check runs (a metadata
// refresh in flight puts kafka-go's async.await or a socket read on top, not discover or run).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/segmentio/kafka-go.(*conn).run"),
		goleak.IgnoreAnyFunction("github.com/segmentio/kafka-go.(*connPool).discover"))
}

// fakeReader hands out a fixed list of messages and records commits.
type fakeReader struct {
	mu        sync.Mutex
	msgs      []kafka.Message
	committed []int64
	events    []string
	commitErr error // every commit fails with it, when set
}

func (f *fakeReader) FetchMessage(ctx context.Context) (kafka.Message, error) {
	f.mu.Lock()
	if len(f.msgs) > 0 {
		m := f.msgs[0]
		f.msgs = f.msgs[1:]
		f.mu.Unlock()
		return m, nil
	}
	f.mu.Unlock()
	<-ctx.Done()
	return kafka.Message{}, ctx.Err()
}

func (f *fakeReader) CommitMessages(_ context.Context, msgs ...kafka.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.commitErr != nil {
		return f.commitErr
	}
	for _, m := range msgs {
		f.committed = append(f.committed, m.Offset)
	}
	f.events = append(f.events, "commit")
	return nil
}

func msgs(n int) []kafka.Message {
	out := make([]kafka.Message, n)
	for i := range out {
		out[i] = kafka.Message{Offset: int64(i)}
	}
	return out
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestConsumerCommitsOnlyAfterHandlerSucceeds(t *testing.T) {
	f := &fakeReader{msgs: msgs(7)}
	ctx, cancel := context.WithCancel(context.Background())
	attempts := 0
	c := &Consumer{Reader: f, Log: quiet, MaxBatch: 3, Linger: time.Millisecond, Backoff: retry.Backoff{Initial: time.Millisecond},
		Handler: func(_ context.Context, b []kafka.Message) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			attempts++
			if attempts == 2 { // the second batch fails once and must be retried before any commit
				f.events = append(f.events, "fail")
				return errors.New("broker away")
			}
			f.events = append(f.events, "handled")
			if b[len(b)-1].Offset == 6 {
				cancel()
			}
			return nil
		}}
	if err := c.Run(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{"handled", "commit", "fail", "handled", "commit", "handled", "commit"}
	if len(f.events) != len(want) {
		t.Fatalf("events %v, want %v", f.events, want)
	}
	for i := range want {
		if f.events[i] != want[i] {
			t.Fatalf("events %v, want %v", f.events, want)
		}
	}
	if len(f.committed) != 7 || f.committed[6] != 6 {
		t.Fatalf("committed %v", f.committed)
	}
}

func TestConsumerFinishesBatchInHandOnShutdown(t *testing.T) {
	f := &fakeReader{msgs: msgs(2)}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Consumer{Reader: f, Log: quiet, MaxBatch: 10, Linger: time.Millisecond,
		Handler: func(hctx context.Context, b []kafka.Message) error {
			cancel() // shutdown begins while the batch is being handled
			select {
			case <-hctx.Done():
				return errors.New("handler context cancelled too early")
			case <-time.After(20 * time.Millisecond):
			}
			return nil
		}}
	if err := c.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if len(f.committed) != 2 {
		t.Fatalf("committed %v, want the batch in hand committed", f.committed)
	}
}

func TestConsumerAbandonsBatchAfterDrainTimeout(t *testing.T) {
	f := &fakeReader{msgs: msgs(1)}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Consumer{Reader: f, Log: quiet, DrainTimeout: 20 * time.Millisecond, Backoff: retry.Backoff{Initial: time.Millisecond, Max: 5 * time.Millisecond},
		Handler: func(context.Context, []kafka.Message) error { cancel(); return errors.New("search node down") }}
	if err := c.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if len(f.committed) != 0 {
		t.Fatalf("committed %v after a failed batch; want nothing", f.committed)
	}
}

func TestConsumerStopsOnPermanentError(t *testing.T) {
	f := &fakeReader{msgs: msgs(1)}
	c := &Consumer{Reader: f, Log: quiet, Handler: func(context.Context, []kafka.Message) error { return retry.Permanent(errors.New("bad config")) }}
	if err := c.Run(context.Background()); err == nil {
		t.Fatal("want an error")
	}
	if len(f.committed) != 0 {
		t.Fatalf("committed %v", f.committed)
	}
}

// TestConsumerCountsFailedCommits: a commit that still fails after its retries is reported to
// OnCommitError once per batch (the stages count it as failed_total{reason="commit"}), and the
// consumer goes on: the batch is redelivered, not lost.
func TestConsumerCountsFailedCommits(t *testing.T) {
	f := &fakeReader{msgs: msgs(4), commitErr: errors.New("rebalance in progress")}
	ctx, cancel := context.WithCancel(context.Background())
	handled, failed := 0, 0
	c := &Consumer{Reader: f, Log: quiet, MaxBatch: 2, Linger: time.Millisecond,
		Handler: func(_ context.Context, b []kafka.Message) error {
			handled += len(b)
			if b[len(b)-1].Offset == 3 {
				cancel()
			}
			return nil
		},
		OnCommitError: func(error) { failed++ }}
	if err := c.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if handled != 4 || failed != 2 || len(f.committed) != 0 {
		t.Fatalf("handled %d, failed commits %d, committed %v; want 4, 2 (one per batch), none", handled, failed, f.committed)
	}
}

// TestConsumerCapsBatchBytes: a batch stops gathering once its bytes reach MaxBatchBytes (the one
// message that crosses the cap included, so a record larger than the cap still flows), and the
// bytes held go back to 0 after the commit.
func TestConsumerCapsBatchBytes(t *testing.T) {
	in := make([]kafka.Message, 7)
	for i := range in {
		in[i] = kafka.Message{Offset: int64(i), Value: make([]byte, 100)}
	}
	f := &fakeReader{msgs: in}
	ctx, cancel := context.WithCancel(context.Background())
	var sizes []int
	var peak, last int64
	c := &Consumer{Reader: f, Log: quiet, MaxBatch: 100, Linger: 50 * time.Millisecond, MaxBatchBytes: 250,
		OnHeld: func(n int64) { peak, last = max(peak, n), n },
		Handler: func(_ context.Context, b []kafka.Message) error {
			sizes = append(sizes, len(b))
			if b[len(b)-1].Offset == 6 {
				cancel()
			}
			return nil
		}}
	if err := c.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(sizes) != "[3 3 1]" {
		t.Errorf("batches of 100-byte messages under a 250-byte cap: %v, want [3 3 1]", sizes)
	}
	if peak != 300 || last != 0 {
		t.Errorf("bytes held: peak %d, last %d; want 300 and 0 after the commit", peak, last)
	}
}
