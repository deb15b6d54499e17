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

// placeRecorder is a hand-written fake of PlaceResolver: one place per LOC entity it is given.
type placeRecorder struct{ got [][]article.Entity }

func (p *placeRecorder) Resolve(ents []article.Entity) []article.Place {
	p.got = append(p.got, ents)
	var out []article.Place
	for _, e := range ents {
		if e.Type == article.TypeLoc {
			out = append(out, article.Place{Entity: e.Name, Name: e.Name, Kind: "city", Country: "SY", Lat: 35, Lon: 36})
		}
	}
	return out
}

type locs []article.Entity

func (l locs) Extract(title, body string) []article.Entity { return l }

// TestEnrichResolvesPlaces: the resolver sees the article's entities, and its places are the
// enriched article's; without a resolver there are none (and no "places" in the JSON).
func TestEnrichResolvesPlaces(t *testing.T) {
	ents := locs{{Name: "Hama", Type: article.TypeLoc}, {Name: "Assad", Type: article.TypePerson}}
	pr := &placeRecorder{}
	got := (&Enricher{Entities: ents, Places: pr}).Enrich(article.Article{Title: "T", Body: "Hama"})
	if len(pr.got) != 1 || len(pr.got[0]) != 2 {
		t.Fatalf("resolver was given %v, want the article's two entities", pr.got)
	}
	if len(got.Places) != 1 || got.Places[0].Entity != "Hama" || got.Places[0].Country != "SY" {
		t.Fatalf("places %+v", got.Places)
	}
	b, err := article.Marshal(got)
	if err != nil || !strings.Contains(string(b), `"places":[{"entity":"Hama","name":"Hama","kind":"city","country":"SY","lat":35,"lon":36}]`) {
		t.Fatalf("JSON %s (%v)", b, err)
	}
	none := (&Enricher{Entities: ents}).Enrich(article.Article{Title: "T", Body: "Hama"})
	if b, _ := article.Marshal(none); none.Places != nil || strings.Contains(string(b), `"places"`) {
		t.Fatalf("without a resolver: %s", b)
	}
}

// TestEnrichSimilarity wants the signer to see the cleaned, capped title and body, and its
// result in the enriched article.
func TestEnrichSimilarity(t *testing.T) {
	var seen []string
	want := &article.Similarity{Signature: "sig", NearBands: []string{"n"}, StoryBands: []string{"s"}}
	e := &Enricher{MaxFieldBytes: 3, Similarity: func(title, body string) *article.Similarity {
		seen = append(seen, title, body)
		return want
	}}
	got := e.Enrich(article.Article{Title: "Title", Body: "a\xffbody"})
	if got.Similarity != want {
		t.Errorf("similarity %+v, want %+v", got.Similarity, want)
	}
	if len(seen) != 2 || seen[0] != "Tit" || seen[1] != "a" {
		t.Errorf("signer saw %q, want the capped, valid title and body", seen)
	}
	if got := (&Enricher{}).Enrich(article.Article{Title: "T"}); got.Similarity != nil {
		t.Errorf("no signer: similarity %+v", got.Similarity)
	}
}
