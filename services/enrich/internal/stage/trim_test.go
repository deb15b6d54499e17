package stage

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"

	"github.com/newsflow/newsflow/pkg/article"
	"github.com/newsflow/newsflow/pkg/kafkax"
	"github.com/newsflow/newsflow/services/enrich/internal/enrich"
)

// mentionEverywhere finds one entity per distinct word of the body and every mention of it: on
// a long body that is far more JSON than one record may carry.
type mentionEverywhere struct{}

func (mentionEverywhere) Extract(_, body string) []article.Entity {
	idx := map[string]int{}
	var ents []article.Entity
	off := 0
	for _, w := range strings.Split(body, " ") {
		if w != "" {
			i, ok := idx[w]
			if !ok {
				i = len(ents)
				idx[w] = i
				ents = append(ents, article.Entity{Name: w, Type: article.TypeMisc})
			}
			ents[i].Mentions = append(ents[i].Mentions, article.Mention{Field: article.FieldBody, Start: off, End: off + len(w)})
		}
		off += len(w) + 1
	}
	return ents
}

func newTrimStage(out, dlq Writer) *Stage {
	en := &enrich.Enricher{Entities: mentionEverywhere{}, Version: "test", MaxFieldBytes: 1 << 20}
	return New(Config{Workers: 2, Output: "out", WriteTimeout: time.Second}, en, out, dlq, quiet, NewMetrics(prometheus.NewRegistry()))
}

// TestOversizedEnrichmentIsTrimmedNotDeadLettered: an article that fits in a record but whose
// enrichment does not is produced with its mentions cut and a note saying so, not dead-lettered.
func TestOversizedEnrichmentIsTrimmedNotDeadLettered(t *testing.T) {
	body := strings.Repeat("Iranian and US officials met in Geneva yesterday, Reuters reported. ", 12_000) // ~800 KB
	raw, _ := json.Marshal(article.Article{ID: "big", Source: "test", Title: "Talks", Body: body, PublishedAt: time.Date(2019, 8, 21, 8, 0, 0, 0, time.UTC)})
	if len(raw) > kafkax.MaxMessageBytes {
		t.Fatalf("raw record %d bytes; the test needs one that fits", len(raw))
	}
	out, dlq := &fakeWriter{}, &fakeWriter{}
	h := newTrimStage(out, dlq)
	if full, _ := json.Marshal(h.en.Enrich(article.Article{Title: "Talks", Body: body})); len(full) <= kafkax.MaxMessageBytes {
		t.Fatalf("untrimmed enrichment is %d bytes; the test needs one over the limit", len(full))
	}
	batch := []kafka.Message{{Topic: "raw", Partition: 1, Offset: 7, Key: []byte("big"), Value: raw},
		{Topic: "raw", Partition: 1, Offset: 8, Key: []byte("small"), Value: []byte(`{"id":"small","title":"Paris","body":"Paris then Paris again"}`)}}
	if err := h.Handle(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if len(dlq.acked) != 0 {
		t.Fatalf("%d dead letters (%s), want none", len(dlq.acked), kafkax.Header(dlq.acked[0], kafkax.HeaderError))
	}
	if len(out.acked) != 2 {
		t.Fatalf("%d records produced, want 2", len(out.acked))
	}
	var e article.Enriched
	m := out.acked[0]
	if err := json.Unmarshal(m.Value, &e); err != nil {
		t.Fatal(err)
	}
	if size := len(m.Key) + len(m.Value); size > kafkax.MaxMessageBytes {
		t.Errorf("produced record is %d bytes, over %d", size, kafkax.MaxMessageBytes)
	}
	if e.Body != body || len(e.Entities) == 0 {
		t.Errorf("body kept %v, entities %d", e.Body == body, len(e.Entities))
	}
	if !strings.Contains(e.EnrichmentNote, "mentions per entity") {
		t.Errorf("enrichment_note %q, want it to say the mentions were cut", e.EnrichmentNote)
	}
	for _, ent := range e.Entities {
		if len(ent.Mentions) > 64 {
			t.Fatalf("entity %q kept %d mentions", ent.Name, len(ent.Mentions))
		}
	}
	var small article.Enriched
	_ = json.Unmarshal(out.acked[1].Value, &small)
	if small.EnrichmentNote != "" || len(small.Entities) == 0 || len(small.Entities[0].Mentions) != 2 {
		t.Errorf("small article changed: note %q entities %+v", small.EnrichmentNote, small.Entities)
	}
	if got := testutil.ToFloat64(h.m.Trimmed); got != 1 {
		t.Errorf("trimmed_total %v, want 1", got)
	}
}
