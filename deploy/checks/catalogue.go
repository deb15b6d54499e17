package checks

import (
	"bytes"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/newsflow/newsflow/pkg/metrics"
)

// Family is one metric family a service exposes.
type Family struct {
	Name   string
	Type   string          // counter, gauge, histogram, summary, untyped
	Labels map[string]bool // label names seen on its series (empty when not seen yet)
	Source string          // where it was learnt: "scrape of <service>" or "pkg/metrics.NewStage"
}

// Catalogue is every metric family known to exist, by name.
type Catalogue map[string]*Family

// AddExposition adds the families of a Prometheus text exposition (what /metrics answers).
func (c Catalogue) AddExposition(r io.Reader, source string) error {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return fmt.Errorf("parsing the exposition of %s: %w", source, err)
	}
	for name, mf := range fams {
		f := c.family(name, strings.ToLower(mf.GetType().String()), source)
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				f.Labels[lp.GetName()] = true
			}
		}
	}
	return nil
}

func (c Catalogue) family(name, typ, source string) *Family {
	f, ok := c[name]
	if !ok {
		f = &Family{Name: name, Type: typ, Labels: map[string]bool{}, Source: source}
		c[name] = f
	}
	return f
}

var fqNameRE = regexp.MustCompile(`fqName: "([^"]+)"`)
var varLabelsRE = regexp.MustCompile(`variableLabels: \{([^}]*)\}`)

// AddStage adds the stage set pkg/metrics registers for service (received, produced, failed,
// dead-lettered, processing time, consumer lag). These are vectors: a scrape shows them only
// once a label value was used, so a family such as failed_total may be missing from a scrape of
// a healthy service although the service registers it. The names come from pkg/metrics itself.
func (c Catalogue) AddStage(service string) {
	st := metrics.NewStage(prometheus.NewRegistry(), service)
	v := reflect.ValueOf(st).Elem()
	for i := 0; i < v.NumField(); i++ {
		col, ok := v.Field(i).Interface().(prometheus.Collector)
		if !ok {
			continue
		}
		typ := "counter"
		switch col.(type) {
		case *prometheus.HistogramVec:
			typ = "histogram"
		case *prometheus.GaugeVec:
			typ = "gauge"
		case *prometheus.SummaryVec:
			typ = "summary"
		}
		ch := make(chan *prometheus.Desc, 4)
		go func() { col.Describe(ch); close(ch) }()
		for d := range ch {
			m := fqNameRE.FindStringSubmatch(d.String())
			if m == nil {
				continue
			}
			f := c.family(m[1], typ, "pkg/metrics.NewStage")
			if l := varLabelsRE.FindStringSubmatch(d.String()); l != nil {
				for _, n := range strings.Split(l[1], ",") {
					if n = strings.TrimSpace(n); n != "" {
						f.Labels[n] = true
					}
				}
			}
		}
	}
}

// Lookup finds the family a series name belongs to: the name itself, or for histograms and
// summaries the family behind a _bucket, _sum or _count series.
func (c Catalogue) Lookup(series string) (*Family, bool) {
	if f, ok := c[series]; ok {
		if f.Type == "histogram" || f.Type == "summary" {
			// A bare histogram name is not a series Prometheus stores.
			return f, false
		}
		return f, true
	}
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(series, suf)
		if !ok {
			continue
		}
		if f, ok := c[base]; ok && (f.Type == "histogram" || (f.Type == "summary" && suf != "_bucket")) {
			return f, true
		}
	}
	return nil, false
}

// Names lists the catalogue's family names with a prefix, sorted (for error messages).
func (c Catalogue) Names(prefix string) []string {
	var out []string
	for n := range c {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// CheckSelectors reports every selector of exprs that names no known series: a metric that does
// not exist, a histogram used without _bucket/_sum/_count, or a name regexp matching nothing.
// Only newsflow_* names are checked against the services; others (up, ALERTS) are Prometheus's.
//
// declared, when not nil, is asked about names the catalogue lacks: a vector a service registers
// appears on /metrics only once a label value was used (a retry that never happened), so a
// name the service's binary declares is accepted, and reported in notes.
func (c Catalogue) CheckSelectors(where string, sels []Selector, declared func(metric string) bool) (problems, notes []string) {
	for _, s := range sels {
		switch {
		case s.Metric != "" && strings.HasPrefix(s.Metric, "newsflow_"):
			if _, ok := c.Lookup(s.Metric); ok {
				continue
			}
			if declared != nil && !c.beginsFamily(s.Metric) && declared(s.Metric) {
				notes = append(notes, fmt.Sprintf("%s: %s was not exposed during the run; accepted because the service's binary declares it", where, s.Metric))
				continue
			}
			problems = append(problems, fmt.Sprintf("%s: metric %s is not exposed by the services (they expose: %s)",
				where, s.Metric, strings.Join(c.Names("newsflow_"), ", ")))
		case s.NameRegexp != nil:
			n := 0
			for name := range c {
				if s.NameRegexp.Matches(name) {
					n++
				}
			}
			if n == 0 {
				problems = append(problems, fmt.Sprintf("%s: name matcher %s matches no metric of the services", where, s.NameRegexp))
			}
		}
	}
	return problems, notes
}

// DeclaredIn reports whether a compiled binary holds metric's family name as a string: the name
// itself, or for a _bucket/_sum/_count series its histogram's name. Go keeps string constants
// verbatim in the binary, so a metric registered with a constant name is found; a name built at
// run time from parts is not (those come from the scrape or from AddStage). Literals sit side by
// side without separators, so this cannot tell a name from the start of a longer one;
// CheckSelectors therefore refuses names that begin a family it knows.
func DeclaredIn(binary []byte, metric string) bool {
	cands := []string{metric}
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(metric, suf); ok {
			cands = append(cands, base)
		}
	}
	for _, c := range cands {
		if bytes.Contains(binary, []byte(c)) {
			return true
		}
	}
	return false
}

// beginsFamily reports whether name is the beginning of a longer known family name
// (newsflow_index_bulk_size of newsflow_index_bulk_size_bytes).
func (c Catalogue) beginsFamily(name string) bool {
	for n := range c {
		if strings.HasPrefix(n, name+"_") {
			return true
		}
	}
	return false
}
