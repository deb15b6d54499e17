package enrich

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/newsflow/newsflow/pkg/article"
)

// TestFitOrder: what Fit cuts comes in order of what the document loses least: mentions first,
// then repeated date mentions, and entities only when that was not enough.
func TestFitOrder(t *testing.T) {
	const limit = 1_000_000
	body := strings.Repeat("On Monday the Syrian delegation met in Geneva. ", 19_000) // ~900 KB
	e := article.Enriched{Article: article.Article{ID: "x", Title: "T", Body: body}}
	for i := 0; i < 40; i++ {
		ent := article.Entity{Name: fmt.Sprintf("Entity %d", i), Type: article.TypeOrg}
		for j := 0; j < 100; j++ {
			ent.Mentions = append(ent.Mentions, article.Mention{Field: article.FieldBody, Start: j * 48, End: j*48 + 6})
		}
		e.Entities = append(e.Entities, ent)
	}
	for j := 0; j < 700; j++ { // the same date, mentioned in every repetition
		e.Dates = append(e.Dates, article.DateMention{Text: "On Monday", Field: article.FieldBody, Start: j * 48, End: j*48 + 9,
			Value: "2019-08-19", Granularity: "day", GTE: "2019-08-19", LTE: "2019-08-19", Relative: true})
	}
	v, note, err := Fit(e, limit)
	if err != nil {
		t.Fatal(err)
	}
	var got article.Enriched
	if err := json.Unmarshal(v, &got); err != nil {
		t.Fatal(err)
	}
	if len(v) > limit || len(got.Entities) != 40 || len(got.Dates) != 1 || got.Body != body {
		t.Fatalf("%d bytes, %d entities, %d dates, body kept %v; note %q", len(v), len(got.Entities), len(got.Dates), got.Body == body, note)
	}
	if got.EnrichmentNote != note || !strings.Contains(note, "mentions per entity") || !strings.Contains(note, "repeated date") || strings.Contains(note, "entities") {
		t.Fatalf("note %q", note)
	}
	if len(e.Entities[0].Mentions) != 100 || len(e.Dates) != 700 {
		t.Fatal("Fit changed the caller's article")
	}

	small := article.Enriched{Article: article.Article{ID: "s", Body: "short"}}
	if _, note, err := Fit(small, limit); err != nil || note != "" {
		t.Fatalf("small article: note %q, err %v", note, err)
	}
	huge := article.Enriched{Article: article.Article{ID: "h", Body: strings.Repeat("a", limit)}}
	if _, _, err := Fit(huge, limit); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("an article too large alone: %v, want ErrTooLarge", err)
	}
}

// TestFitKeepsMarkupOneByte: a body full of '<', '>' and '&' that ingest accepted (it encodes
// them one byte each) fits untrimmed; json.Marshal's \u003c escapes would have made it twice the
// limit and dead-lettered it.
func TestFitKeepsMarkupOneByte(t *testing.T) {
	body := strings.Repeat("a < b && c > d ", 30_000) // 450,000 bytes, 150,000 of them markup
	e := article.Enriched{Article: article.Article{ID: "m", Title: "Markup", Body: body}}
	v, note, err := Fit(e, 1_000_000)
	if err != nil || note != "" {
		t.Fatalf("Fit: note %q, err %v; want it to fit untouched", note, err)
	}
	if len(v) > len(body)+200 {
		t.Fatalf("record is %d bytes for a %d-byte body: markup was escaped", len(v), len(body))
	}
	var back article.Enriched
	if err := json.Unmarshal(v, &back); err != nil || back.Body != body {
		t.Fatalf("round trip: %v, body equal %v", err, back.Body == body)
	}
}

// TestFitCutsPlacesWithTheirEntities: when entities are cut, their places go with them, and the
// places of the entities kept stay.
func TestFitCutsPlacesWithTheirEntities(t *testing.T) {
	const limit = 1_000_000
	e := article.Enriched{Article: article.Article{ID: "p", Title: "T", Body: strings.Repeat("x", 600_000)}}
	for i := 0; i < 4000; i++ {
		name := fmt.Sprintf("Place %d %s", i, strings.Repeat("y", 60))
		e.Entities = append(e.Entities, article.Entity{Name: name, Type: article.TypeLoc})
		e.Places = append(e.Places, article.Place{Entity: name, Name: name, Kind: "city", Country: "SY", Lat: 35, Lon: 36})
	}
	v, note, err := Fit(e, limit)
	if err != nil {
		t.Fatal(err)
	}
	var got article.Enriched
	if err := json.Unmarshal(v, &got); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(note, "entities") || len(got.Entities) == 0 || len(got.Entities) == 4000 {
		t.Fatalf("note %q, %d entities: want some entities cut", note, len(got.Entities))
	}
	if len(got.Places) != len(got.Entities) {
		t.Fatalf("%d places for %d entities", len(got.Places), len(got.Entities))
	}
	for i, p := range got.Places {
		if p.Entity != got.Entities[i].Name {
			t.Fatalf("place %d is of %q, entity %d is %q", i, p.Entity, i, got.Entities[i].Name)
		}
	}
	if len(e.Places) != 4000 {
		t.Fatal("Fit changed the caller's places")
	}
}
