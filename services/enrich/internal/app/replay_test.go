package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/newsflow/newsflow/pkg/article"
	"github.com/newsflow/newsflow/pkg/service"
	"github.com/newsflow/newsflow/pkg/testenv"
)

// TestServeReplayFromTime: a replay group started with --start-at a time enriches exactly the
// raw records from that time on, and --enrichment-version labels what it produces
// (docs/REPLAY.md).
func TestServeReplayFromTime(t *testing.T) {
	kc := testenv.Kafka(t)
	base := testenv.Name(t, "replay")
	raw, out, dlq, group := base+".raw", base+".enriched", base+".dlq", base+"-g"
	admin := testenv.FreeAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := kc.EnsureTopics(ctx, raw, out, dlq); err != nil {
		t.Fatal(err)
	}
	const n, from = 40, 25
	start := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	w := kc.NewWriter(raw)
	var msgs []kafka.Message
	for i := 0; i < n; i++ {
		a := article.Article{ID: fmt.Sprintf("art-%03d", i), Source: "test", Title: "Talks in Geneva",
			Body: "Officials met in Geneva yesterday.", PublishedAt: time.Date(2019, 8, 21, 8, 0, 0, 0, time.UTC)}
		v, _ := json.Marshal(a)
		msgs = append(msgs, kafka.Message{Key: []byte(a.ID), Value: v, Time: start.Add(time.Duration(i) * time.Minute)})
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	w.Close()

	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	var logs bytes.Buffer
	go func() {
		done <- Run(sctx, []string{"serve", "--admin-addr", admin, "--topic", raw, "--output-topic", out, "--dlq-topic", dlq,
			"--group", group, "--kafka-brokers", strings.Join(kc.Brokers, ","), "--log-format", "json",
			"--start-at", start.Add(from * time.Minute).Format(time.RFC3339Nano), "--enrichment-version", "replay-test/9"}, nil, nil, &logs)
	}()
	testenv.Eventually(t, time.Minute, "the replay group to reach the end of "+raw, func() (bool, string) {
		lag, err := kc.Lag(ctx, group, raw)
		total := int64(0)
		for _, l := range lag {
			total += l
		}
		return err == nil && len(lag) > 0 && total == 0, fmt.Sprintf("lag %v (%v)", lag, err)
	})
	stop()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v\n%s", err, logs.String())
	}

	// Everything the group produced, read back with kafka-go's own reader.
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: kc.Brokers, GroupID: group + "-check", Topic: out, StartOffset: kafka.FirstOffset, MaxWait: 200 * time.Millisecond})
	defer r.Close()
	got := map[string]string{}
	for len(got) < n-from {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatalf("read %d of %d enriched: %v", len(got), n-from, err)
		}
		var e article.Enriched
		if err := json.Unmarshal(m.Value, &e); err != nil {
			t.Fatal(err)
		}
		got[e.ID] = e.EnrichmentVersion
	}
	for id, v := range got {
		if id < fmt.Sprintf("art-%03d", from) || v != "replay-test/9" {
			t.Fatalf("enriched %s with version %q: want only art-%03d.. with replay-test/9", id, v, from)
		}
	}
	// Nothing else on the output topic: the lag of a group that never committed is its size.
	size, err := kc.Lag(ctx, group+"-never", out)
	if err != nil {
		t.Fatal(err)
	}
	total := int64(0)
	for _, l := range size {
		total += l
	}
	if total != n-from {
		t.Fatalf("%s holds %d records, want the %d written from --start-at on", out, total, n-from)
	}
}

// TestServeStartAtInvalid: a --start-at that is neither earliest nor a time is a usage error.
func TestServeStartAtInvalid(t *testing.T) {
	var logs bytes.Buffer
	err := Run(context.Background(), []string{"serve", "--start-at", "yesterday"}, nil, nil, &logs)
	var ue service.UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "start-at") {
		t.Fatalf("err = %v, want a usage error naming start-at", err)
	}
}
