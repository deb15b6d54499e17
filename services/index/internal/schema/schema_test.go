package schema_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/newsflow/newsflow/services/index/internal/schema"
)

func TestIndexNames(t *testing.T) {
	n := schema.Names{Prefix: "articles", MonthlyFrom: 2000}
	tests := []struct {
		pub     time.Time
		version int
		want    string
		yearly  bool
	}{
		{time.Date(2019, 8, 21, 8, 0, 0, 0, time.UTC), 1, "articles-2019.08", false},
		{time.Date(2019, 8, 21, 8, 0, 0, 0, time.UTC), 0, "articles-2019.08", false},
		{time.Date(2019, 12, 31, 23, 30, 0, 0, time.FixedZone("x", -2*3600)), 1, "articles-2020.01", false}, // by UTC month
		{time.Date(2019, 9, 1, 1, 0, 0, 0, time.FixedZone("x", 3*3600)), 2, "articles-2019.08-v2", false},
		{time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), 1, "articles-2000.01", false},
		// before MonthlyFrom: one index per year
		{time.Date(1987, 3, 26, 12, 0, 0, 0, time.UTC), 1, "articles-1987", true},
		{time.Date(1999, 12, 31, 23, 59, 0, 0, time.UTC), 1, "articles-1999", true},
		{time.Date(2000, 1, 1, 0, 30, 0, 0, time.FixedZone("x", 3600)), 1, "articles-1999", true}, // by UTC year
		{time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), 3, "articles-1900-v3", true},
	}
	for _, tc := range tests {
		got := n.Index(tc.pub, tc.version)
		if got != tc.want {
			t.Errorf("Index(%v, %d) = %q, want %q", tc.pub, tc.version, got, tc.want)
		}
		p, v, ok := n.ParseIndex(got)
		wantV := max(tc.version, 1)
		u := tc.pub.UTC()
		wantStart := time.Date(u.Year(), u.Month(), 1, 0, 0, 0, 0, time.UTC)
		if tc.yearly {
			wantStart = time.Date(u.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
		}
		if !ok || v != wantV || p.Yearly != tc.yearly || !p.Start.Equal(wantStart) {
			t.Errorf("ParseIndex(%q) = %+v, %d, %v; want start %s yearly %v, %d", got, p, v, ok, wantStart, tc.yearly, wantV)
		}
		if back := n.PeriodIndex(p, wantV); back != got {
			t.Errorf("PeriodIndex(ParseIndex(%q)) = %q", got, back)
		}
	}
	for _, bad := range []string{"articles", "articles-2019.13", "other-2019.08", "other-1987", "articles-x-2019.08", "articles-2019.08-vx", "articles-198", "articles-19870", ".kibana"} {
		if _, _, ok := n.ParseIndex(bad); ok {
			t.Errorf("ParseIndex(%q) accepted a name that is not a monthly or yearly index of articles", bad)
		}
	}
	// A prefix that ends in digits still parses.
	d := schema.Names{Prefix: "news-2019"}
	if p, v, ok := d.ParseIndex("news-2019-1987-v2"); !ok || !p.Yearly || p.Start.Year() != 1987 || v != 2 {
		t.Errorf("ParseIndex of a digit-ended prefix: %+v %d %v", p, v, ok)
	}
	// MonthlyFrom 0: every month has its own index (the layout before yearly indices).
	if got := (schema.Names{Prefix: "articles"}).Index(time.Date(1987, 3, 1, 0, 0, 0, 0, time.UTC), 1); got != "articles-1987.03" {
		t.Errorf("MonthlyFrom 0: %q", got)
	}
	if n.Alias() != "articles" || n.TemplateName() != "articles" || n.Pattern() != "articles-*" {
		t.Errorf("names: alias %q, template %q, pattern %q", n.Alias(), n.TemplateName(), n.Pattern())
	}
}

// TestWindowBoundsIndices: whatever the publication dates, the indices the stage can create are
// bounded: dates outside the window are refused, and the window holds a known number of them.
func TestWindowBoundsIndices(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	w := schema.Window{Floor: schema.DefaultFloor, Future: schema.DefaultFuture}
	for _, tc := range []struct {
		pub time.Time
		ok  bool
	}{
		{time.Date(1899, 12, 31, 23, 59, 59, 0, time.UTC), false},
		{time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{now.Add(47 * time.Hour), true},
		{now.Add(49 * time.Hour), false},
		{time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), false},
	} {
		err := w.Check(tc.pub, now)
		if (err == nil) != tc.ok {
			t.Errorf("Check(%v) = %v, want ok %v", tc.pub, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "published_at") {
			t.Errorf("Check(%v): reason %q does not name the field", tc.pub, err)
		}
	}
	// Yearly before 2000: 100 years (1900..1999) + 27 years of months to Dec 2026 (the window
	// ends 2 days into December) = 100 + 26*12 + 12 = 424.
	n := schema.Names{Prefix: "articles", MonthlyFrom: 2000}
	if got := n.MaxIndices(w, now); got != 424 {
		t.Errorf("MaxIndices = %d, want 424", got)
	}
	// Count them the long way: every distinct index of every day in the window.
	seen := map[string]bool{}
	for d := w.Floor; !d.After(now.Add(w.Future)); d = d.Add(24 * time.Hour) {
		seen[n.Index(d, 1)] = true
	}
	if len(seen) != n.MaxIndices(w, now) {
		t.Errorf("%d distinct indices in the window, MaxIndices says %d", len(seen), n.MaxIndices(w, now))
	}
}

// TestTemplateMapping pins the mapping docs/ARCHITECTURE.md promises, read back from the JSON the
// engine gets.
func TestTemplateMapping(t *testing.T) {
	n := schema.Names{Prefix: "articles"}
	var tpl struct {
		IndexPatterns []string `json:"index_patterns"`
		Version       int      `json:"version"`
		Template      struct {
			Settings map[string]any            `json:"settings"`
			Aliases  map[string]map[string]any `json:"aliases"`
			Mappings struct {
				Dynamic    string                    `json:"dynamic"`
				Properties map[string]map[string]any `json:"properties"`
			} `json:"mappings"`
		} `json:"template"`
	}
	if err := json.Unmarshal(n.TemplateJSON(3, schema.Settings{Shards: 1, Replicas: 0, RefreshInterval: "1s"}), &tpl); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(tpl.IndexPatterns, []string{"articles-*"}) || tpl.Version != 3 {
		t.Errorf("patterns %v, version %d", tpl.IndexPatterns, tpl.Version)
	}
	if _, ok := tpl.Template.Aliases["articles"]; !ok {
		t.Errorf("template does not attach the read alias: %v", tpl.Template.Aliases)
	}
	m := tpl.Template.Mappings
	if m.Dynamic != "strict" {
		t.Errorf("dynamic %q, want strict", m.Dynamic)
	}
	types := map[string]string{
		"id": "keyword", "source": "keyword", "url": "keyword", "language": "keyword", "title": "text", "body": "text",
		"published_at": "date", "ingested_at": "date", "enriched_at": "date", "indexed_at": "date",
		"date_mentions": "date_range", "date_values": "keyword",
		"minhash": "binary", "near_bands": "keyword", "story_bands": "keyword", "duplicate_of": "keyword", "story_id": "keyword",
	}
	for f, want := range types {
		if got := m.Properties[f]["type"]; got != want {
			t.Errorf("%s: type %v, want %s", f, got, want)
		}
	}
	for _, f := range []string{"near_bands", "story_bands"} { // matched, never aggregated
		if m.Properties[f]["doc_values"] != false {
			t.Errorf("%s: doc_values %v, want false", f, m.Properties[f]["doc_values"])
		}
	}
	if schema.Version < 4 {
		t.Errorf("schema version %d: the near-duplicate and story fields need a new version (4)", schema.Version)
	}
	if m.Properties["body"]["analyzer"] != "english" {
		t.Errorf("body analyzer %v, want english", m.Properties["body"]["analyzer"])
	}
	if kw := m.Properties["title"]["fields"].(map[string]any)["keyword"].(map[string]any); kw["type"] != "keyword" {
		t.Errorf("title.keyword: %v", kw)
	}
	if m.Properties["date_mentions"]["format"] != "yyyy-MM-dd" {
		t.Errorf("date_mentions format %v", m.Properties["date_mentions"]["format"])
	}
	places := m.Properties["places"]["properties"].(map[string]any)
	for f, want := range map[string]string{schema.PlaceName: "keyword", schema.PlaceCountry: "keyword", schema.PlaceKind: "keyword", schema.PlaceLocation: "geo_point"} {
		if places[f].(map[string]any)["type"] != want {
			t.Errorf("places.%s: %v, want %s", f, places[f], want)
		}
	}
	ents := m.Properties["entities"]["properties"].(map[string]any)
	for _, f := range []string{schema.EntityPerson, schema.EntityOrg, schema.EntityLoc, schema.EntityMisc} {
		if ents[f].(map[string]any)["type"] != "keyword" {
			t.Errorf("entities.%s: %v", f, ents[f])
		}
	}
}
