package checks

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestLagCountedPerPod(t *testing.T) {
	tests := []struct {
		expr string
		bad  int
	}{
		{`sum by (topic) (newsflow_index_consumer_lag_messages)`, 1},
		{`sum by (service) (newsflow_enrich_consumer_lag_messages) > 1000`, 1},
		{`sum by (topic, partition) (newsflow_index_consumer_lag_messages)`, 1}, // still one copy per pod
		{`sum(delta(newsflow_index_consumer_lag_messages[15m]))`, 1},
		{`avg by (topic) (newsflow_index_consumer_lag_messages)`, 1},
		{`sum({__name__="newsflow_index_consumer_lag_messages"})`, 1},
		{`sum by (topic) (max by (topic, partition) (newsflow_index_consumer_lag_messages))`, 0},
		{`sum by (service) (max by (service, topic, partition) (delta(newsflow_index_consumer_lag_messages[15m]))) > 0`, 0},
		{`max by (service) (newsflow_index_consumer_lag_messages)`, 0},
		{`sum by (instance) (newsflow_index_consumer_lag_messages)`, 0}, // per pod
		{`newsflow_index_consumer_lag_messages`, 0},
		{`sum(rate(newsflow_index_received_total[5m]))`, 0},
	}
	for _, tt := range tests {
		got, err := LagCountedPerPod(tt.expr)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != tt.bad {
			t.Errorf("LagCountedPerPod(%s) = %v, want %d problems", tt.expr, got, tt.bad)
		}
	}
}

// TestLagCountedOncePerPartition: no dashboard query or alert adds up the consumer lag of the
// replicas. Each replica reports the group's lag for all partitions, so a plain sum shows six pods'
// lag six times over, and the alert's 1000-message threshold acts like about 167.
func TestLagCountedOncePerPartition(t *testing.T) {
	exprs := loadDashboard(t).exprs()
	for k, v := range ruleExprs(t) {
		exprs[k] = v
	}
	n := 0
	for where, e := range exprs {
		bad, err := LagCountedPerPod(ExpandGrafana(e))
		if err != nil {
			t.Errorf("%s: %v", where, err)
			continue
		}
		if strings.Contains(e, "_consumer_lag_messages") {
			n++
		}
		for _, b := range bad {
			t.Errorf("%s: %s adds up every replica's copy of a partition's lag; de-duplicate first: max by (topic, partition) (...)", where, b)
		}
	}
	if n == 0 {
		t.Error("no query uses a consumer-lag metric")
	}
}

// TestDeadLetterAlertTestedFromAbsent: dead_lettered_total{reason} series can appear at 1 (the
// pod's first dead letter of that reason), so the alert's unit test must start with the series
// absent and expect the alert on the first dead letter; a test whose input starts at 0 passes
// with an alert that never fires in production.
func TestDeadLetterAlertTestedFromAbsent(t *testing.T) {
	var f struct {
		Tests []struct {
			Name          string                            `json:"name"`
			InputSeries   []struct{ Series, Values string } `json:"input_series"`
			AlertRuleTest []struct {
				Alertname string `json:"alertname"`
				ExpAlerts []any  `json:"exp_alerts"`
			} `json:"alert_rule_test"`
		} `json:"tests"`
	}
	if err := yaml.Unmarshal(readFile(t, "deploy", "prometheus", "tests", "newsflow_test.yml"), &f); err != nil {
		t.Fatal(err)
	}
	for _, alert := range []string{"NewsflowDeadLetters", "NewsflowIndexDocumentsRefused"} {
		ok := false
		for _, tc := range f.Tests {
			fires := false
			for _, a := range tc.AlertRuleTest {
				fires = fires || (a.Alertname == alert && len(a.ExpAlerts) > 0)
			}
			for _, s := range tc.InputSeries {
				v := strings.Fields(s.Values)
				if fires && strings.Contains(s.Series, "_dead_lettered_total") && len(v) > 0 && strings.HasPrefix(v[0], "_") && !strings.Contains(s.Values, " 0") {
					ok = true
				}
			}
		}
		if !ok {
			t.Errorf("deploy/prometheus/tests/newsflow_test.yml: no test expects %s to fire on a dead_lettered_total series that starts absent (values '_ _ 1 …', never 0)", alert)
		}
	}
}
