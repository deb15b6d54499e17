package kafkax

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/newsflow/newsflow/pkg/retry"
)

// TestWriterAttemptsEndBeforeThePublishDeadline: kafka-go retries a batch in the background
// under its own per-attempt deadline, so all its attempts and the backoffs between them must end
// within the write timeout, and the caller's deadline (PublishTimeout) must come after that:
// otherwise a write the caller reported as failed could still land later.
func TestWriterAttemptsEndBeforeThePublishDeadline(t *testing.T) {
	for _, tc := range []struct {
		timeout, attempt, publish time.Duration
	}{
		{0, 3 * time.Second, 12 * time.Second}, // a literal Config: the flag's default
		{10 * time.Second, 3 * time.Second, 12 * time.Second},
		{3 * time.Second, 2 * time.Second / 3, 5 * time.Second},
		{time.Second, minAttemptTimeout, 3 * time.Second}, // never below one healthy round trip
		{time.Minute, 59 * time.Second / 3, 62 * time.Second},
	} {
		c := &Config{Brokers: []string{"127.0.0.1:9"}, WriteTimeout: tc.timeout}
		for name, w := range map[string]*kafka.Writer{"NewWriter": c.NewWriter("t"), "NewServiceWriter": first(c.NewServiceWriter("t", "newsflow-test"))} {
			if w.WriteTimeout != tc.attempt || w.ReadTimeout != tc.attempt {
				t.Errorf("%s, write timeout %v: attempt deadline write %v read %v, want %v", name, tc.timeout, w.WriteTimeout, w.ReadTimeout, tc.attempt)
			}
			if w.MaxAttempts != writeAttempts || w.WriteBackoffMax != writeBackoffMax || w.RequiredAcks != kafka.RequireAll {
				t.Errorf("%s: attempts %d backoff max %v acks %v", name, w.MaxAttempts, w.WriteBackoffMax, w.RequiredAcks)
			}
			if w.BatchBytes != MaxMessageBytes {
				t.Errorf("%s: BatchBytes %d, want %d (below the broker's message.max.bytes)", name, w.BatchBytes, MaxMessageBytes)
			}
			background := time.Duration(w.MaxAttempts)*w.WriteTimeout + time.Duration(w.MaxAttempts-1)*w.WriteBackoffMax
			if tc.attempt > minAttemptTimeout && background > c.writeTimeout() {
				t.Errorf("%s, write timeout %v: kafka-go's attempts take up to %v, longer than the write timeout", name, tc.timeout, background)
			}
			if background >= c.PublishTimeout() {
				t.Errorf("%s, write timeout %v: kafka-go's attempts take up to %v, not less than the caller's deadline %v", name, tc.timeout, background, c.PublishTimeout())
			}
		}
		if got := c.PublishTimeout(); got != tc.publish {
			t.Errorf("write timeout %v: PublishTimeout %v, want %v", tc.timeout, got, tc.publish)
		}
	}
}

// TestServiceWriterHasItsOwnTransport: a service closes its writer's connections on shutdown,
// so the writer must not share the process-wide pool; the transport still carries the TLS dial
// and SASL, names the client, and gives up on a dial within one attempt.
func TestServiceWriterHasItsOwnTransport(t *testing.T) {
	c := &Config{Brokers: []string{"127.0.0.1:9"}, Partitions: 1, ReplicationFactor: 1, WriteTimeout: 3 * time.Second,
		SASL: SASLConfig{Mechanism: MechanismPlain, Username: "newsflow", Password: "secret"}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	w, tr := c.NewServiceWriter("t", "newsflow-test")
	if w.Transport != tr || tr == c.sec.transport {
		t.Fatal("the service writer does not use a transport of its own")
	}
	if tr.SASL != c.sec.mechanism || tr.Dial == nil {
		t.Fatal("the service writer's transport lacks the SASL mechanism or the TLS dial")
	}
	if tr.ClientID != "newsflow-test" || tr.MetadataTTL != 5*time.Second || tr.DialTimeout > w.WriteTimeout {
		t.Errorf("transport: client id %q, metadata TTL %v, dial timeout %v (attempt %v)", tr.ClientID, tr.MetadataTTL, tr.DialTimeout, w.WriteTimeout)
	}
	if w2, _ := c.NewServiceWriter("t", "newsflow-test"); w2.Transport == tr {
		t.Error("two service writers share a transport: closing one would close the other's connections")
	}
	if w := c.NewWriter("t"); w.Transport != c.sec.transport {
		t.Error("NewWriter does not use the shared transport")
	}
}

func first(w *kafka.Writer, _ *kafka.Transport) *kafka.Writer { return w }

// ackingWriter acknowledges what a test lets it: the first write fails for the messages whose
// key is in failFirst (a kafka.WriteErrors, as kafka-go reports a partial failure), every later
// write succeeds; it records each acknowledged key.
type ackingWriter struct {
	failFirst map[string]bool
	writes    int
	acked     []string
}

func (w *ackingWriter) WriteMessages(_ context.Context, msgs ...kafka.Message) error {
	w.writes++
	if w.writes == 1 {
		errs := make(kafka.WriteErrors, len(msgs))
		for i, m := range msgs {
			if w.failFirst[string(m.Key)] {
				errs[i] = errors.New("NOT_ENOUGH_REPLICAS")
			} else {
				w.acked = append(w.acked, string(m.Key))
			}
		}
		return errs
	}
	for _, m := range msgs {
		w.acked = append(w.acked, string(m.Key))
	}
	return nil
}

// TestWriteAckedRetriesOnlyWhatFailed: after a partial failure only the unacknowledged messages
// are written again, so each ends up acknowledged exactly once (a dead letter in the DLQ once).
func TestWriteAckedRetriesOnlyWhatFailed(t *testing.T) {
	w := &ackingWriter{failFirst: map[string]bool{"b": true, "d": true}}
	var msgs []kafka.Message
	for _, k := range []string{"a", "b", "c", "d"} {
		msgs = append(msgs, kafka.Message{Key: []byte(k)})
	}
	var fails, leftAfter int
	err := WriteAcked(context.Background(), w, msgs, retry.Backoff{Initial: time.Millisecond}, time.Second,
		func(_ error, left int) { fails++; leftAfter = left })
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(w.acked); got != "[a c b d]" || w.writes != 2 {
		t.Errorf("acknowledged %s in %d writes, want [a c b d] in 2 (each once)", got, w.writes)
	}
	if fails != 1 || leftAfter != 2 {
		t.Errorf("onFail: %d calls, %d left; want 1 call with 2 left", fails, leftAfter)
	}
}
