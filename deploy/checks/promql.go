package checks

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// grafanaVar matches Grafana's template variables in a query: $__rate_interval, ${var}, $var.
var grafanaVar = regexp.MustCompile(`\$\{[^}]+\}|\$[A-Za-z_][A-Za-z0-9_]*`)

// ExpandGrafana replaces Grafana's variables with values PromQL accepts, so that a dashboard
// query can be parsed: interval variables become 5m, anything else a plain word.
func ExpandGrafana(expr string) string {
	return grafanaVar.ReplaceAllStringFunc(expr, func(v string) string {
		name := strings.Trim(v, "${}")
		switch name {
		case "__rate_interval", "__interval", "__range", "__auto_interval":
			return "5m"
		case "__range_s", "__interval_ms":
			return "300"
		default:
			return "var_" + name
		}
	})
}

// Selector is one series selector of a PromQL expression.
type Selector struct {
	// Metric is the metric name of the selector, or "" when it selects by a regular expression
	// on __name__ (then NameRegexp is set).
	Metric     string
	NameRegexp *labels.Matcher
	// Labels are the other label names the selector matches on.
	Labels []string
}

// Selectors parses expr (a PromQL expression, Grafana variables already expanded) and returns
// its series selectors.
func Selectors(expr string) ([]Selector, error) {
	e, err := parser.ParseExpr(expr)
	if err != nil {
		return nil, fmt.Errorf("parsing %q: %w", expr, err)
	}
	var out []Selector
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		s := Selector{Metric: vs.Name}
		for _, m := range vs.LabelMatchers {
			switch {
			case m.Name == labels.MetricName && m.Type == labels.MatchEqual:
				s.Metric = m.Value
			case m.Name == labels.MetricName:
				s.NameRegexp = m
			default:
				s.Labels = append(s.Labels, m.Name)
			}
		}
		sort.Strings(s.Labels)
		out = append(out, s)
		return nil
	})
	return out, nil
}

// lagMetric matches the consumer-lag gauges. Every replica of a stage reports the lag of its
// group for every partition (kafkax.MonitorLag asks the brokers for the group's offsets), so one
// partition has one series per pod.
var lagMetric = regexp.MustCompile(`^newsflow_[a-z]+_consumer_lag_messages$`)

// LagCountedPerPod returns the consumer-lag selectors of expr whose first aggregation adds the
// pods' copies up: anything but max or min (which keep one copy), unless it groups by pod or
// instance. sum by (topic) (lag) counts each partition once per replica; sum by (topic)
// (max by (topic, partition) (lag)) counts it once.
func LagCountedPerPod(expr string) ([]string, error) {
	e, err := parser.ParseExpr(expr)
	if err != nil {
		return nil, fmt.Errorf("parsing %q: %w", expr, err)
	}
	var out []string
	parser.Inspect(e, func(n parser.Node, path []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		for _, m := range vs.LabelMatchers {
			if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
				name = m.Value
			}
		}
		if !lagMetric.MatchString(name) {
			return nil
		}
		for i := len(path) - 1; i >= 0; i-- {
			agg, ok := path[i].(*parser.AggregateExpr)
			if !ok {
				continue
			}
			perPod := !agg.Without && (slices.Contains(agg.Grouping, "pod") || slices.Contains(agg.Grouping, "instance"))
			if agg.Op != parser.MAX && agg.Op != parser.MIN && !perPod {
				out = append(out, fmt.Sprintf("%s of %s", agg.Op, name))
			}
			break
		}
		return nil
	})
	return out, nil
}
