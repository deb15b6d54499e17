package document_test

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/newsflow/newsflow/pkg/article"
	"github.com/newsflow/newsflow/services/index/internal/document"
	"github.com/newsflow/newsflow/services/index/internal/schema"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name, value, wantErr string
	}{
		{"ok", `{"id":"a","title":"t","body":"b","published_at":"2019-08-21T08:00:00Z"}`, ""},
		{"bad json", `{"id":"a",`, "decoding JSON"},
		{"not an object", `[1,2]`, "decoding JSON"},
		{"no id", `{"title":"t","published_at":"2019-08-21T08:00:00Z"}`, "no id"},
		{"blank id", `{"id":"  ","published_at":"2019-08-21T08:00:00Z"}`, "no id"},
		{"no published_at", `{"id":"a"}`, "no published_at"},
		{"bad time", `{"id":"a","published_at":"yesterday"}`, "decoding JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := document.Decode([]byte(tc.value))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, document.ErrInvalid)):
				t.Fatalf("error %v, want ErrInvalid mentioning %q", err, tc.wantErr)
			}
		})
	}
}

func TestFrom(t *testing.T) {
	pub := time.Date(2019, 8, 21, 10, 0, 0, 0, time.FixedZone("CEST", 2*3600))
	now := time.Date(2019, 8, 21, 9, 0, 5, 0, time.UTC)
	e := article.Enriched{
		Article: article.Article{ID: "x1", Source: "bbc", URL: "https://bbc.co.uk/x", Title: "T", Body: "B",
			Authors: []string{"A"}, Language: "en", PublishedAt: pub},
		EnrichmentVersion: "v1",
		Entities: []article.Entity{
			{Name: "Ali Shamkhani", Type: "PERSON"}, {Name: "Ali Shamkhani", Type: "PERSON"}, {Name: "Iran", Type: "LOC"},
			{Name: "UN", Type: "ORG"}, {Name: "Syrian", Type: "MISC"}, {Name: "Olympics", Type: "EVENT"}, {Name: " ", Type: "ORG"},
			{Name: "Iran", Type: "ORG"},
		},
		Dates: []article.DateMention{
			{Value: "2019-08-20", GTE: "2019-08-20", LTE: "2019-08-20"},
			{Value: "2019-08-20", GTE: "2019-08-20", LTE: "2019-08-20"},
			{Value: "201X"},
			{Value: "2019-W34", GTE: "2019-08-19", LTE: "2019-08-25"},
		},
	}
	e.Places = []article.Place{
		{Entity: "US", Name: "United States", Kind: "country", Country: "US", Lat: 38.8951, Lon: -77.0364},
		{Entity: "Hama", Name: "Ḩamāh", Kind: "city", Country: "SY", Lat: 35.1318, Lon: 36.7578},
		{Entity: "United States", Name: "United States", Kind: "country", Country: "US", Lat: 38.8951, Lon: -77.0364},
		{Entity: "Nowhere", Name: "Nowhere", Kind: "city", Lat: 91, Lon: 0},
		{Entity: "Nowhere", Name: "Nowhere", Kind: "city", Lat: 0, Lon: math.NaN()},
	}
	d := document.From(e, now)
	wantPlaces := []document.Place{
		{Name: "United States", Country: "US", Kind: "country", Location: document.GeoPoint{Lat: 38.8951, Lon: -77.0364}},
		{Name: "Ḩamāh", Country: "SY", Kind: "city", Location: document.GeoPoint{Lat: 35.1318, Lon: 36.7578}},
	}
	if !reflect.DeepEqual(d.Places, wantPlaces) {
		t.Errorf("places %+v, want %+v (one per place, none without a valid point)", d.Places, wantPlaces)
	}
	want := document.Entities{Person: []string{"Ali Shamkhani"}, Org: []string{"UN", "Iran"}, Loc: []string{"Iran"}, Misc: []string{"Syrian", "Olympics"}}
	if !reflect.DeepEqual(d.Entities, want) {
		t.Errorf("entities %+v, want %+v", d.Entities, want)
	}
	if len(d.DateMentions) != 3 || d.DateMentions[2] != (document.DateRange{GTE: "2019-08-19", LTE: "2019-08-25"}) {
		t.Errorf("date mentions %+v", d.DateMentions)
	}
	if !reflect.DeepEqual(d.DateValues, []string{"2019-08-20", "201X", "2019-W34"}) {
		t.Errorf("date values %v", d.DateValues)
	}
	if d.PublishedAt.Location() != time.UTC || d.IngestedAt != nil || !d.IndexedAt.Equal(now) {
		t.Errorf("times: published %v, ingested %v, indexed %v", d.PublishedAt, d.IngestedAt, d.IndexedAt)
	}
	if got := d.Index(schema.Names{Prefix: "articles"}, 1); got != "articles-2019.08" {
		t.Errorf("index %q", got)
	}

	// Every field the document can carry is in the template's strict mapping.
	d.IngestedAt, d.EnrichedAt = &now, &now
	d.EnrichmentNote = "trimmed to fit a Kafka record" // set only on trimmed articles
	var fields map[string]any
	b, _ := json.Marshal(d)
	_ = json.Unmarshal(b, &fields)
	tpl := schema.Names{Prefix: "p"}.Template(1, schema.Settings{})
	props := tpl["template"].(map[string]any)["mappings"].(map[string]any)["properties"].(map[string]any)
	for f := range fields {
		if _, ok := props[f]; !ok {
			t.Errorf("document field %q is not in the mapping", f)
		}
	}
	for _, obj := range []string{"entities", "places"} {
		var members map[string]any
		switch v := fields[obj].(type) {
		case map[string]any:
			members = v
		case []any:
			members = v[0].(map[string]any)
		}
		if len(members) == 0 {
			t.Errorf("%s: nothing to check in %s", obj, b)
		}
		mapped, _ := props[obj].(map[string]any)
		mprops, _ := mapped["properties"].(map[string]any)
		for f := range members {
			if _, ok := mprops[f]; !ok {
				t.Errorf("%s.%s is not in the mapping", obj, f)
			}
		}
	}
}
