package publish

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"

	"github.com/newsflow/newsflow/pkg/article"
	"github.com/newsflow/newsflow/pkg/metrics"
)

type fakeWriter struct {
	calls [][]kafka.Message
	block bool // wait for the context like a broker that never answers
}

func (f *fakeWriter) WriteMessages(ctx context.Context, msgs ...kafka.Message) error {
	f.calls = append(f.calls, msgs)
	if f.block {
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

// arts returns n records of distinct articles.
func arts(n int) []Record {
	var out []Record
	for i := range n {
		a := article.Article{Title: "t", Body: strings.Repeat("b", i+1), PublishedAt: time.Unix(0, 0).UTC()}
		a.ID = article.ID(&a)
		r, err := NewRecord(a)
		if err != nil {
			panic(err)
		}
		out = append(out, r)
	}
	return out
}

func TestPublishOneCall(t *testing.T) {
	reg := metrics.NewRegistry()
	m := NewMetrics(reg, metrics.NewStage(reg, "ingest"))
	w := &fakeWriter{}
	p := &Publisher{W: w, Topic: "t", Timeout: time.Second, M: m}
	in := arts(5)
	if err := p.Publish(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if len(w.calls) != 1 || len(w.calls[0]) != 5 {
		t.Fatalf("%d calls, want one with 5 records", len(w.calls))
	}
	for i, msg := range w.calls[0] {
		var a article.Article
		if err := json.Unmarshal(msg.Value, &a); err != nil || string(msg.Key) != in[i].Article.ID || a.ID != in[i].Article.ID || a.Body != in[i].Article.Body {
			t.Fatalf("record %d: key %s value %s (%v)", i, msg.Key, msg.Value, err)
		}
	}
	if got := testutil.ToFloat64(m.Stage.Produced.WithLabelValues("t")); got != 5 {
		t.Fatalf("produced_total %v", got)
	}
	if err := p.Publish(context.Background(), nil); err != nil || len(w.calls) != 1 {
		t.Fatalf("empty batch: %v, %d calls", err, len(w.calls))
	}
}

func TestPublishDeadline(t *testing.T) {
	w := &fakeWriter{block: true}
	p := &Publisher{W: w, Topic: "t", Timeout: 50 * time.Millisecond}
	start := time.Now()
	err := p.Publish(context.Background(), arts(2))
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Fatalf("err %v after %v", err, time.Since(start))
	}
}

func TestPublishTooLarge(t *testing.T) {
	w := &fakeWriter{}
	p := &Publisher{W: w, Topic: "t"}
	r, err := NewRecord(article.Article{ID: "x", Title: "t", Body: strings.Repeat("é", MaxRecordBytes/2+1)})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Publish(context.Background(), []Record{r}); !errors.Is(err, ErrRecordTooLarge) || len(w.calls) != 0 {
		t.Fatalf("err %v, %d calls", err, len(w.calls))
	}
}

// TestPublishWritesTheMeasuredBytes: Publish writes each record's Value as it is, keyed by the
// article id, and encodes nothing again: the bytes intake measured against MaxRecordBytes are
// the bytes Kafka gets.
func TestPublishWritesTheMeasuredBytes(t *testing.T) {
	w := &fakeWriter{}
	p := &Publisher{W: w, Topic: "t"}
	rec := Record{Article: article.Article{ID: "id-1", Title: "t", Body: "b"}, Value: []byte(`{"measured":true}`)}
	if err := p.Publish(context.Background(), []Record{rec}); err != nil {
		t.Fatal(err)
	}
	if len(w.calls) != 1 || string(w.calls[0][0].Key) != "id-1" || string(w.calls[0][0].Value) != `{"measured":true}` {
		t.Fatalf("wrote %+v, want the record's own value", w.calls)
	}
}

// TestEncodeRecordKeepsMarkupOneByte: '<', '>' and '&' are not escaped (encoding/json's default
// makes each six bytes), there is no trailing newline, the record is article.Marshal's bytes,
// and it decodes to the same article.
func TestEncodeRecordKeepsMarkupOneByte(t *testing.T) {
	a := article.Article{ID: "x", Title: "A < B & C > D", Body: strings.Repeat("<&>", 1000), PublishedAt: time.Unix(0, 0).UTC()}
	r, err := NewRecord(a)
	if err != nil {
		t.Fatal(err)
	}
	v := r.Value
	if strings.Contains(string(v), `\u003c`) || strings.Contains(string(v), `\u0026`) || !strings.Contains(string(v), `"A < B & C > D"`) {
		t.Fatalf("markup escaped: %.120s", v)
	}
	if len(v) > len(a.Body)+len(a.Title)+200 || v[len(v)-1] == '\n' {
		t.Fatalf("record of %d bytes for %d bytes of text", len(v), len(a.Body)+len(a.Title))
	}
	if m, err := article.Marshal(&a); err != nil || string(m) != string(v) {
		t.Fatalf("article.Marshal differs: %v\n%s\n%s", err, m, v)
	}
	var back article.Article
	if err := json.Unmarshal(v, &back); err != nil || back.Title != a.Title || back.Body != a.Body {
		t.Fatalf("round trip: %v", err)
	}
	msgs, err := Messages([]Record{r})
	if err != nil || string(msgs[0].Value) != string(v) || string(msgs[0].Key) != "x" {
		t.Fatalf("Messages differs from the record: %v", err)
	}
}
