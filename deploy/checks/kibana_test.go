package checks

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
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
	// The data view is the read alias, not a pattern: articles-* also matches the indices of
	// other index versions (a replay's staged ones, the old version's until they are deleted),
	// which would count every article once per version.
	if dataViews != 1 || dv.Title != "articles" || dv.TimeFieldName != "published_at" {
		t.Errorf("want one data view on the read alias articles with time field published_at, got %d (%+v)", dataViews, dv)
	}
	counts := map[string]int{}
	for _, o := range objs {
		counts[o.Type]++
	}
	if counts["search"] < 1 || counts["dashboard"] != 1 || counts["map"] < 1 {
		t.Errorf("want a saved search, one dashboard and a map, got %v", counts)
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
	for _, f := range []string{"published_at", "entities.person", "entities.org", "entities.loc", "source", "date_values", "places.location", "story_id"} {
		if !shown[f] {
			t.Errorf("the dashboard has no visualization of %s", f)
		}
	}
}

// TestKibanaHidesDuplicates: a saved search shows each text once. Discover cannot collapse on a
// field, so it is a negated exists filter on duplicate_of (absent on originals).
func TestKibanaHidesDuplicates(t *testing.T) {
	for _, o := range loadSavedObjects(t) {
		if o.Type != "search" {
			continue
		}
		var a struct {
			Meta struct {
				SearchSourceJSON string `json:"searchSourceJSON"`
			} `json:"kibanaSavedObjectMeta"`
		}
		_ = json.Unmarshal(o.Attributes, &a)
		var ss struct {
			Filter []SearchFilter `json:"filter"`
		}
		_ = json.Unmarshal([]byte(a.Meta.SearchSourceJSON), &ss)
		for _, f := range ss.Filter {
			if f.Meta.Negate && f.Exists != nil && f.Exists.Field == "duplicate_of" && f.Meta.Key == "duplicate_of" {
				return
			}
		}
	}
	t.Error("no saved search hides near-duplicates (a negated exists filter on duplicate_of)")
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
			t.Errorf("the template's pattern %q does not give the indices behind the alias articles their mapping", p)
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
			case strings.HasSuffix(r.Where, " geoField"):
				if typ != "geo_point" && typ != "geo_shape" {
					t.Errorf("%s: %s is %s, want geo_point", r.Where, r.Field, typ)
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

// TestKibanaDashboardTimeRange: every dashboard is saved with its time range (timeRestore), so it
// does not open on Kibana's default last 15 minutes, where the demo's Reuters corpus (1987) and
// articles dated a little ahead of the clock are not. The range reaches back before 1987 and up to
// now at least.
func TestKibanaDashboardTimeRange(t *testing.T) {
	now := time.Now()
	corpusStart := time.Date(1987, 1, 1, 0, 0, 0, 0, time.UTC)
	dashboards := 0
	for _, o := range loadSavedObjects(t) {
		if o.Type != "dashboard" {
			continue
		}
		dashboards++
		var a struct {
			TimeRestore bool   `json:"timeRestore"`
			TimeFrom    string `json:"timeFrom"`
			TimeTo      string `json:"timeTo"`
		}
		if err := json.Unmarshal(o.Attributes, &a); err != nil {
			t.Fatalf("dashboard %s: %v", o.ID, err)
		}
		if !a.TimeRestore || a.TimeFrom == "" || a.TimeTo == "" {
			t.Errorf("dashboard %s: timeRestore=%v timeFrom=%q timeTo=%q; want timeRestore true with a timeFrom and timeTo, or it opens on the last 15 minutes", o.ID, a.TimeRestore, a.TimeFrom, a.TimeTo)
			continue
		}
		from, err := kibanaTime(a.TimeFrom, now)
		if err != nil {
			t.Errorf("dashboard %s: timeFrom: %v", o.ID, err)
		} else if from.After(corpusStart) {
			t.Errorf("dashboard %s: timeFrom %q is %s, after the start of the 1987 Reuters corpus", o.ID, a.TimeFrom, from.Format(time.DateOnly))
		}
		to, err := kibanaTime(a.TimeTo, now)
		if err != nil {
			t.Errorf("dashboard %s: timeTo: %v", o.ID, err)
		} else if to.Before(now) {
			t.Errorf("dashboard %s: timeTo %q ends before now, hiding today's news", o.ID, a.TimeTo)
		}
	}
	if dashboards == 0 {
		t.Error("no dashboard in deploy/kibana/newsflow.ndjson")
	}
}

// kibanaTime resolves a Kibana time bound: an absolute RFC 3339 time, or date math "now", "now-50y",
// "now+1d" (units y M w d h m s; a rounding such as /d is ignored).
func kibanaTime(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	m := regexp.MustCompile(`^now(?:([+-])([0-9]+)([yMwdhms]))?(?:/[yMwdhms])?$`).FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, fmt.Errorf("%q is neither RFC 3339 nor date math now[+-]N<unit>", s)
	}
	if m[1] == "" {
		return now, nil
	}
	n, _ := strconv.Atoi(m[2])
	if m[1] == "-" {
		n = -n
	}
	switch m[3] {
	case "y":
		return now.AddDate(n, 0, 0), nil
	case "M":
		return now.AddDate(0, n, 0), nil
	case "w":
		return now.AddDate(0, 0, 7*n), nil
	case "d":
		return now.AddDate(0, 0, n), nil
	}
	d := map[string]time.Duration{"h": time.Hour, "m": time.Minute, "s": time.Second}[m[3]]
	return now.Add(time.Duration(n) * d), nil
}
