package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/newsflow/newsflow/pkg/article"
	"github.com/newsflow/newsflow/pkg/kafkax"
	"github.com/newsflow/newsflow/pkg/testenv"
)

// TestServe runs `enrich serve` in-process against the real broker: N raw articles come out
// enriched on the output topic (keyed by id), a poison message lands on the DLQ with the stage
// and reason, the consumer group's lag reaches zero, /metrics reports it, and SIGTERM (context
// cancel) ends the service cleanly.
func TestServe(t *testing.T) {
	kc := testenv.Kafka(t)
	base := testenv.Name(t, "enrich")
	raw, out, dlq, group := base+".raw", base+".enriched", base+".dlq", base+"-g"
	admin := testenv.FreeAddr(t)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := kc.EnsureTopics(ctx, raw, out, dlq); err != nil { // readers below join groups on existing topics
		t.Fatal(err)
	}
	const n = 120
	w := kc.NewWriter(raw)
	var msgs []kafka.Message
	for i := 0; i < n; i++ {
		a := article.Article{ID: fmt.Sprintf("art-%03d", i), Source: "test", Title: fmt.Sprintf("Talks in Geneva %d", i),
			Body: "Iranian and US officials met in Geneva yesterday, Reuters reported.", PublishedAt: time.Date(2019, 8, 21, 8, 0, 0, 0, time.UTC)}
		v, _ := json.Marshal(a)
		msgs = append(msgs, kafka.Message{Key: []byte(a.ID), Value: v})
	}
	msgs = append(msgs[:60], append([]kafka.Message{{Key: []byte("poison"), Value: []byte("{not json")}}, msgs[60:]...)...)
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	w.Close()

	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	var logs bytes.Buffer
	go func() {
		done <- Run(sctx, []string{"serve", "--admin-addr", admin, "--topic", raw, "--output-topic", out, "--dlq-topic", dlq,
			"--group", group, "--kafka-brokers", strings.Join(kc.Brokers, ","), "--log-format", "json"}, nil, nil, &logs)
	}()

	got := map[string]article.Enriched{}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: kc.Brokers, GroupID: group + "-check", Topic: out, StartOffset: kafka.FirstOffset, MaxWait: 200 * time.Millisecond})
	defer r.Close()
	for len(got) < n {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatalf("read %d of %d enriched: %v\n%s", len(got), n, err, logs.String())
		}
		var e article.Enriched
		if err := json.Unmarshal(m.Value, &e); err != nil {
			t.Fatal(err)
		}
		if string(m.Key) != e.ID {
			t.Fatalf("key %q, id %q", m.Key, e.ID)
		}
		got[e.ID] = e
	}
	e := got["art-007"]
	if len(e.Dates) != 1 || e.Dates[0].Value != "2019-08-20" || len(e.Entities) == 0 || e.EnrichmentVersion != Version {
		t.Fatalf("enriched article %+v", e)
	}

	dr := kafka.NewReader(kafka.ReaderConfig{Brokers: kc.Brokers, GroupID: group + "-dlq", Topic: dlq, StartOffset: kafka.FirstOffset, MaxWait: 200 * time.Millisecond})
	defer dr.Close()
	dm, err := dr.FetchMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(dm.Key) != "poison" || kafkax.Header(dm, kafkax.HeaderStage) != "enrich" || !strings.Contains(kafkax.Header(dm, kafkax.HeaderError), "decoding article") ||
		kafkax.Header(dm, kafkax.HeaderTopic) != raw {
		t.Fatalf("dead letter %q headers %v", dm.Key, dm.Headers)
	}

	// Everything is committed: the lag gauge falls to zero and /metrics says what happened.
	testenv.Eventually(t, time.Minute, "consumer lag 0", func() (bool, string) {
		lag, err := kc.Lag(ctx, group, raw)
		total := int64(0)
		for _, l := range lag {
			total += l
		}
		return err == nil && total == 0, fmt.Sprintf("lag %v (%v)", lag, err)
	})
	res, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	_, _ = body.ReadFrom(res.Body)
	res.Body.Close()
	for _, want := range []string{
		fmt.Sprintf(`newsflow_enrich_produced_total{topic="%s"} %d`, out, n),
		`newsflow_enrich_dead_lettered_total{reason="undecodable"} 1`,
		`newsflow_enrich_entities_total{type="LOC"}`,
		`newsflow_enrich_dates_total{granularity="day"} 120`,
	} {
		if !strings.Contains(body.String(), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v\n%s", err, logs.String())
		}
	case <-time.After(40 * time.Second):
		t.Fatal("serve did not stop within 40 s of SIGTERM")
	}
}
