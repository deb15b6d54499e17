package checks

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// MappingFields flattens the mapping of an index template body (PUT _index_template/<name>, as
// `index setup --print` writes it) into field paths and their types, sub-fields included:
// "title" text, "title.keyword" keyword, "entities.person" keyword.
func MappingFields(template []byte) (map[string]string, error) {
	var t struct {
		Template struct {
			Mappings struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"mappings"`
		} `json:"template"`
	}
	if err := json.Unmarshal(template, &t); err != nil {
		return nil, fmt.Errorf("decoding the index template: %w", err)
	}
	if len(t.Template.Mappings.Properties) == 0 {
		return nil, fmt.Errorf("the index template has no template.mappings.properties")
	}
	out := map[string]string{}
	var walk func(prefix string, props map[string]json.RawMessage) error
	walk = func(prefix string, props map[string]json.RawMessage) error {
		for name, raw := range props {
			var f struct {
				Type       string                     `json:"type"`
				Properties map[string]json.RawMessage `json:"properties"`
				Fields     map[string]json.RawMessage `json:"fields"`
			}
			if err := json.Unmarshal(raw, &f); err != nil {
				return fmt.Errorf("field %s%s: %w", prefix, name, err)
			}
			path := prefix + name
			typ := f.Type
			if typ == "" && f.Properties != nil {
				typ = "object"
			}
			out[path] = typ
			if err := walk(path+".", f.Properties); err != nil {
				return err
			}
			if err := walk(path+".", f.Fields); err != nil {
				return err
			}
		}
		return nil
	}
	return out, walk("", t.Template.Mappings.Properties)
}

// SavedObject is one line of a Kibana saved-objects NDJSON export.
type SavedObject struct {
	Type       string          `json:"type"`
	ID         string          `json:"id"`
	Attributes json.RawMessage `json:"attributes"`
	References []struct {
		Name string `json:"name"`
		Type string `json:"type"`
		ID   string `json:"id"`
	} `json:"references"`
}

// SearchFilter is one filter of a saved object's searchSourceJSON: the field it is about
// (meta.key), whether it is negated, and the exists query of an exists filter.
type SearchFilter struct {
	Meta struct {
		Key    string `json:"key"`
		Negate bool   `json:"negate"`
		Type   string `json:"type"`
	} `json:"meta"`
	Exists *struct {
		Field string `json:"field"`
	} `json:"exists"`
}

// FieldRef is a field a saved object uses, and where.
type FieldRef struct {
	Field string
	Where string
}

// kqlField finds `field:` terms in a KQL query string.
var kqlField = regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_.]*)\s*:`)

// Fields returns the index fields a saved object refers to: a data view's time field, a saved
// search's columns, sort, query and filters, a visualization's aggregation fields and query, a map's
// layers' geo, tooltip and sort fields. Kibana
// stores the nested documents (visState, searchSourceJSON, panelsJSON) as JSON strings; they
// are decoded here, and a malformed one is an error.
func (o SavedObject) Fields() ([]FieldRef, error) {
	var a struct {
		Title         string     `json:"title"`
		TimeFieldName string     `json:"timeFieldName"`
		Columns       []string   `json:"columns"`
		Sort          [][]string `json:"sort"`
		VisState      string     `json:"visState"`
		PanelsJSON    string     `json:"panelsJSON"`
		LayerListJSON string     `json:"layerListJSON"`
		Meta          *struct {
			SearchSourceJSON string `json:"searchSourceJSON"`
		} `json:"kibanaSavedObjectMeta"`
	}
	if err := json.Unmarshal(o.Attributes, &a); err != nil {
		return nil, fmt.Errorf("%s %s: attributes: %w", o.Type, o.ID, err)
	}
	where := o.Type + " " + o.ID
	var out []FieldRef
	if a.TimeFieldName != "" {
		out = append(out, FieldRef{a.TimeFieldName, where + " timeFieldName"})
	}
	for _, c := range a.Columns {
		out = append(out, FieldRef{c, where + " columns"})
	}
	for _, s := range a.Sort {
		if len(s) > 0 {
			out = append(out, FieldRef{s[0], where + " sort"})
		}
	}
	if a.VisState != "" {
		var vs struct {
			Type string `json:"type"`
			Aggs []struct {
				Type   string         `json:"type"`
				Params map[string]any `json:"params"`
			} `json:"aggs"`
		}
		if err := json.Unmarshal([]byte(a.VisState), &vs); err != nil {
			return nil, fmt.Errorf("%s: visState: %w", where, err)
		}
		if vs.Type == "" || len(vs.Aggs) == 0 {
			return nil, fmt.Errorf("%s: visState has no type or no aggs", where)
		}
		for _, ag := range vs.Aggs {
			if f, ok := ag.Params["field"].(string); ok {
				out = append(out, FieldRef{f, fmt.Sprintf("%s %s aggregation", where, ag.Type)})
			}
		}
	}
	if a.LayerListJSON != "" { // a map: each Elasticsearch layer's geo field, tooltip and sort fields
		var layers []struct {
			ID     string `json:"id"`
			Source struct {
				Type              string   `json:"type"`
				GeoField          string   `json:"geoField"`
				TooltipProperties []string `json:"tooltipProperties"`
				SortField         string   `json:"sortField"`
				IndexPatternRef   string   `json:"indexPatternRefName"`
			} `json:"sourceDescriptor"`
		}
		if err := json.Unmarshal([]byte(a.LayerListJSON), &layers); err != nil {
			return nil, fmt.Errorf("%s: layerListJSON: %w", where, err)
		}
		for _, l := range layers {
			if !strings.HasPrefix(l.Source.Type, "ES_") {
				continue // a base map or a file layer: no index fields
			}
			lw := where + " layer " + l.ID
			if l.Source.GeoField == "" || l.Source.IndexPatternRef == "" {
				return nil, fmt.Errorf("%s: an %s layer needs geoField and indexPatternRefName", lw, l.Source.Type)
			}
			out = append(out, FieldRef{l.Source.GeoField, lw + " geoField"})
			for _, f := range l.Source.TooltipProperties {
				out = append(out, FieldRef{f, lw + " tooltip"})
			}
			if l.Source.SortField != "" {
				out = append(out, FieldRef{l.Source.SortField, lw + " sort"})
			}
		}
	}
	if a.PanelsJSON != "" {
		var panels []map[string]any
		if err := json.Unmarshal([]byte(a.PanelsJSON), &panels); err != nil {
			return nil, fmt.Errorf("%s: panelsJSON: %w", where, err)
		}
	}
	if a.Meta != nil && a.Meta.SearchSourceJSON != "" {
		var ss struct {
			Query struct {
				Query    any    `json:"query"`
				Language string `json:"language"`
			} `json:"query"`
			Filter []SearchFilter `json:"filter"`
		}
		if err := json.Unmarshal([]byte(a.Meta.SearchSourceJSON), &ss); err != nil {
			return nil, fmt.Errorf("%s: searchSourceJSON: %w", where, err)
		}
		if q, ok := ss.Query.Query.(string); ok && ss.Query.Language == "kuery" {
			for _, m := range kqlField.FindAllStringSubmatch(q, -1) {
				out = append(out, FieldRef{m[1], where + " query"})
			}
		}
		for _, f := range ss.Filter {
			if f.Meta.Key != "" {
				out = append(out, FieldRef{f.Meta.Key, where + " filter"})
			}
			if f.Exists != nil {
				out = append(out, FieldRef{f.Exists.Field, where + " exists filter"})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	return out, nil
}
