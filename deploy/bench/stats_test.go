package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSummarize(t *testing.T) {
	for _, tc := range []struct {
		in            []float64
		med, min, max float64
	}{
		{[]float64{5}, 5, 5, 5},
		{[]float64{3, 1, 2}, 2, 1, 3},
		{[]float64{4, 1, 3, 2}, 2.5, 1, 4},
	} {
		got := summarize(tc.in)
		if got != (summary{tc.med, tc.min, tc.max}) {
			t.Errorf("summarize(%v) = %+v, want median %v min %v max %v", tc.in, got, tc.med, tc.min, tc.max)
		}
	}
	in := []float64{3, 1, 2}
	summarize(in)
	if in[0] != 3 || in[1] != 1 {
		t.Errorf("summarize sorted its input in place: %v", in)
	}
}

// The headline ratio is the median of the per-run ratios, each against its own run's baseline,
// not the ratio of the median value to the median baseline.
func TestCollectorRatioIsMedianOfRunRatios(t *testing.T) {
	c := newCollector()
	// run ratios: 0.5, 0.9, 0.8 → median 0.8; medians of value 90 and baseline 100 give 0.9.
	for _, r := range [][2]float64{{50, 100}, {90, 100}, {100, 125}} {
		c.add(Result{Name: "index", Unit: "docs/s", Value: r[0], Baseline: "plain _bulk", BaseVal: r[1]})
	}
	c.add(Result{Name: "p99", Unit: "s", Value: 1.2, Note: "run 1"})
	c.add(Result{Name: "p99", Unit: "s", Value: 1.0, Note: "run 2"})
	c.add(Result{Name: "p99", Unit: "s", Value: 1.6, Note: "run 3"})
	c.notes["p99"] = "open loop"
	got := c.results()
	if len(got) != 2 || got[0].Name != "index" || got[1].Name != "p99" {
		t.Fatalf("results = %+v, want index then p99", got)
	}
	idx := got[0]
	if idx.Value != 90 || idx.BaseVal != 100 || !near(idx.Ratio, 0.8) {
		t.Errorf("index: value %v baseline %v ratio %v, want 90, 100, 0.8", idx.Value, idx.BaseVal, idx.Ratio)
	}
	if idx.Spread == nil || idx.Repeats != 3 || idx.Spread.Min != 50 || idx.Spread.Max != 100 || idx.Spread.Median != 90 {
		t.Errorf("index value spread = %+v", idx.Spread)
	}
	if s := idx.BaselineSpread; s == nil || s.Min != 100 || s.Max != 125 || s.Median != 100 {
		t.Errorf("index baseline spread = %+v", s)
	}
	if s := idx.RatioSpread; s == nil || !near(s.Min, 0.5) || !near(s.Max, 0.9) || !near(s.Median, 0.8) || len(s.Runs) != 3 {
		t.Errorf("index ratio spread = %+v", s)
	}
	p99 := got[1]
	if p99.Value != 1.2 || p99.BaselineSpread != nil || p99.RatioSpread != nil || p99.Ratio != 0 {
		t.Errorf("p99 = %+v, want median 1.2 and no baseline or ratio", p99)
	}
	if p99.Note != "open loop; run 1; run 2; run 3" {
		t.Errorf("p99 note = %q", p99.Note)
	}
	c.add(Result{Name: "enrich", Unit: "articles/s", Value: 2200, Baseline: "target", BaseVal: 2000})
	c.add(Result{Name: "enrich", Unit: "articles/s", Value: 2400, Baseline: "target", BaseVal: 2000})
	if value, base, ratio := c.results()[2].cells(); value != "2300 (2200–2400)" || base != "2000" || ratio != "1.15 (1.10–1.20)" {
		t.Errorf("enrich cells = %q %q %q, want a fixed baseline shown once", value, base, ratio)
	}
	value, base, ratio := idx.cells()
	if value != "90.0 (50.0–100.0)" || base != "100.0 (100.0–125.0)" || ratio != "0.80 (0.50–0.90)" {
		t.Errorf("index cells = %q %q %q", value, base, ratio)
	}
}

// A figure measured once keeps the JSON shape it always had: no spread fields at all.
func TestResultJSONShape(t *testing.T) {
	one := newCollector()
	one.add(Result{Name: "ingest", Unit: "articles/s", Value: 30, Baseline: "kcat", BaseVal: 60})
	js, _ := json.Marshal(one.results()[0])
	var m map[string]any
	_ = json.Unmarshal(js, &m)
	for _, k := range []string{"name", "value", "baseline_value", "ratio"} {
		if _, ok := m[k]; !ok {
			t.Errorf("single run: %s missing in %s", k, js)
		}
	}
	for _, k := range []string{"median", "min", "max", "repeats", "ratio_median", "baseline_median"} {
		if _, ok := m[k]; ok {
			t.Errorf("single run: %s present in %s", k, js)
		}
	}

	three := newCollector()
	for _, v := range []float64{30, 40, 20} {
		three.add(Result{Name: "ingest", Unit: "articles/s", Value: v, Baseline: "kcat", BaseVal: 60})
	}
	js, _ = json.Marshal(three.results()[0])
	m = nil
	_ = json.Unmarshal(js, &m)
	want := map[string]float64{"value": 30, "median": 30, "min": 20, "max": 40, "repeats": 3,
		"baseline_value": 60, "baseline_median": 60, "baseline_min": 60, "baseline_max": 60,
		"ratio": 0.5, "ratio_median": 0.5, "ratio_min": 1.0 / 3, "ratio_max": 2.0 / 3}
	for k, v := range want {
		got, ok := m[k].(float64)
		if !ok || !near(got, v) {
			t.Errorf("three runs: %s = %v, want %v (in %s)", k, m[k], v, js)
		}
	}
	if runs, _ := m["runs"].([]any); len(runs) != 3 || runs[0] != 30.0 {
		t.Errorf("three runs: runs = %v, want [30 40 20] in run order", m["runs"])
	}
}

func TestUsagesMedianPerProcessAndPhase(t *testing.T) {
	c := newCollector()
	for _, u := range []Usage{
		{Process: "index", Phase: "index", CPUSeconds: 2, PeakRSSMB: 60},
		{Process: "ingest", Phase: "ingest", CPUSeconds: 3, PeakRSSMB: 90},
		{Process: "index", Phase: "index", CPUSeconds: 1, PeakRSSMB: 70},
		{Process: "index", Phase: "index", CPUSeconds: 4, PeakRSSMB: 50},
	} {
		c.addUsage(u)
	}
	got := c.usages()
	if len(got) != 2 || got[0].Process != "index" || got[1].Process != "ingest" {
		t.Fatalf("usages = %+v, want index then ingest", got)
	}
	if u := got[0]; u.CPUSeconds != 2 || u.PeakRSSMB != 60 || u.UsageSpread == nil || u.Runs != 3 || u.CPUMin != 1 || u.CPUMax != 4 || u.RSSMin != 50 || u.RSSMax != 70 {
		t.Errorf("index usage = %+v %+v", u, u.UsageSpread)
	}
	if got[1].UsageSpread != nil {
		t.Errorf("ingest ran once, got a spread %+v", got[1].UsageSpread)
	}
	if cpu, rss := got[0].cells(); cpu != "2.0 (1.0–4.0)" || rss != "60.0 (50.0–70.0)" {
		t.Errorf("index usage cells = %q %q", cpu, rss)
	}
}

func TestWriteDoc(t *testing.T) {
	c := newCollector()
	for _, r := range [][2]float64{{50, 100}, {90, 100}, {100, 125}} {
		c.add(Result{Name: "index: Kafka → search node", Unit: "docs/s", Value: r[0], Baseline: "plain _bulk", BaseVal: r[1], Goal: "ratio >= 0.85"})
	}
	c.addUsage(Usage{Process: "index", Phase: "index", CPUSeconds: 1, PeakRSSMB: 50})
	c.addUsage(Usage{Process: "index", Phase: "index", CPUSeconds: 3, PeakRSSMB: 70})
	rep := &report{Date: "2026-12-01T00:00:00Z", Machine: "test", Sizes: "small", Repeats: 3, Results: c.results(), Usage: c.usages()}
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	if err := writeDoc(path, rep, mainDoc); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, want := range []string{
		"# newsflow benchmarks\n",
		"- runs: every step ran 3 times",
		"| index: Kafka → search node | 90.0 (50.0–100.0) | docs/s | plain _bulk | 100.0 (100.0–125.0) | 0.80 (0.50–0.90) | ratio >= 0.85 |\n",
		"| index | index | 2.0 (1.0–3.0) | 60.0 (50.0–70.0) |\n",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("report lacks %q:\n%s", want, doc)
		}
	}
}

func TestSelectSteps(t *testing.T) {
	all, err := selectSteps("")
	if err != nil || !all["enrich"] || !all["e2e"] || all["scale"] {
		t.Errorf(`selectSteps("") = %v, %v: want every step but scale`, all, err)
	}
	sel, err := selectSteps("index, scale")
	if err != nil || len(sel) != 2 || !sel["index"] || !sel["scale"] {
		t.Errorf(`selectSteps("index, scale") = %v, %v`, sel, err)
	}
	if _, err := selectSteps("indx"); err == nil {
		t.Error(`selectSteps("indx"): no error for an unknown step`)
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }
