// Command bench is `make bench`: newsflow's throughput and latency, each stage measured against
// the best baseline for it, run on the same machine in the same run so that the ratio holds on a
// noisy machine. It needs the local stack (make up) and the built services (make build).
//
//	ingest  HTTP NDJSON → Kafka, articles/s          vs kcat -P producing the same records
//	enrich  enrich extract on one core, articles/s   vs the target of 2,000 articles/s
//	index   Kafka → search node, docs/s              vs a minimal client posting plain _bulk of the same documents
//	e2e     all three stages, articles/s             vs index alone; p50/p99 ingest-ack → searchable at half the max rate
//	tracing all three stages with tracing on, articles/s  vs the same pipeline with tracing off
//	scale   enrich → index, two instances of each    vs one instance of each (only with -only scale: make bench-scale)
//
// Every step runs -repeat times (3 by default), its baseline and measured runs interleaved
// (A B A B A B) so that the machine's drift hits both; each figure is reported as the median
// with its min and max, and each run's ratio is taken against that same run's baseline.
//
// Output: a table, a JSON file (bench/out/results.json) and docs/BENCHMARKS.md; the scale step
// writes bench/out/scale.json and docs/BENCHMARKS-scale.md instead, so that running it alone
// leaves the main report as it was.
//
// One file a stage (enrich.go, ingest.go, index.go, e2e.go, tracing.go, scale.go), each with its baseline;
// proc.go starts and measures the services, stats.go aggregates the runs, report.go writes the
// table and the Markdown reports.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/newsflow/newsflow/pkg/article"
	"github.com/newsflow/newsflow/pkg/config"
	"github.com/newsflow/newsflow/pkg/corpus"
	"github.com/newsflow/newsflow/pkg/kafkax"
	"github.com/newsflow/newsflow/pkg/search"
	"github.com/newsflow/newsflow/pkg/testenv"
)

// opts are the bench's flags.
type opts struct {
	bin, brokers, searchURL, outDir, doc string
	scaleDoc                             string
	articles, enrichArticles             int
	ingestArticles, indexArticles        int
	scaleArticles, scaleGOMAXPROCS       int
	latencySeconds                       int
	latencyFraction                      float64
	runs                                 int    // -repeat: runs of every step
	only                                 string // comma-separated steps; empty: all but scale
	otlpEndpoint                         string // -otlp-endpoint: where the tracing step's spans go
}

// Result is one figure with its baseline.
type Result struct {
	Name     string  `json:"name"`
	Unit     string  `json:"unit"`
	Value    float64 `json:"value"`
	Baseline string  `json:"baseline,omitempty"`
	BaseVal  float64 `json:"baseline_value,omitempty"`
	Ratio    float64 `json:"ratio,omitempty"`
	Goal     string  `json:"goal,omitempty"`
	Note     string  `json:"note,omitempty"`
	// Where the figure was repeated: value, baseline_value and ratio above are medians, and
	// these add median/min/max (and every run's figure) of each. Nil, and absent from the JSON,
	// for a figure measured once.
	*Spread
	*BaselineSpread
	*RatioSpread
}

// Usage is the CPU and peak memory of one process during a phase.
type Usage struct {
	Process      string  `json:"process"`
	Phase        string  `json:"phase"`
	CPUSeconds   float64 `json:"cpu_seconds"`
	PeakRSSMB    float64 `json:"peak_rss_mb"`
	*UsageSpread         // where the phase ran more than once: the two figures above are medians
}

// report is everything one run measured: results.json, the table and docs/BENCHMARKS.md.
type report struct {
	Date    string   `json:"date"`
	Machine string   `json:"machine"`
	Sizes   string   `json:"sizes"`
	Took    string   `json:"took"` // how long each step of this run took, and all of them
	Repeats int      `json:"repeats"`
	Results []Result `json:"results"`
	Usage   []Usage  `json:"usage"`
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// parseFlags reads the options from args, with NEWSFLOW_KAFKA_BROKERS and NEWSFLOW_SEARCH_URL
// as the defaults of the two flags that say where the stack is, the way the services read them
// (pkg/config): the bench passes the same two values to the services it starts.
func parseFlags(args []string) (opts, error) {
	var o opts
	s := config.New("bench")
	fs := s.FS
	fs.StringVar(&o.bin, "bin", "bin", "folder with the built ingest, enrich and index binaries")
	s.String(&o.brokers, "kafka-brokers", "NEWSFLOW_KAFKA_BROKERS", "127.0.0.1:9092", "Kafka brokers")
	s.String(&o.searchURL, "search-url", "NEWSFLOW_SEARCH_URL", "http://127.0.0.1:9200", "search node")
	fs.IntVar(&o.articles, "articles", 10000, "articles for the ingest, index and end-to-end runs")
	fs.IntVar(&o.indexArticles, "index-articles", 40000, "documents for the index run (the corpus repeated with new URLs)")
	fs.IntVar(&o.ingestArticles, "ingest-articles", 100000, "records for the ingest run (the corpus repeated with new URLs)")
	fs.IntVar(&o.enrichArticles, "enrich-articles", 19043, "articles for the enrich run (Reuters-21578 has 19,043 with a body)")
	fs.IntVar(&o.scaleArticles, "scale-articles", 20000, "articles for each run of the scale step (the corpus repeated with new URLs)")
	fs.IntVar(&o.scaleGOMAXPROCS, "scale-gomaxprocs", 1, "GOMAXPROCS of every enrich and index instance in the scale step, like a pod's CPU limit (0: unset, each uses every core)")
	fs.Float64Var(&o.latencyFraction, "latency-fraction", 0.5, "rate of the open-loop latency run, as a fraction of the measured end-to-end maximum")
	fs.IntVar(&o.latencySeconds, "latency-seconds", 30, "length of each open-loop latency run")
	fs.IntVar(&o.runs, "repeat", 3, "runs of every step, baseline and measured interleaved; figures are the medians, with min and max")
	fs.StringVar(&o.outDir, "out", "bench/out", "where results.json (and scale.json) go")
	fs.StringVar(&o.doc, "doc", "docs/BENCHMARKS.md", "the Markdown report to rewrite")
	fs.StringVar(&o.scaleDoc, "scale-doc", "docs/BENCHMARKS-scale.md", "the Markdown report of the scale step to rewrite")
	fs.StringVar(&o.only, "only", "", "run only these steps (comma-separated: enrich,ingest,index,e2e,tracing,scale); e2e's baseline needs index; scale runs only when named")
	fs.StringVar(&o.otlpEndpoint, "otlp-endpoint", "", "OTLP/HTTP receiver of the tracing step's spans, e.g. a Jaeger's http://127.0.0.1:4318 (default: a sink in the bench that drops them)")
	if err := s.Parse(args); err != nil {
		return o, err
	}
	if o.runs < 1 {
		return o, fmt.Errorf("-repeat %d: want at least 1", o.runs)
	}
	if _, err := selectSteps(o.only); err != nil {
		return o, err
	}
	return o, nil
}

// steps are the bench's steps in the order they run; scale is not part of a plain `make bench`
// (it is `make bench-scale`).
var steps = []string{"enrich", "ingest", "index", "e2e", "tracing", "scale"}

// selectSteps returns the steps -only names (all but scale when empty), failing on a name that is
// not a step, so that a typo does not silently measure nothing.
func selectSteps(only string) (map[string]bool, error) {
	sel := map[string]bool{}
	if strings.TrimSpace(only) == "" {
		for _, s := range steps[:len(steps)-1] {
			sel[s] = true
		}
		return sel, nil
	}
	for _, s := range strings.Split(only, ",") {
		s = strings.TrimSpace(s)
		if !slices.Contains(steps, s) {
			return nil, fmt.Errorf("-only: unknown step %q (steps: %s)", s, strings.Join(steps, ", "))
		}
		sel[s] = true
	}
	return sel, nil
}

// run reads the corpus, runs the selected steps in order (enrich, ingest, index, e2e: e2e's
// baseline is index's figure; then scale), each -repeat times, and writes the table,
// results.json and the Markdown report (scale.json and its own report for the scale step).
func run(o opts) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute+time.Duration(o.runs)*5*time.Minute)
	defer cancel()
	sel, err := selectSteps(o.only)
	if err != nil {
		return err
	}
	dataDir, ok := testenv.FindDataDir()
	if !ok {
		return errors.New("../shared/data not found beside the repository")
	}
	var all []article.Article
	if err := corpus.ReadReutersDir(filepath.Join(dataDir, "reuters21578"), max(o.articles, o.enrichArticles), func(a article.Article) error {
		all = append(all, a)
		return nil
	}); err != nil {
		return err
	}
	n := min(o.articles, len(all))
	arts := all[:n]
	date := time.Now().UTC().Format(time.RFC3339)
	kc := kafkax.Config{Brokers: strings.Split(o.brokers, ","), Partitions: 6, ReplicationFactor: 1, WriteTimeout: 10 * time.Second}
	sc, err := search.New(search.Config{URLs: []string{o.searchURL}})
	if err != nil {
		return err
	}
	b := &bench{o: o, kc: kc, sc: sc, main: newCollector(), scaled: newCollector(), tmp: mustTemp()}
	defer os.RemoveAll(b.tmp)
	fns := map[string]func(context.Context, []article.Article) error{
		"enrich": func(ctx context.Context, _ []article.Article) error {
			return b.enrich(ctx, all[:min(o.enrichArticles, len(all))])
		},
		"ingest":  b.ingest,
		"index":   b.index,
		"e2e":     b.e2e,
		"tracing": b.tracing,
		"scale":   b.scale,
	}
	var took []string
	start := time.Now()
	for _, s := range steps {
		if !sel[s] {
			continue
		}
		b.col = b.main
		if s == "scale" {
			b.col = b.scaled
		}
		fmt.Fprintf(os.Stderr, "== %s (%d runs) ==\n", s, o.runs)
		began := time.Now()
		if err := fns[s](ctx, arts); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
		fmt.Fprintf(os.Stderr, "== %s: %v ==\n", s, time.Since(began).Round(time.Second))
		took = append(took, fmt.Sprintf("%s %v", s, time.Since(began).Round(time.Second)))
	}
	tookAll := fmt.Sprintf("%s; %v in all", strings.Join(took, ", "), time.Since(start).Round(time.Second))
	if err := os.MkdirAll(o.outDir, 0o755); err != nil {
		return err
	}
	if len(b.main.order) > 0 {
		rep := &report{Date: date, Machine: machine(), Took: tookAll, Repeats: o.runs, Results: b.main.results(), Usage: b.main.usages(),
			Sizes: fmt.Sprintf("%d articles (e2e), %d (index), %d records (ingest), %d (enrich), %d s latency run; each %d times", n, o.indexArticles, o.ingestArticles, min(o.enrichArticles, len(all)), o.latencySeconds, o.runs)}
		if err := b.write(rep, "results.json", o.doc, mainDoc); err != nil {
			return err
		}
	}
	if len(b.scaled.order) > 0 {
		procs := "unset (every core)"
		if o.scaleGOMAXPROCS > 0 {
			procs = strconv.Itoa(o.scaleGOMAXPROCS)
		}
		rep := &report{Date: date, Machine: machine(), Took: tookAll, Repeats: o.runs, Results: b.scaled.results(), Usage: b.scaled.usages(),
			Sizes: fmt.Sprintf("%d articles a run, topics of %d partitions, GOMAXPROCS %s per instance; each %d times", o.scaleArticles, kc.Partitions, procs, o.runs)}
		if err := b.write(rep, "scale.json", o.scaleDoc, scaleDoc); err != nil {
			return err
		}
	}
	return nil
}

// write prints rep as a table and writes it as JSON to file in -out and as Markdown to doc.
func (b *bench) write(rep *report, file, doc string, d docKind) error {
	printTable(os.Stdout, rep)
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(b.o.outDir, file), append(js, '\n'), 0o644); err != nil {
		return err
	}
	return writeDoc(doc, rep, d)
}

// bench is one invocation: its options, clients of the stack, the collectors of the figures
// (col is the current step's: main, or scaled for the scale step), a temporary folder, and the
// index stage's rate in each run once measured (the end-to-end baseline of the same run).
type bench struct {
	indexRates   []float64
	indexCPU     []float64      // the index step's CPU µs per document, every process measured, per run
	peers        *[]meteredProc // the broker and search node processes (cpu.go), once found
	warmingUp    bool           // in unrecorded: figures are printed as the warm-up's
	o            opts
	kc           kafkax.Config
	sc           *search.Client
	main, scaled *collector
	col          *collector
	tmp          string
	env          []string // added to every service started (the tracing step's OTEL_* settings)
}

func mustTemp() string {
	d, err := os.MkdirTemp("", "newsflow-bench")
	if err != nil {
		panic(err)
	}
	return d
}

// machine describes the CPU, cores, memory and Go version, for the report: ratios travel, figures do not.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				_, model, _ = strings.Cut(l, ": ")
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0])
		if len(f) >= 2 {
			kb, _ := strconv.Atoi(f[1])
			mem = fmt.Sprintf(", %.0f GiB", float64(kb)/(1<<20))
		}
	}
	return fmt.Sprintf("%s, %d cores%s, %s", model, runtime.NumCPU(), mem, runtime.Version())
}

// add records one run's figure r, with its ratio to that run's baseline, and prints it as it comes.
func (b *bench) add(run int, r Result) {
	r = b.col.add(r)
	label := fmt.Sprintf("run %d", run+1)
	if b.warmingUp {
		label = "warm-up"
	}
	fmt.Fprintf(os.Stderr, "  %s: %s: %s %s %s\n", label, r.Name, num(r.Value), r.Unit, ratioText(r))
}

// unrecorded runs f (a warm-up) with its figures dropped: results, usage and the index step's
// rates it leaves for the end-to-end step.
func (b *bench) unrecorded(f func() error) error {
	col, rates, cpu := b.col, len(b.indexRates), len(b.indexCPU)
	b.col, b.warmingUp = newCollector(), true
	defer func() {
		b.col, b.indexRates, b.indexCPU, b.warmingUp = col, b.indexRates[:rates], b.indexCPU[:cpu], false
	}()
	return f()
}

// usage records one run's usage of a process.
func (b *bench) usage(u Usage) { b.col.addUsage(u) }

func ratioText(r Result) string {
	if r.Baseline == "" {
		return ""
	}
	if r.Ratio == 0 {
		return fmt.Sprintf("(baseline %s: %s)", r.Baseline, num(r.BaseVal))
	}
	return fmt.Sprintf("(baseline %s: %s, ratio %.2f)", r.Baseline, num(r.BaseVal), r.Ratio)
}

// name returns a topic/group/index name unique to this run.
func name(stage string) string { return fmt.Sprintf("bench-%s-%d", stage, time.Now().UnixNano()) }
