package kafkax_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/newsflow/newsflow/pkg/kafkax"
	"github.com/newsflow/newsflow/pkg/testenv"
)

// TestBrokerRoundTrip is the foundation's smoke test against the real broker: explicit topic
// creation (twice, idempotent), acks=all writes with kafka-go, a consumer group that reads and
// commits through kafkax.Consumer, lag that reaches zero, and kcat, an independent client,
// reading back exactly what kafka-go wrote.
func TestBrokerRoundTrip(t *testing.T) {
	kc := testenv.Kafka(t)
	topic, group := testenv.Name(t, "smoke"), testenv.Name(t, "group")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for i := 0; i < 2; i++ {
		if err := kc.EnsureTopics(ctx, topic); err != nil {
			t.Fatalf("EnsureTopics (call %d): %v", i+1, err)
		}
	}

	const n = 200
	w := kc.NewWriter(topic)
	defer w.Close()
	want := map[string]string{}
	var msgs []kafka.Message
	for i := 0; i < n; i++ {
		k, v := fmt.Sprintf("id-%03d", i), fmt.Sprintf(`{"n":%d,"text":"héllo wörld %d"}`, i, i)
		want[k] = v
		msgs = append(msgs, kafka.Message{Key: []byte(k), Value: []byte(v)})
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("writing with acks=all: %v", err)
	}

	// A consumer group reads everything and commits after each batch.
	got := consumeAll(ctx, t, kc, group, topic, n, 50)
	if len(got) != n {
		t.Fatalf("consumer read %d distinct messages, want %d", len(got), n)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("message %s: got %q, want %q", k, got[k], v)
		}
	}

	// Everything was committed: the group's lag is zero on every partition.
	lag, err := kc.Lag(ctx, group, topic)
	if err != nil {
		t.Fatalf("lag: %v", err)
	}
	if len(lag) != kc.Partitions {
		t.Fatalf("lag covers %d partitions, want %d", len(lag), kc.Partitions)
	}
	for p, l := range lag {
		if l != 0 {
			t.Fatalf("partition %d: lag %d after commit, want 0", p, l)
		}
	}

	// kcat, an independent client, reads back exactly what kafka-go wrote.
	out, err := exec.CommandContext(ctx, "kcat", "-C", "-b", strings.Join(kc.Brokers, ","), "-t", topic,
		"-o", "beginning", "-e", "-q", "-f", "%k\t%s\n").Output()
	if err != nil {
		t.Fatalf("kcat: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != n {
		t.Fatalf("kcat read %d records, want %d", len(lines), n)
	}
	for _, l := range lines {
		k, v, _ := strings.Cut(l, "\t")
		if want[k] != v {
			t.Fatalf("kcat record %s = %q, want %q", k, v, want[k])
		}
	}
}

// TestDeadLetterHeaders checks that a dead-letter record carries the original key, value and the
// headers naming stage, reason and origin, as kcat (not kafka-go) sees them.
func TestDeadLetterHeaders(t *testing.T) {
	kc := testenv.Kafka(t)
	topic := testenv.Name(t, "dlq")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := kc.EnsureTopics(ctx, topic); err != nil {
		t.Fatal(err)
	}
	w := kc.NewWriter(topic)
	defer w.Close()
	orig := kafka.Message{Topic: "articles.raw", Partition: 4, Offset: 1234, Key: []byte("k1"), Value: []byte("{not json")}
	if err := w.WriteMessages(ctx, kafkax.DeadLetter(orig, "enrich", "decoding article: invalid character")); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(ctx, "kcat", "-C", "-b", strings.Join(kc.Brokers, ","), "-t", topic,
		"-o", "beginning", "-e", "-q", "-f", "%k|%s|%h\n").Output()
	if err != nil {
		t.Fatalf("kcat: %v", err)
	}
	line := string(bytes.TrimSpace(out))
	for _, want := range []string{"k1|{not json|", "newsflow-stage=enrich", "newsflow-error=decoding article: invalid character",
		"newsflow-original-topic=articles.raw", "newsflow-original-partition=4", "newsflow-original-offset=1234"} {
		if !strings.Contains(line, want) {
			t.Errorf("kcat saw %q; missing %q", line, want)
		}
	}
	keys := []string{}
	for _, h := range kafkax.DeadLetter(orig, "s", "r").Headers {
		keys = append(keys, h.Key)
	}
	sort.Strings(keys)
	if len(keys) != 5 {
		t.Fatalf("headers %v", keys)
	}
}

// consumeAll reads topic in group through a kafkax.Consumer (batches of at most maxBatch,
// committed after each) until it has n distinct keys, closes the reader, and returns the values
// by key.
func consumeAll(ctx context.Context, t *testing.T, kc kafkax.Config, group, topic string, n, maxBatch int) map[string]string {
	t.Helper()
	r := kc.NewReader(group, topic)
	got := map[string]string{}
	var mu sync.Mutex
	cctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	c := &kafkax.Consumer{Reader: r, Log: slog.Default(), MaxBatch: maxBatch, Handler: func(_ context.Context, batch []kafka.Message) error {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range batch {
			got[string(m.Key)] = string(m.Value)
		}
		if len(got) == n {
			stop()
		}
		return nil
	}}
	go func() { done <- c.Run(cctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("consumer: %v", err)
		}
	case <-ctx.Done():
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("consumer read %d of %d messages before the deadline", len(got), n)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("closing reader: %v", err)
	}
	return got
}
