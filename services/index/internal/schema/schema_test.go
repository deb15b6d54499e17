package schema_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/newsflow/newsflow/services/index/internal/schema"
)

func TestIndexNames(t *testing.T) {
	n := schema.Names{Prefix: "articles"}
	tests := []struct {
		pub     time.Time
		version int
		want    string
	}{
		{time.Date(2019, 8, 21, 8, 0, 0, 0, time.UTC), 1, "articles-2019.08"},
		{time.Date(2019, 8, 21, 8, 0, 0, 0, time.UTC), 0, "articles-2019.08"},
		{time.Date(2019, 12, 31, 23, 30, 0, 0, time.FixedZone("x", -2*3600)), 1, "articles-2020.01"}, // by UTC month
		{time.Date(2019, 9, 1, 1, 0, 0, 0, time.FixedZone("x", 3*3600)), 2, "articles-2019.08-v2"},
	}
	for _, tc := range tests {
		got := n.Index(tc.pub, tc.version)
		if got != tc.want {
			t.Errorf("Index(%v, %d) = %q, want %q", tc.pub, tc.version, got, tc.want)
		}
		month, v, ok := n.ParseIndex(got)
		wantV := max(tc.version, 1)
		u := tc.pub.UTC()
		if !ok || v != wantV || month.Year() != u.Year() || month.Month() != u.Month() {
			t.Errorf("ParseIndex(%q) = %v, %d, %v; want %s, %d", got, month, v, ok, u.Format("2006-01"), wantV)
		}
	}
	for _, bad := range []string{"articles", "articles-2019.13", "other-2019.08", "articles-x-2019.08", "articles-2019.08-vx", ".kibana"} {
		if _, _, ok := n.ParseIndex(bad); ok {
			t.Errorf("ParseIndex(%q) accepted a name that is not a monthly index of articles", bad)
		}
	}
	if n.Alias() != "articles" || n.TemplateName() != "articles" || n.Pattern() != "articles-*" {
		t.Errorf("names: alias %q, template %q, pattern %q", n.Alias(), n.TemplateName(), n.Pattern())
	}
}

// TestTemplateMapping pins the mapping DESIGN.md promises, read back from the JSON the engine gets.
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
	}
	for f, want := range types {
		if got := m.Properties[f]["type"]; got != want {
			t.Errorf("%s: type %v, want %s", f, got, want)
		}
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
	ents := m.Properties["entities"]["properties"].(map[string]any)
	for _, f := range []string{schema.EntityPerson, schema.EntityOrg, schema.EntityLoc, schema.EntityMisc} {
		if ents[f].(map[string]any)["type"] != "keyword" {
			t.Errorf("entities.%s: %v", f, ents[f])
		}
	}
}
