package checks

import (
	"encoding/json"
	"regexp"
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
