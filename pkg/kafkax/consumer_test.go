package kafkax

import (
	"context"
	"errors"
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
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/segmentio/kafka-go.(*conn).run"),
		goleak.IgnoreTopFunction("github.com/segmentio/kafka-go.(*connPool).discover"))
}

// fakeReader hands out a fixed list of messages and records commits.
type fakeReader struct {
	mu        sync.Mutex
	msgs      []kafka.Message
	committed []int64
	events    []string
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
