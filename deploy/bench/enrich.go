package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/newsflow/newsflow/deploy/internal/pipeline"
	"github.com/newsflow/newsflow/pkg/article"
)

// enrich measures `enrich extract` on one core (GOMAXPROCS=1) over arts, -repeat times: articles
// and words a second against the 2,000 articles/s target, and its peak memory.
func (b *bench) enrich(ctx context.Context, arts []article.Article) error {
	in := filepath.Join(b.tmp, "enrich-in.jsonl")
	if err := os.WriteFile(in, pipeline.NDJSON(arts), 0o644); err != nil {
		return err
	}
	words := 0
	for _, a := range arts {
		words += len(strings.Fields(a.Title)) + len(strings.Fields(a.Body))
	}
	for run := range b.o.runs {
		if err := b.enrichOnce(ctx, run, in, len(arts), words); err != nil {
			return err
		}
	}
	return nil
}

// enrichOnce is one run of the enrich step over the n articles (words words) of the file in.
func (b *bench) enrichOnce(ctx context.Context, run int, in string, n, words int) error {
	cmd := exec.CommandContext(ctx, filepath.Join(b.o.bin, "enrich"), "extract", in)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	cmd.Stdout = io.Discard
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("enrich extract: %w", err)
	}
	// Peak memory from /proc while it runs: the rusage of a child started by Go's fork+exec
	// counts the parent's resident set from before the exec (this process holds the corpus).
	peak := watchPeakRSS(cmd.Process.Pid)
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("enrich extract: %v: %s", err, stderr.String())
	}
	secs := time.Since(start).Seconds()
	peakMB := <-peak
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	b.add(run, Result{Name: "enrich extract, one core (GOMAXPROCS=1)", Unit: "articles/s", Value: float64(n) / secs,
		Baseline: "target", BaseVal: 2000, Goal: ">= 500 articles/s (goal 2,000)"})
	b.add(run, Result{Name: "enrich extract, one core: words", Unit: "words/s", Value: float64(words) / secs})
	b.add(run, Result{Name: "enrich extract, one core: peak memory", Unit: "MB", Value: peakMB, Goal: "<= 150 MB"})
	b.usage(Usage{Process: "enrich extract", Phase: "enrich", CPUSeconds: cpu, PeakRSSMB: peakMB})
	return nil
}

// watchPeakRSS polls /proc/<pid>/status every 20 ms and sends the last VmHWM (the kernel's
// high-water mark of the resident set) seen before the process ended, in MB.
func watchPeakRSS(pid int) <-chan float64 {
	out := make(chan float64, 1)
	go func() {
		peak := 0.0
		for {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
			if err != nil {
				break
			}
			zombie := false
			for _, l := range strings.Split(string(b), "\n") {
				if strings.HasPrefix(l, "VmHWM:") {
					if f := strings.Fields(l); len(f) >= 2 {
						kb, _ := strconv.ParseFloat(f[1], 64)
						peak = max(peak, kb/1024)
					}
				}
				if strings.HasPrefix(l, "State:") && strings.Contains(l, "zombie") {
					zombie = true
				}
			}
			if zombie {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		out <- peak
	}()
	return out
}
