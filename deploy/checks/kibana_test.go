package checks

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func loadSavedObjects(t *testing.T) []SavedObject {
	t.Helper()
	var out []SavedObject
	sc := bufio.NewScanner(bytes.NewReader(readFile(t, "deploy", "kibana", "newsflow.ndjson")))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var o SavedObject
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			t.Fatalf("deploy/kibana/newsflow.ndjson line %d: %v", line, err)
		}
		if o.Type == "" || o.ID == "" || len(o.Attributes) == 0 {
			t.Fatalf("line %d: a saved object needs type, id and attributes", line)
		}
		out = append(out, o)
	}
	return out
}

// TestKibanaSavedObjects checks the NDJSON Kibana's import API takes: one object a line, unique
// ids, every reference resolving inside the file, and the objects the issue asks for.
func TestKibanaSavedObjects(t *testing.T) {
	objs := loadSavedObjects(t)
	byKey := map[string]SavedObject{}
	for _, o := range objs {
		k := o.Type + "/" + o.ID
		if _, dup := byKey[k]; dup {
			t.Errorf("%s appears twice", k)
		}
		byKey[k] = o
	}
	for _, o := range objs {
		for _, r := range o.References {
			if _, ok := byKey[r.Type+"/"+r.ID]; !ok {
				t.Errorf("%s %s refers to %s %s, which is not in the file", o.Type, o.ID, r.Type, r.ID)
			}
		}
		if _, err := o.Fields(); err != nil { // decodes the nested JSON strings
			t.Error(err)
		}
	}
	var dv struct{ Title, TimeFieldName string }
	var dataViews int
	for _, o := range objs {
		if o.Type == "index-pattern" {
			dataViews++
			_ = json.Unmarshal(o.Attributes, &dv)
		}
	}
	if dataViews != 1 || dv.Title != "articles*" || dv.TimeFieldName != "published_at" {
		t.Errorf("want one data view on articles* with time field published_at, got %d (%+v)", dataViews, dv)
	}
	counts := map[string]int{}
	for _, o := range objs {
		counts[o.Type]++
	}
	if counts["search"] < 1 || counts["dashboard"] != 1 {
		t.Errorf("want a saved search and one dashboard, got %v", counts)
	}
	// The dashboard shows articles over time and the top people, organisations, places, sources
	// and mentioned dates: check by the fields its visualizations aggregate on.
	var dash SavedObject
	for _, o := range objs {
		if o.Type == "dashboard" {
			dash = o
		}
	}
	var panels []struct {
		PanelRefName string `json:"panelRefName"`
	}
	var da struct{ PanelsJSON string }
	_ = json.Unmarshal(dash.Attributes, &da)
	if err := json.Unmarshal([]byte(da.PanelsJSON), &panels); err != nil {
		t.Fatal(err)
	}
	refs := map[string]bool{}
	for _, r := range dash.References {
		refs[r.Name] = true
	}
	shown := map[string]bool{}
	for _, p := range panels {
		if !refs[p.PanelRefName] {
			t.Errorf("dashboard panel %s has no reference", p.PanelRefName)
		}
	}
	for _, r := range dash.References {
		fields, _ := byKey[r.Type+"/"+r.ID].Fields()
		for _, f := range fields {
			shown[f.Field] = true
		}
	}
	for _, f := range []string{"published_at", "entities.person", "entities.org", "entities.loc", "source", "date_values"} {
		if !shown[f] {
			t.Errorf("the dashboard has no visualization of %s", f)
		}
	}
}

// TestKibanaFieldsExistInTemplate is the cross-check with the index service: every field a
// saved object uses is in the mapping `index setup --print` installs, the time field is a date,
// and fields used for terms aggregations are keywords (text fields cannot be aggregated).
func TestKibanaFieldsExistInTemplate(t *testing.T) {
	sb := services(t)
	fields, err := MappingFields(sb.template)
	if err != nil {
		t.Fatal(err)
	}
	var tmpl struct {
		IndexPatterns []string `json:"index_patterns"`
	}
	_ = json.Unmarshal(sb.template, &tmpl)
	for _, p := range tmpl.IndexPatterns {
		if !strings.HasPrefix(p, "articles") {
			t.Errorf("the template's pattern %q is not covered by the data view articles*", p)
		}
	}
	for _, o := range loadSavedObjects(t) {
		refs, err := o.Fields()
		if err != nil {
			t.Error(err)
			continue
		}
		for _, r := range refs {
			typ, ok := fields[r.Field]
			switch {
			case !ok:
				t.Errorf("%s: field %q is not in the index template (fields: %v)", r.Where, r.Field, keys(fields))
			case strings.HasSuffix(r.Where, "timeFieldName") || strings.HasSuffix(r.Where, "date_histogram aggregation"):
				if typ != "date" {
					t.Errorf("%s: %s is %s, want date", r.Where, r.Field, typ)
				}
			case strings.HasSuffix(r.Where, "terms aggregation") || strings.HasSuffix(r.Where, " sort"):
				if typ != "keyword" && typ != "date" {
					t.Errorf("%s: %s is %s, which cannot be aggregated or sorted on", r.Where, r.Field, typ)
				}
			}
		}
	}
}

func keys(m map[string]string) []string {
	s := map[string]bool{}
	for k := range m {
		s[k] = true
	}
	return Sorted(s)
}
