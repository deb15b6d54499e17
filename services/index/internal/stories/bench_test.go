package stories_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/newsflow/newsflow/pkg/article"
	"github.com/newsflow/newsflow/pkg/corpus"
	"github.com/newsflow/newsflow/pkg/dedup"
	"github.com/newsflow/newsflow/pkg/search"
	"github.com/newsflow/newsflow/pkg/testenv"
	"github.com/newsflow/newsflow/services/index/internal/document"
	"github.com/newsflow/newsflow/services/index/internal/indices"
	"github.com/newsflow/newsflow/services/index/internal/schema"
	"github.com/newsflow/newsflow/services/index/internal/sink"
	"github.com/newsflow/newsflow/services/index/internal/stories"
)

// BenchmarkLookup measures what the near-duplicate and story lookup costs per article on each
// engine of the local stack: 5,000 Reuters stories indexed through the sink in batches of 500,
// once without the lookup and once with it (reported as write-docs/s and
// write-with-lookup-docs/s), then batches of 100 further stories looked up (one _msearch of 100
// searches each). ns/op is per batch of 100; the per-article figure is ms/article.
func BenchmarkLookup(b *testing.B) {
	var arts []article.Article
	if err := corpus.ReadReutersDir(filepath.Join(testenv.DataDir(b), "reuters21578"), 5100, func(a article.Article) error {
		arts = append(arts, a)
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	for _, eng := range testenv.SearchEngines(b) {
		b.Run(eng.Name, func(b *testing.B) {
			c, err := search.New(eng.Config)
			if err != nil {
				b.Fatal(err)
			}
			settings := schema.Settings{Shards: 1, Replicas: 0, RefreshInterval: "1s", TextAnalyzer: "standard"}
			n := schema.Names{Prefix: testenv.Name(b, "nfstorybench"), MonthlyFrom: 2020}
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			mgr := &indices.Manager{Client: c, Names: n, Settings: settings, Log: log}
			ctx := context.Background()
			b.Cleanup(func() {
				_ = c.Do(ctx, http.MethodDelete, "/"+n.Pattern(), nil, nil)
				_ = c.Do(ctx, http.MethodDelete, "/_index_template/"+n.TemplateName(), nil, nil)
			})
			if _, err := mgr.Setup(ctx, schema.Version, time.Now()); err != nil {
				b.Fatal(err)
			}
			as := stories.New(stories.Config{Alias: n.Alias()}, mgr)
			var msgs []kafka.Message
			for _, a := range arts[:5000] {
				msgs = append(msgs, enriched(a.ID, a.PublishedAt, a.Title, a.Body))
			}
			fill := func(names schema.Names, st sink.Stories) float64 {
				m := &indices.Manager{Client: c, Names: names, Settings: settings, Log: log}
				if _, err := m.Setup(ctx, schema.Version, time.Now()); err != nil {
					b.Fatal(err)
				}
				sk := sink.New(sink.Config{Names: names, Workers: 2, Topic: "in", Stories: st}, m, &dlq{}, log, nil)
				start := time.Now()
				for i := 0; i < len(msgs); i += 500 {
					if err := sk.Handle(ctx, msgs[i:min(i+500, len(msgs))]); err != nil {
						b.Fatal(err)
					}
				}
				return float64(len(msgs)) / time.Since(start).Seconds()
			}
			plain := schema.Names{Prefix: testenv.Name(b, "nfplainbench"), MonthlyFrom: n.MonthlyFrom}
			b.Cleanup(func() {
				_ = c.Do(ctx, http.MethodDelete, "/"+plain.Pattern(), nil, nil)
				_ = c.Do(ctx, http.MethodDelete, "/_index_template/"+plain.TemplateName(), nil, nil)
			})
			withoutLookup := fill(plain, nil)
			withLookup := fill(n, as)
			_ = c.Do(ctx, http.MethodPost, "/"+n.Alias()+"/_refresh", nil, nil)
			batch := func() []*document.Document {
				var docs []*document.Document
				for _, a := range arts[5000:5100] {
					e := article.Enriched{Article: a, Similarity: dedup.Of(a.Title, a.Body)}
					d := document.From(e, time.Now())
					docs = append(docs, &d)
				}
				return docs
			}
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				docs := batch()
				b.StartTimer()
				if err := as.Assign(ctx, docs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e6/float64(b.N)/100, "ms/article")
			b.ReportMetric(withoutLookup, "write-docs/s")
			b.ReportMetric(withLookup, "write-with-lookup-docs/s")
		})
	}
}
