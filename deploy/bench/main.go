// Command bench is `make bench`: newsflow's throughput and latency, each stage measured against
// the best baseline for it, run on the same machine in the same run so that the ratio holds on a
// noisy machine. It needs the local stack (make up) and the built services (make build).
//
//	ingest  HTTP NDJSON → Kafka, articles/s          vs kcat -P producing the same records
//	enrich  enrich extract on one core, articles/s   vs the target of 2,000 articles/s
//	index   Kafka → search node, docs/s              vs a minimal client posting plain _bulk of the same documents
//	e2e     all three stages, articles/s             vs index alone; p50/p99 ingest-ack → searchable at half the max rate
//
// Output: a table, a JSON file (bench/out/results.json) and docs/BENCHMARKS.md.
//
// One file a stage (enrich.go, ingest.go, index.go, e2e.go), each with its baseline; proc.go starts
// and measures the services, report.go writes the table and the Markdown report.
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
	articles, enrichArticles             int
	ingestArticles, indexArticles        int
	latencySeconds                       int
	latencyFraction                      float64
	only                                 string // comma-separated steps; empty: all
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
}

// Usage is the CPU and peak memory of one process during a phase.
type Usage struct {
	Process    string  `json:"process"`
	Phase      string  `json:"phase"`
	CPUSeconds float64 `json:"cpu_seconds"`
	PeakRSSMB  float64 `json:"peak_rss_mb"`
}

// report is everything one run measured: results.json, the table and docs/BENCHMARKS.md.
type report struct {
	Date    string   `json:"date"`
	Machine string   `json:"machine"`
	Sizes   string   `json:"sizes"`
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
	fs.Float64Var(&o.latencyFraction, "latency-fraction", 0.5, "rate of the open-loop latency run, as a fraction of the measured end-to-end maximum")
	fs.IntVar(&o.latencySeconds, "latency-seconds", 30, "length of the open-loop latency run")
	fs.StringVar(&o.outDir, "out", "bench/out", "where results.json goes")
	fs.StringVar(&o.doc, "doc", "docs/BENCHMARKS.md", "the Markdown report to rewrite")
	fs.StringVar(&o.only, "only", "", "run only these steps (comma-separated: enrich,ingest,index,e2e); e2e needs index")
	return o, s.Parse(args)
}

// run reads the corpus, runs the selected steps in order (enrich, ingest, index, e2e: e2e's
// baseline is index's figure) and writes the table, results.json and the Markdown report.
func run(o opts) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
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
	rep := &report{Date: time.Now().UTC().Format(time.RFC3339), Machine: machine(),
		Sizes: fmt.Sprintf("%d articles (e2e), %d (index), %d records (ingest), %d (enrich), %d s latency run", n, o.indexArticles, o.ingestArticles, min(o.enrichArticles, len(all)), o.latencySeconds)}
	kc := kafkax.Config{Brokers: strings.Split(o.brokers, ","), Partitions: 6, ReplicationFactor: 1, WriteTimeout: 10 * time.Second}
	sc, err := search.New(search.Config{URLs: []string{o.searchURL}})
	if err != nil {
		return err
	}
	b := &bench{o: o, kc: kc, sc: sc, rep: rep, tmp: mustTemp()}
	defer os.RemoveAll(b.tmp)
	steps := []struct {
		name string
		fn   func(context.Context, []article.Article) error
	}{
		{"enrich", func(ctx context.Context, _ []article.Article) error {
			return b.enrich(ctx, all[:min(o.enrichArticles, len(all))])
		}},
		{"ingest", b.ingest},
		{"index", b.index},
		{"e2e", b.e2e},
	}
	for _, s := range steps {
		if o.only != "" && !strings.Contains(","+o.only+",", ","+s.name+",") {
			continue
		}
		fmt.Fprintf(os.Stderr, "== %s ==\n", s.name)
		if err := s.fn(ctx, arts); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	printTable(os.Stdout, rep)
	if err := os.MkdirAll(o.outDir, 0o755); err != nil {
		return err
	}
	js, _ := json.MarshalIndent(rep, "", "  ")
	if err := os.WriteFile(filepath.Join(o.outDir, "results.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	return writeDoc(o.doc, rep)
}

// bench is one run: its options, clients of the stack, the report it fills, a temporary folder,
// and the index stage's rate once measured (the end-to-end baseline).
type bench struct {
	indexRate float64
	o         opts
	kc        kafkax.Config
	sc        *search.Client
	rep       *report
	tmp       string
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

// add records r, with its ratio to the baseline, and prints it as it comes.
func (b *bench) add(r Result) {
	if r.BaseVal > 0 {
		r.Ratio = r.Value / r.BaseVal
	}
	b.rep.Results = append(b.rep.Results, r)
	fmt.Fprintf(os.Stderr, "  %s: %.1f %s %s\n", r.Name, r.Value, r.Unit, ratioText(r))
}

func ratioText(r Result) string {
	if r.Baseline == "" {
		return ""
	}
	if r.Ratio == 0 {
		return fmt.Sprintf("(baseline %s: %.1f)", r.Baseline, r.BaseVal)
	}
	return fmt.Sprintf("(baseline %s: %.1f, ratio %.2f)", r.Baseline, r.BaseVal, r.Ratio)
}

// name returns a topic/group/index name unique to this run.
func name(stage string) string { return fmt.Sprintf("bench-%s-%d", stage, time.Now().UnixNano()) }
