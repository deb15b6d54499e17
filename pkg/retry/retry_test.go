package retry

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestDelayIsCappedAndGrows(t *testing.T) {
	b := Backoff{Initial: 10 * time.Millisecond, Max: 80 * time.Millisecond}
	for n := 1; n <= 20; n++ {
		d := b.Delay(n)
		step := 10 * time.Millisecond << (n - 1)
		if n > 4 {
			step = 80 * time.Millisecond
		}
		if d < step/2 || d > step {
			t.Fatalf("Delay(%d) = %v, want within [%v, %v]", n, d, step/2, step)
		}
	}
}

func TestDoRetriesUntilSuccess(t *testing.T) {
	calls, retries := 0, 0
	err := Do(context.Background(), Backoff{Initial: time.Millisecond, Max: 2 * time.Millisecond}, func(context.Context) error {
		calls++
		if calls < 4 {
			return errors.New("transient")
		}
		return nil
	}, func(int, error, time.Duration) { retries++ })
	if err != nil || calls != 4 || retries != 3 {
		t.Fatalf("err=%v calls=%d retries=%d", err, calls, retries)
	}
}

func TestDoStopsOnPermanentAndAttemptsAndCancel(t *testing.T) {
	boom := errors.New("bad request")
	calls := 0
	err := Do(context.Background(), Backoff{Initial: time.Millisecond}, func(context.Context) error { calls++; return Permanent(boom) }, nil)
	if !errors.Is(err, boom) || calls != 1 {
		t.Fatalf("permanent: err=%v calls=%d", err, calls)
	}
	calls = 0
	err = Do(context.Background(), Backoff{Initial: time.Millisecond, Attempts: 3}, func(context.Context) error { calls++; return boom }, nil)
	if !errors.Is(err, boom) || calls != 3 {
		t.Fatalf("attempts: err=%v calls=%d", err, calls)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = Do(ctx, Backoff{Initial: time.Hour}, func(context.Context) error { return boom }, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancel: err=%v", err)
	}
}
