package main

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// cells formats a result's baseline value and ratio for the table and the Markdown report: empty
// where the result has none, so that a figure without a baseline shows blanks, not zeros.
func (r Result) cells() (base, ratio string) {
	if r.BaseVal > 0 {
		base = fmt.Sprintf("%.1f", r.BaseVal)
	}
	if r.Ratio > 0 {
		ratio = fmt.Sprintf("%.2f", r.Ratio)
	}
	return base, ratio
}

// printTable writes the results and the processes' usage as a plain-text table (make bench's
// terminal output).
func printTable(w io.Writer, r *report) {
	fmt.Fprintf(w, "\nnewsflow benchmarks — %s — %s\n%s\n\n", r.Date, r.Machine, r.Sizes)
	fmt.Fprintf(w, "%-58s %12s %-12s %12s %7s\n", "measure", "value", "unit", "baseline", "ratio")
	for _, x := range r.Results {
		base, ratio := x.cells()
		fmt.Fprintf(w, "%-58s %12.2f %-12s %12s %7s\n", x.Name, x.Value, x.Unit, base, ratio)
	}
	fmt.Fprintf(w, "\n%-16s %-16s %10s %10s\n", "process", "phase", "cpu s", "peak MB")
	for _, u := range r.Usage {
		fmt.Fprintf(w, "%-16s %-16s %10.1f %10.1f\n", u.Process, u.Phase, u.CPUSeconds, u.PeakRSSMB)
	}
}

// writeDoc rewrites the Markdown report (docs/BENCHMARKS.md): the same figures as printTable with
// their baselines and goals, the first note a result carries, and what the figures include.
func writeDoc(path string, r *report) error {
	var b strings.Builder
	b.WriteString("# newsflow benchmarks\n\n")
	b.WriteString("Written by `make bench` (deploy/bench); every figure is measured against a baseline run on the same machine in the same run, so ratios are what to compare across machines. Nothing here is a pass/fail test.\n\n")
	fmt.Fprintf(&b, "- date: %s\n- machine: %s\n- sizes: %s\n\n", r.Date, r.Machine, r.Sizes)
	b.WriteString("| measure | value | unit | baseline | baseline value | ratio | goal |\n| --- | ---: | --- | --- | ---: | ---: | --- |\n")
	for _, x := range r.Results {
		base, ratio := x.cells()
		fmt.Fprintf(&b, "| %s | %.2f | %s | %s | %s | %s | %s |\n", x.Name, x.Value, x.Unit, x.Baseline, base, ratio, x.Goal)
	}
	b.WriteString("\n| process | phase | CPU seconds | peak RSS MB |\n| --- | --- | ---: | ---: |\n")
	for _, u := range r.Usage {
		fmt.Fprintf(&b, "| %s | %s | %.1f | %.1f |\n", u.Process, u.Phase, u.CPUSeconds, u.PeakRSSMB)
	}
	for _, x := range r.Results {
		if x.Note != "" {
			fmt.Fprintf(&b, "\nNote on %s: %s\n", x.Name, x.Note)
			break
		}
	}
	b.WriteString("\nThe Kafka broker (512 MB heap) and the OpenSearch node (1 GB heap) run on the same machine as the services and the load generator, so every figure includes their cost.\n")
	return os.WriteFile(path, []byte(b.String()), 0o644)
}
