package enrich

import (
	"strings"
	"testing"
	"time"

	"github.com/newsflow/newsflow/pkg/article"
)

// recorder is a hand-written fake of both extractors that remembers what it was asked.
type recorder struct {
	titles, bodies []string
	refs           []time.Time
}

func (r *recorder) Extract(title, body string) []article.Entity {
	r.titles, r.bodies = append(r.titles, title), append(r.bodies, body)
	return []article.Entity{{Name: "X", Type: article.TypePerson, Mentions: []article.Mention{{Field: "body", Start: 0, End: 1}}}}
}

type dateRecorder struct{ r *recorder }

func (d dateRecorder) Extract(field, text string, ref time.Time) []article.DateMention {
	d.r.refs = append(d.r.refs, ref)
	return []article.DateMention{{Field: field, Text: "t"}}
}

func TestEnrich(t *testing.T) {
	fixed := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	pub := time.Date(2019, 8, 21, 8, 0, 0, 0, time.FixedZone("BST", 3600))
	ing := time.Date(2019, 8, 22, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		in       article.Article
		wantRef  time.Time
		wantBody string
		maxBytes int
		wantSeen string
	}{
		{"published_at is the reference, in UTC", article.Article{Title: "T", Body: "b", PublishedAt: pub, IngestedAt: ing}, pub.UTC(), "b", 0, "b"},
		{"no published_at: ingested_at", article.Article{Title: "T", Body: "b", IngestedAt: ing}, ing, "b", 0, "b"},
		{"no dates at all: now", article.Article{Title: "T", Body: "b"}, fixed, "b", 0, "b"},
		{"invalid UTF-8 is replaced before offsets are taken", article.Article{Title: "T", Body: "a\xffb"}, fixed, "a\uFFFDb", 0, "a\uFFFDb"},
		{"work is capped on a rune boundary, the body is kept whole", article.Article{Title: "T", Body: "ééé"}, fixed, "ééé", 3, "é"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{}
			e := &Enricher{Entities: r, Dates: dateRecorder{r}, Version: "v1", MaxFieldBytes: tc.maxBytes, Now: func() time.Time { return fixed }}
			got := e.Enrich(tc.in)
			if got.Body != tc.wantBody || r.bodies[0] != tc.wantSeen {
				t.Fatalf("body %q seen %q, want %q / %q", got.Body, r.bodies[0], tc.wantBody, tc.wantSeen)
			}
			if len(r.refs) != 2 || !r.refs[0].Equal(tc.wantRef) || r.refs[0].Location() != time.UTC {
				t.Fatalf("reference times %v, want %v (UTC)", r.refs, tc.wantRef)
			}
			if got.EnrichmentVersion != "v1" || !got.EnrichedAt.Equal(fixed) || len(got.Entities) != 1 || len(got.Dates) != 2 ||
				got.Dates[0].Field != "title" || got.Dates[1].Field != "body" {
				t.Fatalf("enriched %+v", got)
			}
		})
	}
}

func TestEnrichWithoutExtractorsStillValid(t *testing.T) {
	got := (&Enricher{}).Enrich(article.Article{Title: strings.Repeat("x", 10)})
	if got.Entities == nil || got.Dates == nil {
		t.Fatal("entities and dates must be empty lists, not null, in JSON")
	}
}

func TestCap(t *testing.T) {
	for _, tc := range []struct {
		s    string
		n    int
		want string
	}{{"abc", 5, "abc"}, {"abc", 2, "ab"}, {"aé", 2, "a"}, {"é", 0, ""}, {"日本", 5, "日"}} {
		if got := Cap(tc.s, tc.n); got != tc.want {
			t.Errorf("Cap(%q,%d)=%q want %q", tc.s, tc.n, got, tc.want)
		}
	}
}
