// Package retry runs an operation again after retryable failures with capped exponential backoff
// and full jitter, and stops as soon as the context is done. newsflow never drops a record because
// a broker or the search engine was briefly away; it waits here instead.
package retry

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// Backoff describes the waits between attempts.
type Backoff struct {
	Initial time.Duration // first wait (default 100 ms)
	Max     time.Duration // cap on one wait (default 10 s)
	// Attempts bounds the number of attempts; 0 means until ctx is done.
	Attempts int
}

// Delay returns the wait before attempt n (n >= 1 is the first retry): a random duration up to
// min(Max, Initial*2^(n-1)), so that many clients retrying together do not stampede.
func (b Backoff) Delay(n int) time.Duration {
	initial, maxd := b.Initial, b.Max
	if initial <= 0 {
		initial = 100 * time.Millisecond
	}
	if maxd <= 0 {
		maxd = 10 * time.Second
	}
	d := initial
	for i := 1; i < n && d < maxd; i++ {
		d *= 2
	}
	if d > maxd {
		d = maxd
	}
	// Full jitter, but never less than half the step, so the wait still grows.
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// permanent marks an error that must not be retried.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent wraps err so that Do returns it at once instead of retrying.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanent{err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p)
}

// Do calls op until it succeeds, returns a Permanent error, the attempts run out or ctx is done.
// onRetry, if not nil, is told about every failure that will be retried and the wait before it.
func Do(ctx context.Context, b Backoff, op func(ctx context.Context) error, onRetry func(attempt int, err error, wait time.Duration)) error {
	for attempt := 1; ; attempt++ {
		err := op(ctx)
		if err == nil {
			return nil
		}
		if IsPermanent(err) {
			return errors.Unwrap(err)
		}
		if b.Attempts > 0 && attempt >= b.Attempts {
			return err
		}
		if ctx.Err() != nil {
			return errors.Join(err, ctx.Err())
		}
		wait := b.Delay(attempt)
		if onRetry != nil {
			onRetry(attempt, err, wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		case <-t.C:
		}
	}
}
