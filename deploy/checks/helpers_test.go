package checks

import (
	"strings"
	"testing"
)

const exposition = `# HELP newsflow_index_bulk_size_bytes Body size of one _bulk request.
# TYPE newsflow_index_bulk_size_bytes histogram
newsflow_index_bulk_size_bytes_bucket{le="1024"} 0
newsflow_index_bulk_size_bytes_bucket{le="+Inf"} 3
newsflow_index_bulk_size_bytes_sum 9000
newsflow_index_bulk_size_bytes_count 3
# HELP newsflow_index_inflight_bytes Bytes in flight.
# TYPE newsflow_index_inflight_bytes gauge
newsflow_index_inflight_bytes 0
`

func TestCatalogue(t *testing.T) {
	c := Catalogue{}
	if err := c.AddExposition(strings.NewReader(exposition), "fixture"); err != nil {
		t.Fatal(err)
	}
	c.AddStage("index")
	tests := []struct {
		series string
		ok     bool
	}{
		{"newsflow_index_bulk_size_bytes_bucket", true},
		{"newsflow_index_bulk_size_bytes_sum", true},
		{"newsflow_index_bulk_size_bytes", false}, // a histogram is not a series
		{"newsflow_index_inflight_bytes", true},
		{"newsflow_index_inflight_bytes_bucket", false},
		{"newsflow_index_received_total", true}, // from pkg/metrics, not scraped
		{"newsflow_index_processing_seconds_bucket", true},
		{"newsflow_index_consumer_lag_messages", true},
		{"newsflow_enrich_received_total", false}, // another service
		{"newsflow_index_nope_total", false},
	}
	for _, tt := range tests {
		if _, ok := c.Lookup(tt.series); ok != tt.ok {
			t.Errorf("Lookup(%s) = %v, want %v", tt.series, ok, tt.ok)
		}
	}
	if f := c["newsflow_index_consumer_lag_messages"]; f == nil || !f.Labels["partition"] || f.Type != "gauge" {
		t.Errorf("stage lag family: %+v", f)
	}
}

func TestSelectorsAndCheck(t *testing.T) {
	c := Catalogue{}
	c.AddStage("enrich")
	tests := []struct {
		expr     string
		problems int
	}{
		{`sum(rate(newsflow_enrich_received_total[$__rate_interval]))`, 0},
		{`histogram_quantile(0.99, sum by (le) (rate(newsflow_enrich_processing_seconds_bucket[5m])))`, 0},
		{`rate(newsflow_enrich_typo_total[5m])`, 1},
		{`up{job="newsflow"} == 0`, 0}, // Prometheus's own series are not checked
		{`sum(rate({__name__=~"newsflow_enrich_.*_total"}[5m]))`, 0},
		{`sum(rate({__name__=~"newsflow_nothing_.*"}[5m]))`, 1},
		{`newsflow_enrich_processing_seconds > 1`, 1}, // histogram without a suffix
	}
	for _, tt := range tests {
		sels, err := Selectors(ExpandGrafana(tt.expr))
		if err != nil {
			t.Errorf("%s: %v", tt.expr, err)
			continue
		}
		if p, _ := c.CheckSelectors("test", sels, nil); len(p) != tt.problems {
			t.Errorf("%s: problems %v, want %d", tt.expr, p, tt.problems)
		}
	}
	sels, _ := Selectors(`rate(newsflow_enrich_retries_total[5m]) + rate(newsflow_enrich_gone_total[5m]) + rate(newsflow_enrich_received[5m])`)
	bin := []byte("\x00newsflow_enrich_retries_totalreflect.Valuenewsflow_enrich_received_total\x00")
	p, notes := c.CheckSelectors("test", sels, func(m string) bool { return DeclaredIn(bin, m) })
	// gone_total is nowhere; received begins the known received_total, whatever the binary holds.
	if len(p) != 2 || !strings.Contains(p[0], "newsflow_enrich_gone_total") || !strings.Contains(p[1], "newsflow_enrich_received ") || len(notes) != 1 {
		t.Errorf("with a declaring binary: problems %v, notes %v", p, notes)
	}
	if !DeclaredIn([]byte("xxnewsflow_a_secondsyy"), "newsflow_a_seconds_bucket") {
		t.Error("a histogram series was not traced to its family name")
	}
	if _, err := Selectors(`sum(rate(x[5m])`); err == nil {
		t.Error("a malformed expression parsed")
	}
	if got := ExpandGrafana(`rate(x{a="$service"}[$__rate_interval])`); got != `rate(x{a="var_service"}[5m])` {
		t.Errorf("ExpandGrafana = %s", got)
	}
}

func TestMappingFieldsAndSavedObjectFields(t *testing.T) {
	tmpl := []byte(`{"index_patterns":["articles-*"],"template":{"mappings":{"dynamic":"strict","properties":{
		"title":{"type":"text","fields":{"keyword":{"type":"keyword"}}},
		"published_at":{"type":"date"},
		"entities":{"properties":{"person":{"type":"keyword"}}}}}}}`)
	f, err := MappingFields(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"title": "text", "title.keyword": "keyword", "published_at": "date", "entities": "object", "entities.person": "keyword"}
	for k, v := range want {
		if f[k] != v {
			t.Errorf("field %s = %q, want %q", k, f[k], v)
		}
	}
	if _, err := MappingFields([]byte(`{}`)); err == nil {
		t.Error("a template without mappings was accepted")
	}
	o := SavedObject{Type: "visualization", ID: "v", Attributes: []byte(`{"title":"t",
		"visState":"{\"type\":\"table\",\"aggs\":[{\"type\":\"terms\",\"params\":{\"field\":\"entities.person\"}}]}",
		"kibanaSavedObjectMeta":{"searchSourceJSON":"{\"query\":{\"query\":\"source:bbc\",\"language\":\"kuery\"}}"}}`)}
	refs, err := o.Fields()
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != 2 || refs[0].Field != "entities.person" || refs[1].Field != "source" {
		t.Errorf("fields %+v", refs)
	}
	bad := SavedObject{Type: "visualization", ID: "b", Attributes: []byte(`{"visState":"{not json"}`)}
	if _, err := bad.Fields(); err == nil {
		t.Error("a malformed visState was accepted")
	}
}
