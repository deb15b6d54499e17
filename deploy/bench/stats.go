package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Spread is how a repeated figure varied over its runs: this machine is shared and noisy (kcat's
// own rate swings 2× between runs), so one run proves little. The headline value is the median.
type Spread struct {
	Repeats int       `json:"repeats"`
	Median  float64   `json:"median"`
	Min     float64   `json:"min"`
	Max     float64   `json:"max"`
	Runs    []float64 `json:"runs"` // every run's value, in run order
}

// BaselineSpread is Spread for the baseline value of a repeated figure.
type BaselineSpread struct {
	Median float64   `json:"baseline_median"`
	Min    float64   `json:"baseline_min"`
	Max    float64   `json:"baseline_max"`
	Runs   []float64 `json:"baseline_runs"`
}

// RatioSpread is Spread for the ratio of a repeated figure: each run's own value over that same
// run's baseline, so that drift of the machine between runs cancels out of each ratio.
type RatioSpread struct {
	Median float64   `json:"ratio_median"`
	Min    float64   `json:"ratio_min"`
	Max    float64   `json:"ratio_max"`
	Runs   []float64 `json:"ratio_runs"`
}

// UsageSpread is how a process's CPU and memory in a repeated phase varied over the runs; the
// Usage's own cpu_seconds and peak_rss_mb are the medians.
type UsageSpread struct {
	Runs   int     `json:"runs"`
	CPUMin float64 `json:"cpu_seconds_min"`
	CPUMax float64 `json:"cpu_seconds_max"`
	RSSMin float64 `json:"peak_rss_mb_min"`
	RSSMax float64 `json:"peak_rss_mb_max"`
}

// summary is the median, minimum and maximum of xs (which must not be empty); the median of an
// even count is the mean of the middle two.
type summary struct{ median, min, max float64 }

func summarize(xs []float64) summary {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return summary{median: med, min: s[0], max: s[n-1]}
}

// collector gathers every run's figures and process usage, in the order they first appear, and
// turns them into one aggregated Result per figure and one Usage per process and phase.
type collector struct {
	order      []string
	runs       map[string][]Result
	notes      map[string]string // a note on a figure as a whole, before its runs' own notes
	usageOrder []string
	usage      map[string][]Usage
}

func newCollector() *collector {
	return &collector{runs: map[string][]Result{}, notes: map[string]string{}, usage: map[string][]Usage{}}
}

// add records one run's figure r, its ratio computed against that run's own baseline value.
func (c *collector) add(r Result) Result {
	if r.BaseVal > 0 {
		r.Ratio = r.Value / r.BaseVal
	}
	if _, ok := c.runs[r.Name]; !ok {
		c.order = append(c.order, r.Name)
	}
	c.runs[r.Name] = append(c.runs[r.Name], r)
	return r
}

// addUsage records one run's usage of a process in a phase.
func (c *collector) addUsage(u Usage) {
	k := u.Process + "\x00" + u.Phase
	if _, ok := c.usage[k]; !ok {
		c.usageOrder = append(c.usageOrder, k)
	}
	c.usage[k] = append(c.usage[k], u)
}

// results returns one Result per figure: value, baseline value and ratio are the medians over
// its runs (the ratio is the median of the per-run ratios, not the ratio of the medians), with
// their spreads when the figure ran more than once.
func (c *collector) results() []Result {
	out := make([]Result, 0, len(c.order))
	for _, name := range c.order {
		out = append(out, aggregate(c.runs[name], c.notes[name]))
	}
	return out
}

// aggregate folds the runs of one figure into one Result (see results); note, if not empty, comes
// before the runs' own notes.
func aggregate(runs []Result, note string) Result {
	out := runs[0]
	var vals, bases, ratios []float64
	var notes []string
	if note != "" {
		notes = append(notes, note)
	}
	for _, r := range runs {
		vals = append(vals, r.Value)
		if r.BaseVal > 0 {
			bases = append(bases, r.BaseVal)
		}
		if r.Ratio > 0 {
			ratios = append(ratios, r.Ratio)
		}
		if r.Note != "" && !slices.Contains(notes, r.Note) {
			notes = append(notes, r.Note)
		}
	}
	out.Note = strings.Join(notes, "; ")
	v := summarize(vals)
	out.Value = v.median
	out.BaseVal, out.Ratio = 0, 0
	if len(bases) > 0 {
		out.BaseVal = summarize(bases).median
	}
	if len(ratios) > 0 {
		out.Ratio = summarize(ratios).median
	}
	if len(runs) < 2 {
		return out
	}
	out.Spread = &Spread{Repeats: len(runs), Median: v.median, Min: v.min, Max: v.max, Runs: vals}
	if len(bases) > 0 {
		s := summarize(bases)
		out.BaselineSpread = &BaselineSpread{Median: s.median, Min: s.min, Max: s.max, Runs: bases}
	}
	if len(ratios) > 0 {
		s := summarize(ratios)
		out.RatioSpread = &RatioSpread{Median: s.median, Min: s.min, Max: s.max, Runs: ratios}
	}
	return out
}

// usages returns one Usage per process and phase: the median CPU seconds and median peak RSS
// over the runs of that phase, with their ranges when it ran more than once.
func (c *collector) usages() []Usage {
	out := make([]Usage, 0, len(c.usageOrder))
	for _, k := range c.usageOrder {
		runs := c.usage[k]
		var cpu, rss []float64
		for _, u := range runs {
			cpu = append(cpu, u.CPUSeconds)
			rss = append(rss, u.PeakRSSMB)
		}
		sc, sr := summarize(cpu), summarize(rss)
		u := Usage{Process: runs[0].Process, Phase: runs[0].Phase, CPUSeconds: sc.median, PeakRSSMB: sr.median}
		if len(runs) > 1 {
			u.UsageSpread = &UsageSpread{Runs: len(runs), CPUMin: sc.min, CPUMax: sc.max, RSSMin: sr.min, RSSMax: sr.max}
		}
		out = append(out, u)
	}
	return out
}

// num formats a figure with the precision its size deserves: 47282, 853.4, 1.11.
func num(x float64) string {
	switch a := math.Abs(x); {
	case a >= 1000:
		return fmt.Sprintf("%.0f", x)
	case a >= 10:
		return fmt.Sprintf("%.1f", x)
	default:
		return fmt.Sprintf("%.2f", x)
	}
}

// span formats a median with its range, "median (min–max)", or the value alone when it was not
// repeated (repeated false) or did not vary (a fixed target, a deterministic split).
func span(median, lo, hi float64, repeated bool, f func(float64) string) string {
	if !repeated || lo == hi {
		return f(median)
	}
	return fmt.Sprintf("%s (%s–%s)", f(median), f(lo), f(hi))
}

func ratioFmt(x float64) string { return fmt.Sprintf("%.2f", x) }
