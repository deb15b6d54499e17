package kafkax

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
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

// TestConsumerPipelinesAndCommitsInFetchOrder: with Depth 3, three batches are in the handler at
// once (with less the test would hang, and time out), and although the last one finishes first, the commits follow fetch order, so a commit
// never covers a batch that is still being written.
func TestConsumerPipelinesAndCommitsInFetchOrder(t *testing.T) {
	f := &fakeReader{msgs: msgs(6)}
	ctx, cancel := context.WithCancel(context.Background())
	finished := map[int64]chan struct{}{0: make(chan struct{}), 2: make(chan struct{}), 4: make(chan struct{})}
	c := &Consumer{Reader: f, Log: quiet, MaxBatch: 2, Linger: 10 * time.Millisecond, Depth: 3,
		Handler: func(_ context.Context, b []kafka.Message) error {
			first := b[0].Offset
			// Batch [4 5] finishes first, then [2 3], then [0 1]: [0 1] is in the handler
			// until [4 5] was handled, which only a depth of 3 allows.
			switch first {
			case 0:
				<-finished[2]
			case 2:
				<-finished[4]
			}
			f.mu.Lock()
			f.events = append(f.events, fmt.Sprintf("handled %d", first))
			f.mu.Unlock()
			close(finished[first])
			if first == 0 {
				cancel()
			}
			return nil
		}}
	if err := c.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(f.committed); got != "[0 1 2 3 4 5]" {
		t.Errorf("committed %s, want [0 1 2 3 4 5] (fetch order)", got)
	}
	want := "[handled 4 handled 2 handled 0 commit commit commit]"
	if got := fmt.Sprint(f.events); got != want {
		t.Errorf("events %s, want %s: no commit before the first batch is done", got, want)
	}
}

// TestConsumerCommitsNothingPastAFailedBatch: when an earlier batch fails for good, the later
// batch that succeeded is not committed either (its offsets would cover the failed one's), and
// Run returns the failure.
func TestConsumerCommitsNothingPastAFailedBatch(t *testing.T) {
	f := &fakeReader{msgs: msgs(4)}
	secondDone := make(chan struct{})
	c := &Consumer{Reader: f, Log: quiet, MaxBatch: 2, Linger: 10 * time.Millisecond, Depth: 2,
		Handler: func(hctx context.Context, b []kafka.Message) error {
			if b[0].Offset == 0 {
				<-secondDone
				return retry.Permanent(errors.New("mapping conflict"))
			}
			close(secondDone)
			return nil
		}}
	err := c.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "mapping conflict") {
		t.Fatalf("Run: %v, want the permanent failure", err)
	}
	if len(f.committed) != 0 {
		t.Fatalf("committed %v past a batch that failed; want nothing", f.committed)
	}
}

// TestConsumerDrainsEveryBatchInHand: shutdown during two batches in the handler finishes and
// commits both; past the drain deadline, a stuck first batch keeps the finished second one
// uncommitted too (both are redelivered).
func TestConsumerDrainsEveryBatchInHand(t *testing.T) {
	t.Run("within the deadline", func(t *testing.T) {
		f := &fakeReader{msgs: msgs(4)}
		ctx, cancel := context.WithCancel(context.Background())
		var started sync.WaitGroup
		started.Add(2)
		go func() { started.Wait(); cancel() }()
		c := &Consumer{Reader: f, Log: quiet, MaxBatch: 2, Linger: 10 * time.Millisecond, Depth: 2,
			Handler: func(hctx context.Context, b []kafka.Message) error {
				started.Done()
				<-ctx.Done() // shutdown begins while both are in hand
				select {
				case <-hctx.Done():
					return errors.New("handler context cancelled before the drain deadline")
				case <-time.After(20 * time.Millisecond):
				}
				return nil
			}}
		if err := c.Run(ctx); err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(f.committed); got != "[0 1 2 3]" {
			t.Fatalf("committed %s, want both batches in hand: [0 1 2 3]", got)
		}
	})
	t.Run("past the deadline", func(t *testing.T) {
		f := &fakeReader{msgs: msgs(4)}
		ctx, cancel := context.WithCancel(context.Background())
		c := &Consumer{Reader: f, Log: quiet, MaxBatch: 2, Linger: 10 * time.Millisecond, Depth: 2, DrainTimeout: 20 * time.Millisecond,
			Backoff: retry.Backoff{Initial: time.Millisecond, Max: 5 * time.Millisecond},
			Handler: func(hctx context.Context, b []kafka.Message) error {
				if b[0].Offset == 0 {
					return errors.New("search node down") // retried until the deadline
				}
				cancel()
				return nil
			}}
		if err := c.Run(ctx); err != nil {
			t.Fatal(err)
		}
		if len(f.committed) != 0 {
			t.Fatalf("committed %v behind a batch abandoned at the deadline; want nothing", f.committed)
		}
	})
}

// TestConsumerHoldsAtMostMaxBatchBytesAcrossDepth: with Depth 2 every batch gathers at most half
// the budget, so the bytes held across all batches in hand stay within MaxBatchBytes.
func TestConsumerHoldsAtMostMaxBatchBytesAcrossDepth(t *testing.T) {
	in := make([]kafka.Message, 12)
	for i := range in {
		in[i] = kafka.Message{Offset: int64(i), Value: make([]byte, 100)}
	}
	f := &fakeReader{msgs: in}
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var sizes []int
	var peak, last int64
	c := &Consumer{Reader: f, Log: quiet, MaxBatch: 100, Linger: 20 * time.Millisecond, MaxBatchBytes: 400, Depth: 2,
		OnHeld: func(n int64) { peak, last = max(peak, n), n }, // called under the consumer's lock
		Handler: func(_ context.Context, b []kafka.Message) error {
			time.Sleep(5 * time.Millisecond) // both batches in hand at once
			mu.Lock()
			sizes = append(sizes, len(b))
			mu.Unlock()
			if b[len(b)-1].Offset == 11 {
				cancel()
			}
			return nil
		}}
	if err := c.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(sizes) != "[2 2 2 2 2 2]" {
		t.Errorf("batches of 100-byte messages under a 400-byte budget at depth 2: %v, want [2 2 2 2 2 2]", sizes)
	}
	if peak != 400 || last != 0 {
		t.Errorf("bytes held: peak %d, last %d; want 400 (two batches of 200) and 0 after the last commit", peak, last)
	}
}

// erringReader fails its first fetches with err, then hands out the fakeReader's messages.
type erringReader struct {
	*fakeReader
	fails int
	err   error
}

func (r *erringReader) FetchMessage(ctx context.Context) (kafka.Message, error) {
	r.mu.Lock()
	if r.fails > 0 {
		r.fails--
		r.mu.Unlock()
		return kafka.Message{}, r.err
	}
	r.mu.Unlock()
	return r.fakeReader.FetchMessage(ctx)
}

// TestConsumerFetchesPastReaderErrors: kafka-go reports a partition leader it cannot reach (a
// broker of the cluster died and is not fenced yet) and goes on trying; the consumer reports each
// error, waits and fetches again, and the messages after it are handled and committed. Only a
// closed reader (io.EOF) stops it.
func TestConsumerFetchesPastReaderErrors(t *testing.T) {
	f := &fakeReader{msgs: msgs(3)}
	r := &erringReader{fakeReader: f, fails: 3, err: errors.New("failed to dial: connection refused")}
	ctx, cancel := context.WithCancel(context.Background())
	reported := 0
	c := &Consumer{Reader: r, Log: quiet, MaxBatch: 3, Linger: time.Millisecond, Backoff: retry.Backoff{Initial: time.Millisecond, Max: 2 * time.Millisecond},
		OnFetchError: func(error) { reported++ },
		Handler: func(_ context.Context, b []kafka.Message) error {
			if b[len(b)-1].Offset == 2 {
				cancel()
			}
			return nil
		}}
	if err := c.Run(ctx); err != nil {
		t.Fatalf("Run: %v, want the fetch errors waited out", err)
	}
	if reported != 3 || fmt.Sprint(f.committed) != "[0 1 2]" {
		t.Fatalf("fetch errors reported %d, committed %v; want 3 and [0 1 2]", reported, f.committed)
	}

	closed := &erringReader{fakeReader: &fakeReader{}, fails: 1, err: io.EOF}
	c = &Consumer{Reader: closed, Log: quiet, Handler: func(context.Context, []kafka.Message) error { return nil }}
	if err := c.Run(context.Background()); err == nil || !errors.Is(err, io.EOF) {
		t.Fatalf("Run on a closed reader: %v, want io.EOF", err)
	}
}

// TestConsumerPermanentFailureStopsBatchesStillRetrying: a batch failing for good stops the
// others in hand, even one retrying forever (the engine away), and releases every byte held.
func TestConsumerPermanentFailureStopsBatchesStillRetrying(t *testing.T) {
	f := &fakeReader{msgs: msgs(4)}
	for i := range f.msgs {
		f.msgs[i].Value = make([]byte, 10)
	}
	var last int64 = -1
	laterStarted := make(chan struct{})
	var once sync.Once
	c := &Consumer{Reader: f, Log: quiet, MaxBatch: 2, Linger: time.Millisecond, Depth: 2,
		Backoff: retry.Backoff{Initial: time.Millisecond, Max: 2 * time.Millisecond},
		OnHeld:  func(n int64) { last = n },
		Handler: func(ctx context.Context, b []kafka.Message) error {
			if b[0].Offset == 0 {
				<-laterStarted
				return retry.Permanent(errors.New("mapping conflict"))
			}
			once.Do(func() { close(laterStarted) })
			return errors.New("search node down")
		}}
	done := make(chan error, 1)
	go func() { done <- c.Run(context.Background()) }()
	select {
	case err := <-done:
		if err == nil || len(f.committed) != 0 || last != 0 {
			t.Fatalf("Run %v, committed %v, bytes held at the end %d; want the failure, nothing committed, 0", err, f.committed, last)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run still running 5 s after a permanent failure, the later batch retrying")
	}
}

// TestConsumerFetchErrorKinds: an error reported while a batch gathers is counted too (kafka-go
// reports each once); a refusal of the credentials or rights stops Run at once; a reader closed
// under a running consumer ends it after the drain deadline even with a batch still retrying.
func TestConsumerFetchErrorKinds(t *testing.T) {
	t.Run("during linger", func(t *testing.T) {
		f := &fakeReader{msgs: msgs(1)}
		r := &lingerErrReader{fakeReader: f}
		ctx, cancel := context.WithCancel(context.Background())
		reported := 0
		c := &Consumer{Reader: r, Log: quiet, MaxBatch: 10, Linger: 50 * time.Millisecond,
			OnFetchError: func(error) { reported++ },
			Handler:      func(context.Context, []kafka.Message) error { cancel(); return nil }}
		if err := c.Run(ctx); err != nil {
			t.Fatal(err)
		}
		if reported != 1 || fmt.Sprint(f.committed) != "[0]" {
			t.Fatalf("reported %d, committed %v; want 1 and [0]", reported, f.committed)
		}
	})
	t.Run("authorization", func(t *testing.T) {
		r := &erringReader{fakeReader: &fakeReader{}, fails: 1, err: fmt.Errorf("fetching: %w", kafka.TopicAuthorizationFailed)}
		c := &Consumer{Reader: r, Log: quiet, Handler: func(context.Context, []kafka.Message) error { return nil }}
		if err := c.Run(context.Background()); !errors.Is(err, kafka.TopicAuthorizationFailed) {
			t.Fatalf("Run: %v, want the authorization failure", err)
		}
	})
	t.Run("closed reader", func(t *testing.T) {
		r := &closingReader{} // one message, then closed
		c := &Consumer{Reader: r, Log: quiet, Depth: 2, DrainTimeout: 20 * time.Millisecond, Linger: time.Millisecond,
			Backoff: retry.Backoff{Initial: time.Millisecond, Max: 2 * time.Millisecond},
			Handler: func(context.Context, []kafka.Message) error { return errors.New("search node down") }}
		done := make(chan error, 1)
		go func() { done <- c.Run(context.Background()) }()
		select {
		case err := <-done:
			if !errors.Is(err, io.EOF) {
				t.Fatalf("Run: %v, want io.EOF", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Run still running 5 s after its reader was closed")
		}
	})
}

// closingReader hands out one message, then reports that it was closed.
type closingReader struct {
	mu sync.Mutex
	n  int
}

func (r *closingReader) FetchMessage(ctx context.Context) (kafka.Message, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	if r.n == 1 {
		return kafka.Message{Offset: 0}, nil
	}
	return kafka.Message{}, io.EOF
}

func (r *closingReader) CommitMessages(context.Context, ...kafka.Message) error {
	return io.ErrClosedPipe
}

// lingerErrReader fails the fetch after the first message once, while a batch gathers.
type lingerErrReader struct {
	*fakeReader
	n int
}

func (r *lingerErrReader) FetchMessage(ctx context.Context) (kafka.Message, error) {
	r.n++
	if r.n == 2 {
		return kafka.Message{}, errors.New("failed to dial: connection refused")
	}
	return r.fakeReader.FetchMessage(ctx)
}
