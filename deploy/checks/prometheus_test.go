package checks

import (
	"os/exec"
	"reflect"
	"slices"
	"testing"

	"sigs.k8s.io/yaml"
)

// promtool runs Debian's promtool (deploy/local/up.sh installs the prometheus package) from the
// repository root.
func promtool(t *testing.T, args ...string) {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool is not installed; `make up` (deploy/local/up.sh) installs Debian's prometheus package, which has it: %v", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = root(t)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("promtool %v: %v\n%s", args, err, out)
	}
}

func TestPromtoolCheckConfig(t *testing.T) {
	// check config also checks every rule file the configuration loads.
	promtool(t, "check", "config", "deploy/prometheus/prometheus.yml")
	promtool(t, "check", "config", "deploy/local/conf/prometheus.yml")
}

func TestPromtoolCheckRules(t *testing.T) {
	promtool(t, "check", "rules", "deploy/prometheus/rules/newsflow.yml")
}

// TestPromtoolTestRules runs the alert rules' unit tests: each alert fires on the series it is
// about, and only then.
func TestPromtoolTestRules(t *testing.T) {
	promtool(t, "test", "rules", "deploy/prometheus/tests/newsflow_test.yml")
}

// TestLocalAndComposeScrapeAlike: deploy/local and deploy/compose scrape the same job with the
// same service labels and load the same rule files, so the dashboard and the alerts work on both.
func TestLocalAndComposeScrapeAlike(t *testing.T) {
	compose := readScrapeConfig(t, "deploy", "prometheus", "prometheus.yml")
	local := readScrapeConfig(t, "deploy", "local", "conf", "prometheus.yml")
	ct, lt := compose.targets("newsflow"), local.targets("newsflow")
	for _, s := range Services {
		if ct[s] == "" || lt[s] == "" {
			t.Errorf("service %s: compose target %q, local target %q; both must scrape it in job newsflow", s, ct[s], lt[s])
		}
	}
	cr, lr := compose.ruleFiles(t), local.ruleFiles(t)
	if len(cr) == 0 || !slices.Equal(cr, lr) {
		t.Errorf("rule files differ: compose loads %v, local loads %v", cr, lr)
	}
}

// TestPrometheusRuleMirrorsRulesFile: the Prometheus Operator copy in deploy/k8s/monitoring must
// say exactly what deploy/prometheus/rules/newsflow.yml says.
func TestPrometheusRuleMirrorsRulesFile(t *testing.T) {
	var file, cr struct {
		Groups []any `json:"groups"`
		Spec   struct {
			Groups []any `json:"groups"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(readFile(t, "deploy", "prometheus", "rules", "newsflow.yml"), &file); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(readFile(t, "deploy", "k8s", "monitoring", "prometheusrule.yaml"), &cr); err != nil {
		t.Fatal(err)
	}
	if len(file.Groups) == 0 || !reflect.DeepEqual(file.Groups, cr.Spec.Groups) {
		t.Errorf("deploy/k8s/monitoring/prometheusrule.yaml spec.groups differs from deploy/prometheus/rules/newsflow.yml; copy the file's groups under spec")
	}
}
