package checks

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

type dashboard struct {
	UID    string  `json:"uid"`
	Title  string  `json:"title"`
	Panels []panel `json:"panels"`
}

type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	GridPos struct{ X, Y, W, H int } `json:"gridPos"`
	Targets []struct {
		RefID      string `json:"refId"`
		Expr       string `json:"expr"`
		Datasource *struct {
			UID string `json:"uid"`
		} `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	var d dashboard
	if err := json.Unmarshal(readFile(t, "deploy", "grafana", "dashboards", "newsflow.json"), &d); err != nil {
		t.Fatalf("deploy/grafana/dashboards/newsflow.json: %v", err)
	}
	return d
}

// exprsOf lists the PromQL of every dashboard panel target, by a readable location.
func (d dashboard) exprs() map[string]string {
	out := map[string]string{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			for _, tg := range p.Targets {
				out[fmt.Sprintf("grafana panel %q target %s", p.Title, tg.RefID)] = tg.Expr
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

// ruleExprs lists the expressions of deploy/prometheus/rules/*.yml.
func ruleExprs(t *testing.T) map[string]string {
	var f struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Alert  string `json:"alert"`
				Record string `json:"record"`
				Expr   string `json:"expr"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := yaml.Unmarshal(readFile(t, "deploy", "prometheus", "rules", "newsflow.yml"), &f); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			out["rule "+r.Alert+r.Record] = r.Expr
		}
	}
	return out
}

// TestGrafanaDashboard checks the dashboard's structure: valid JSON Grafana can provision, unique
// panel ids inside the 24-column grid, every query on the provisioned datasource and valid PromQL.
func TestGrafanaDashboard(t *testing.T) {
	d := loadDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Error("dashboard needs a uid and a title")
	}
	var ds struct {
		Datasources []struct {
			UID  string `json:"uid"`
			Type string `json:"type"`
		} `json:"datasources"`
	}
	if err := yaml.Unmarshal(readFile(t, "deploy", "grafana", "provisioning", "datasources", "prometheus.yml"), &ds); err != nil {
		t.Fatal(err)
	}
	if len(ds.Datasources) != 1 || ds.Datasources[0].Type != "prometheus" {
		t.Fatalf("want one provisioned prometheus datasource, got %+v", ds.Datasources)
	}
	uid := ds.Datasources[0].UID
	ids := map[int]bool{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if ids[p.ID] {
				t.Errorf("panel id %d used twice", p.ID)
			}
			ids[p.ID] = true
			if p.GridPos.W <= 0 || p.GridPos.X+p.GridPos.W > 24 || p.GridPos.H <= 0 {
				t.Errorf("panel %q: gridPos %+v outside the 24-column grid", p.Title, p.GridPos)
			}
			if p.Type != "row" && (p.Datasource == nil || p.Datasource.UID != uid) {
				t.Errorf("panel %q does not use the provisioned datasource uid %q", p.Title, uid)
			}
			for _, tg := range p.Targets {
				if tg.Datasource != nil && tg.Datasource.UID != uid {
					t.Errorf("panel %q target %s uses datasource %q", p.Title, tg.RefID, tg.Datasource.UID)
				}
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	exprs := d.exprs()
	if len(exprs) == 0 {
		t.Fatal("dashboard has no queries")
	}
	for where, e := range exprs {
		if _, err := Selectors(ExpandGrafana(e)); err != nil {
			t.Errorf("%s: %v", where, err)
		}
	}
	// The provider reads the folder compose mounts the dashboards into.
	prov := string(readFile(t, "deploy", "grafana", "provisioning", "dashboards", "newsflow.yml"))
	if !strings.Contains(prov, "path: /var/lib/grafana/dashboards") {
		t.Error("dashboard provider does not read /var/lib/grafana/dashboards")
	}
}

// TestIssueTopicsCovered checks the dashboard and rules cover what the issue asks for, by the
// metrics they use.
func TestIssueTopicsCovered(t *testing.T) {
	all := strings.Builder{}
	for _, e := range loadDashboard(t).exprs() {
		all.WriteString(e + "\n")
	}
	dash := all.String()
	for what, needle := range map[string]string{
		"throughput per stage": "_produced_total", "lag": "_consumer_lag_messages", "errors": "_failed_total",
		"DLQ rate": "_dead_lettered_total", "latency percentiles": "histogram_quantile(0.99", "bulk sizes": "newsflow_index_bulk_size_",
		"end-to-end latency": "newsflow_index_end_to_end_",
	} {
		if !strings.Contains(dash, needle) {
			t.Errorf("dashboard has no %s panel (no query with %q)", what, needle)
		}
	}
	rules := ruleExprs(t)
	for _, a := range []string{"NewsflowStageDown", "NewsflowConsumerLagGrowing", "NewsflowDeadLetters", "NewsflowEndToEndLatencyHigh"} {
		if _, ok := rules["rule "+a]; !ok {
			t.Errorf("alert %s is missing", a)
		}
	}
}

// TestMetricsExistInServices is the cross-check: every newsflow_* metric a dashboard query or
// an alert rule uses is one the services expose (see liveCatalogue).
func TestMetricsExistInServices(t *testing.T) {
	cat := liveCatalogue(t)
	sb := services(t)
	contents := map[string][]byte{}
	for _, svc := range Services {
		b, err := os.ReadFile(sb.bins[svc])
		if err != nil {
			t.Fatal(err)
		}
		contents[svc] = b
	}
	// declared asks the binary of the service a metric name belongs to (newsflow_<service>_…).
	declared := func(metric string) bool {
		for svc, b := range contents {
			if strings.HasPrefix(metric, "newsflow_"+svc+"_") {
				return DeclaredIn(b, metric)
			}
		}
		return false
	}
	exprs := loadDashboard(t).exprs()
	for k, v := range ruleExprs(t) {
		exprs[k] = v
	}
	n := 0
	for where, e := range exprs {
		sels, err := Selectors(ExpandGrafana(e))
		if err != nil {
			t.Errorf("%s: %v", where, err)
			continue
		}
		n += len(sels)
		problems, notes := cat.CheckSelectors(where, sels, declared)
		for _, p := range problems {
			t.Error(p)
		}
		for _, n := range notes {
			t.Log(n)
		}
	}
	t.Logf("%d selectors in %d queries checked against %d metric families of the running services", n, len(exprs), len(cat))
}
