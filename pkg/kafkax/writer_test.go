package kafkax

import (
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
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
