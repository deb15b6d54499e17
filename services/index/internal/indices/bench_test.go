package indices_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/newsflow/newsflow/pkg/article"
	"github.com/newsflow/newsflow/pkg/retry"
	"github.com/newsflow/newsflow/pkg/testenv"
	"github.com/newsflow/newsflow/services/index/internal/bulk"
	"github.com/newsflow/newsflow/services/index/internal/document"
	"github.com/newsflow/newsflow/services/index/internal/indices"
	"github.com/newsflow/newsflow/services/index/internal/schema"
	"github.com/newsflow/newsflow/services/index/internal/sink"
)

// BenchmarkIndex compares the sink (decode, map, chunk, _bulk, check every item, retry) with a
// plain _bulk of the same documents prepared beforehand, against the real node. Both write by
// _id, so every iteration overwrites the same documents. Reports documents per second.
func BenchmarkIndex(b *testing.B) {
	c := testenv.Search(b)
	n := schema.Names{Prefix: testenv.Name(b, "nfidx-bench")}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	m := &indices.Manager{Client: c, Names: n, Settings: schema.Settings{Shards: 1, Replicas: 0, RefreshInterval: "1s"}, Log: log}
	ctx := context.Background()
	if _, err := m.Setup(ctx, schema.Version, time.Now()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = c.Do(ctx, http.MethodDelete, "/"+n.Pattern(), nil, nil)
		_ = c.Do(ctx, http.MethodDelete, "/_index_template/"+n.TemplateName(), nil, nil)
	})

	const docs = 2000
	body := strings.Repeat("The minister met the delegation in Tehran on Monday to discuss the accord. ", 30)
	var msgs []kafka.Message
	var ops []bulk.Op
	for i := 0; i < docs; i++ {
		e := article.Enriched{Article: article.Article{ID: fmt.Sprintf("b%05d", i), Source: "bench", Title: "Title", Body: body,
			PublishedAt: time.Date(2019, 8, 1+i%28, 0, 0, 0, 0, time.UTC), IngestedAt: time.Now()},
			Entities: []article.Entity{{Name: "Tehran", Type: "LOC"}, {Name: "Ali Shamkhani", Type: "PERSON"}},
			Dates:    []article.DateMention{{Value: "2019-08-19", GTE: "2019-08-19", LTE: "2019-08-19"}}}
		v, _ := json.Marshal(e)
		msgs = append(msgs, kafka.Message{Key: []byte(e.ID), Value: v, Offset: int64(i)})
		src, _ := json.Marshal(document.From(e, time.Now()))
		ops = append(ops, bulk.Op{Index: n.Index(e.PublishedAt, schema.Version), ID: e.ID, Source: src})
	}
	report := func(b *testing.B) {
		b.ReportMetric(float64(docs*b.N)/b.Elapsed().Seconds(), "docs/s")
	}

	b.Run("plain_bulk", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			for _, chunk := range bulk.Chunks(ops, 5<<20) {
				status, answer, err := m.Bulk(ctx, bulk.Body(chunk))
				if err != nil || status != 200 || strings.Contains(string(answer), `"errors":true`) {
					b.Fatalf("bulk: %d %v", status, err)
				}
			}
		}
		report(b)
	})
	b.Run("sink", func(b *testing.B) {
		s := sink.New(sink.Config{Names: n, Version: schema.Version, FlushBytes: 5 << 20, Workers: 2,
			Backoff: retry.Backoff{Initial: 100 * time.Millisecond, Max: time.Second}, Topic: "bench"}, m, nil, log, nil)
		for i := 0; i < b.N; i++ {
			if err := s.Handle(ctx, msgs); err != nil {
				b.Fatal(err)
			}
		}
		report(b)
	})
}
