package checks

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// readmeSaysGrafanaEditable finds where deploy/README.md promises that the Grafana dashboard can
// be edited: a line naming Grafana and "to edit", "editable" or "save".
var readmeSaysGrafanaEditable = regexp.MustCompile(`(?i)grafana[^\n]*\b(to edit|editable|save)`)

// TestGrafanaEditableAsDocumented: the dashboard's "editable" flag and the file provider's
// allowUiUpdates say what deploy/README.md says. A README that promises "admin/admin to edit"
// over a dashboard saved with "editable": false (Grafana shows no edit control) or a provider
// without allowUiUpdates (Grafana refuses to save a provisioned dashboard) sends people to a
// button that is not there; and saving must come with what Grafana does to a saved copy when
// the file changes (it overwrites it).
func TestGrafanaEditableAsDocumented(t *testing.T) {
	readme := string(readFile(t, "deploy", "README.md"))
	promise := readmeSaysGrafanaEditable.FindString(readme)
	want := promise != ""
	var d struct {
		Editable *bool `json:"editable"`
	}
	if err := json.Unmarshal(readFile(t, "deploy", "grafana", "dashboards", "newsflow.json"), &d); err != nil {
		t.Fatalf("deploy/grafana/dashboards/newsflow.json: %v", err)
	}
	if d.Editable == nil || *d.Editable != want {
		t.Errorf("deploy/grafana/dashboards/newsflow.json has \"editable\": %v, but deploy/README.md says %q: set it to %v", ptrBool(d.Editable), promiseOrNothing(promise), want)
	}
	var prov struct {
		Providers []struct {
			Name           string `json:"name"`
			Type           string `json:"type"`
			AllowUIUpdates *bool  `json:"allowUiUpdates"`
		} `json:"providers"`
	}
	if err := yaml.Unmarshal(readFile(t, "deploy", "grafana", "provisioning", "dashboards", "newsflow.yml"), &prov); err != nil {
		t.Fatalf("deploy/grafana/provisioning/dashboards/newsflow.yml: %v", err)
	}
	if len(prov.Providers) == 0 {
		t.Fatal("deploy/grafana/provisioning/dashboards/newsflow.yml has no dashboard provider")
	}
	for _, p := range prov.Providers {
		got := p.AllowUIUpdates != nil && *p.AllowUIUpdates
		if got != want {
			t.Errorf("dashboard provider %q in deploy/grafana/provisioning/dashboards/newsflow.yml has allowUiUpdates: %v, but deploy/README.md says %q: set it to %v (without it Grafana refuses to save a provisioned dashboard)", p.Name, got, promiseOrNothing(promise), want)
		}
	}
	if want && !strings.Contains(readme, "allowUiUpdates") || want && !strings.Contains(strings.ToLower(readme), "overwrit") {
		t.Errorf("deploy/README.md promises an editable Grafana dashboard (%q) but does not say that saving needs allowUiUpdates and that Grafana overwrites a saved copy when the provisioned file changes", promise)
	}
}

func ptrBool(b *bool) any {
	if b == nil {
		return "absent"
	}
	return *b
}

func promiseOrNothing(p string) string {
	if p == "" {
		return "nothing about editing it"
	}
	return p
}

// TestGrafanaExemplarsLinkToJaeger: the end-to-end latency panel asks for exemplars, the
// Prometheus datasource sends their trace_id to a provisioned Jaeger datasource, that datasource
// points at the compose jaeger service, and Prometheus keeps exemplars at all
// (--enable-feature=exemplar-storage): from a latency spike to the article's trace.
func TestGrafanaExemplarsLinkToJaeger(t *testing.T) {
	type source struct {
		UID      string `json:"uid"`
		Type     string `json:"type"`
		URL      string `json:"url"`
		JSONData struct {
			Destinations []struct {
				Name          string `json:"name"`
				DatasourceUID string `json:"datasourceUid"`
			} `json:"exemplarTraceIdDestinations"`
		} `json:"jsonData"`
	}
	read := func(name string) []source {
		var f struct {
			Datasources []source `json:"datasources"`
		}
		if err := yaml.Unmarshal(readFile(t, "deploy", "grafana", "provisioning", "datasources", name), &f); err != nil {
			t.Fatal(err)
		}
		return f.Datasources
	}
	prom, jaeger := read("prometheus.yml"), read("jaeger.yml")
	if len(jaeger) != 1 || jaeger[0].Type != "jaeger" || jaeger[0].URL != "http://jaeger:16686" {
		t.Fatalf("jaeger.yml: want one jaeger datasource at http://jaeger:16686, got %+v", jaeger)
	}
	linked := false
	for _, d := range prom[0].JSONData.Destinations {
		linked = linked || (d.Name == "trace_id" && d.DatasourceUID == jaeger[0].UID)
	}
	if !linked {
		t.Errorf("the prometheus datasource does not send exemplars' trace_id to datasource %q: %+v", jaeger[0].UID, prom[0].JSONData.Destinations)
	}

	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr     string `json:"expr"`
				Exemplar bool   `json:"exemplar"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(readFile(t, "deploy", "grafana", "dashboards", "newsflow.json"), &d); err != nil {
		t.Fatal(err)
	}
	asks := false
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			asks = asks || (tg.Exemplar && strings.Contains(tg.Expr, "newsflow_index_end_to_end_latency_seconds_bucket"))
		}
	}
	if !asks {
		t.Error("no query of newsflow_index_end_to_end_latency_seconds_bucket asks for exemplars")
	}

	p := loadCompose(t)
	if _, ok := p.Services["jaeger"]; !ok {
		t.Error("compose has no jaeger service for the datasource to reach")
	}
	if !slices.Contains(p.Services["prometheus"].Command, "--enable-feature=exemplar-storage") {
		t.Errorf("compose prometheus runs %v: without --enable-feature=exemplar-storage it drops exemplars", p.Services["prometheus"].Command)
	}
	for _, svc := range Services {
		if e := p.Services[svc].Environment["OTEL_EXPORTER_OTLP_ENDPOINT"]; e == nil || !strings.Contains(*e, "jaeger:4318") {
			t.Errorf("compose %s does not export traces to the jaeger service: OTEL_EXPORTER_OTLP_ENDPOINT=%v", svc, e)
		}
	}
}
