package feeds

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/newsflow/newsflow/pkg/config"
	"github.com/newsflow/newsflow/pkg/kafkax"
	"github.com/newsflow/newsflow/pkg/testenv"
)

// TestKafkaLeaseStopsOnAuthFailure: against the local broker's SASL_SSL listener, a wrong
// password or a CA that did not sign the broker's certificate ends the lease at once with an
// AuthError that says what failed, instead of retrying the join for ever (the group is built
// from the same kafkax.Config as everything else, so it uses the same TLS and SASL).
func TestKafkaLeaseStopsOnAuthFailure(t *testing.T) {
	base := testenv.SecureKafka(t)
	for _, c := range []struct {
		name string
		edit func(*kafkax.Config)
		want string
	}{
		{"wrong password", func(k *kafkax.Config) { k.SASL.Password = config.Secret("not-the-password") }, "SASL SCRAM-SHA-512 authentication failed"},
		{"untrusted CA", func(k *kafkax.Config) { k.TLS.CAFile = testenv.UntrustedCA(t) }, ": TLS: "},
	} {
		t.Run(c.name, func(t *testing.T) {
			k := base
			c.edit(&k)
			if err := k.Validate(); err != nil {
				t.Fatal(err)
			}
			g, err := NewKafkaGroup(k, testenv.Name(t, "feeds"), testenv.Name(t, "ingest"), kafkax.GroupOptions{SessionTimeout: 6 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			l := &Lease{Group: g, Feeds: testFeeds(2), Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
				Poll: func(ctx context.Context, _ []Feed) error { t.Error("polled without a lease"); <-ctx.Done(); return nil }}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			start := time.Now()
			err = l.Run(ctx)
			t.Logf("Run returned after %v: %v", time.Since(start).Round(time.Millisecond), err)
			if !kafkax.IsAuthError(err) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Run: %v, want an AuthError with %q", err, c.want)
			}
			kafkax.CloseIdleConnections()
		})
	}
}

// TestKafkaLeaseOverTLSAndSASL: with the right settings the lease joins over the SASL_SSL
// listener and, alone in its group, polls every feed; it leaves when its context ends.
func TestKafkaLeaseOverTLSAndSASL(t *testing.T) {
	k := testenv.SecureKafka(t)
	topic := testenv.Name(t, "ingest")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := k.EnsureTopics(ctx, topic); err != nil {
		t.Fatal(err)
	}
	g, err := NewKafkaGroup(k, testenv.Name(t, "feeds"), topic, kafkax.GroupOptions{SessionTimeout: 6 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	list := testFeeds(6)
	polled := make(chan []Feed, 1)
	l := &Lease{Group: g, Feeds: list, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Poll: func(pctx context.Context, got []Feed) error { polled <- got; <-pctx.Done(); return nil }}
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	select {
	case got := <-polled:
		if len(got) != len(list) {
			t.Errorf("the only member polls %d feeds, want %d", len(got), len(list))
		}
	case err := <-done:
		t.Fatalf("Run returned before polling: %v", err)
	case <-ctx.Done():
		t.Fatal("no generation within 30s")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	kafkax.CloseIdleConnections()
}
