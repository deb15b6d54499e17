package checks

import (
	"fmt"
	"regexp"
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
