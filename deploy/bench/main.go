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
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/newsflow/newsflow/deploy/internal/pipeline"
	"github.com/newsflow/newsflow/pkg/article"
	"github.com/newsflow/newsflow/pkg/corpus"
	"github.com/newsflow/newsflow/pkg/kafkax"
	"github.com/newsflow/newsflow/pkg/search"
	"github.com/newsflow/newsflow/pkg/testenv"
)

type opts struct {
	bin, brokers, searchURL, outDir, doc string
	articles, enrichArticles             int
	ingestArticles, indexArticles        int
	latencySeconds                       int
	latencyFraction                      float64
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

type report struct {
	Date    string   `json:"date"`
	Machine string   `json:"machine"`
	Sizes   string   `json:"sizes"`
	Results []Result `json:"results"`
	Usage   []Usage  `json:"usage"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run() error {
	var o opts
	flag.StringVar(&o.bin, "bin", "bin", "folder with the built ingest, enrich and index binaries")
	flag.StringVar(&o.brokers, "kafka-brokers", envOr("NEWSFLOW_KAFKA_BROKERS", "127.0.0.1:9092"), "Kafka brokers")
	flag.StringVar(&o.searchURL, "search-url", envOr("NEWSFLOW_SEARCH_URL", "http://127.0.0.1:9200"), "search node")
	flag.IntVar(&o.articles, "articles", 10000, "articles for the ingest, index and end-to-end runs")
	flag.IntVar(&o.indexArticles, "index-articles", 40000, "documents for the index run (the corpus repeated with new URLs)")
	flag.IntVar(&o.ingestArticles, "ingest-articles", 100000, "records for the ingest run (the corpus repeated with new URLs)")
	flag.IntVar(&o.enrichArticles, "enrich-articles", 19043, "articles for the enrich run (Reuters-21578 has 19,043 with a body)")
	flag.Float64Var(&o.latencyFraction, "latency-fraction", 0.5, "rate of the open-loop latency run, as a fraction of the measured end-to-end maximum")
	flag.IntVar(&o.latencySeconds, "latency-seconds", 30, "length of the open-loop latency run")
	flag.StringVar(&o.outDir, "out", "bench/out", "where results.json goes")
	flag.StringVar(&o.doc, "doc", "docs/BENCHMARKS.md", "the Markdown report to rewrite")
	only := flag.String("only", "", "run only these steps (comma-separated: enrich,ingest,index,e2e); e2e needs index")
	flag.Parse()

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
		if *only != "" && !strings.Contains(","+*only+",", ","+s.name+",") {
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

type bench struct {
	indexRate float64
	o         opts
	kc        kafkax.Config
	sc        *search.Client
	rep       *report
	tmp       string
}

func envOr(k, d string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return d
}

func mustTemp() string {
	d, err := os.MkdirTemp("", "newsflow-bench")
	if err != nil {
		panic(err)
	}
	return d
}

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

// --- processes --------------------------------------------------------------------------------

// svc is a service under measurement.
type svc struct{ *pipeline.Proc }

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// start runs `NAME serve ARGS…` against the stack and waits until it is ready.
func (b *bench) start(_ context.Context, name string, args ...string) (*svc, error) {
	admin := freeAddr()
	p := &pipeline.Proc{Name: name, Bin: filepath.Join(b.o.bin, name), Admin: admin, Log: filepath.Join(b.tmp, name+".log"),
		Args: append(append([]string{"serve"}, args...), "--admin-addr", admin),
		Env:  []string{"NEWSFLOW_KAFKA_BROKERS=" + b.o.brokers, "NEWSFLOW_SEARCH_URL=" + b.o.searchURL, "NEWSFLOW_LOG_FORMAT=json"}}
	if err := p.Start(); err != nil {
		return nil, err
	}
	if err := p.WaitReady(90 * time.Second); err != nil {
		_ = p.Stop(syscall.SIGTERM, 40*time.Second)
		return nil, err
	}
	return &svc{p}, nil
}

// startIngest starts ingest writing to topic and returns it with its API's base URL.
func (b *bench) startIngest(ctx context.Context, topic string) (*svc, string, error) {
	addr := freeAddr()
	s, err := b.start(ctx, "ingest", "--topic", topic, "--addr", addr, "--data-dir", filepath.Join(b.tmp, topic+"-state"))
	return s, "http://" + addr, err
}

// usage reads CPU seconds and peak RSS of the running process from /proc.
func (s *svc) usage(phase string) Usage {
	u := Usage{Process: s.Name, Phase: phase}
	pid := s.Pid()
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
		if len(f) > 12 {
			ut, _ := strconv.ParseFloat(f[11], 64)
			st, _ := strconv.ParseFloat(f[12], 64)
			u.CPUSeconds = (ut + st) / 100 // USER_HZ
		}
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "VmHWM:") {
				kb, _ := strconv.ParseFloat(strings.Fields(l)[1], 64)
				u.PeakRSSMB = kb / 1024
			}
		}
	}
	return u
}

func (s *svc) stop() { _ = s.Stop(syscall.SIGTERM, 40*time.Second) }

// name returns a topic/group/index name unique to this run.
func name(stage string) string { return fmt.Sprintf("bench-%s-%d", stage, time.Now().UnixNano()) }

// --- enrich -----------------------------------------------------------------------------------

func (b *bench) enrich(ctx context.Context, arts []article.Article) error {
	in := filepath.Join(b.tmp, "enrich-in.jsonl")
	if err := os.WriteFile(in, pipeline.NDJSON(arts), 0o644); err != nil {
		return err
	}
	words := 0
	for _, a := range arts {
		words += len(strings.Fields(a.Title)) + len(strings.Fields(a.Body))
	}
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
	b.add(Result{Name: "enrich extract, one core (GOMAXPROCS=1)", Unit: "articles/s", Value: float64(len(arts)) / secs,
		Baseline: "target", BaseVal: 2000, Goal: ">= 500 articles/s (goal 2,000)"})
	b.add(Result{Name: "enrich extract, one core: words", Unit: "words/s", Value: float64(words) / secs})
	b.add(Result{Name: "enrich extract, one core: peak memory", Unit: "MB", Value: peakMB, Goal: "<= 150 MB"})
	b.rep.Usage = append(b.rep.Usage, Usage{Process: "enrich extract", Phase: "enrich", CPUSeconds: cpu, PeakRSSMB: peakMB})
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

// withQuery appends a query parameter to u.
func withQuery(u, kv string) string {
	if strings.Contains(u, "?") {
		return u + "&" + kv
	}
	return u + "?" + kv
}

// repeat returns n articles: the corpus, then copies of it with new URLs (so new ids).
func repeat(corpusArts []article.Article, n int) []article.Article {
	var arts []article.Article
	for copyN := 0; len(arts) < n; copyN++ {
		for _, a := range corpusArts {
			if len(arts) == n {
				break
			}
			if copyN > 0 {
				a.URL = withQuery(a.URL, fmt.Sprintf("copy=%d", copyN))
				a.ID = article.ID(&a)
			}
			arts = append(arts, a)
		}
	}
	return arts
}

// --- ingest -----------------------------------------------------------------------------------

func (b *bench) ingest(ctx context.Context, corpusArts []article.Article) error {
	// A run of a few thousand articles takes well under a second on either side, where start-up
	// costs dominate; the corpus is repeated (each copy a new URL, so a new id) up to
	// -ingest-articles records.
	arts := repeat(corpusArts, b.o.ingestArticles)
	// Baseline: kcat producing the same records (key = id, value = the article JSON), acks=all.
	topicK := name("ingest-kcat")
	if err := b.kc.EnsureTopics(ctx, topicK); err != nil {
		return err
	}
	var lines bytes.Buffer
	for i := range arts {
		v, _ := json.Marshal(&arts[i])
		lines.WriteString(arts[i].ID)
		lines.WriteByte('\t')
		lines.Write(v)
		lines.WriteByte('\n')
	}
	cmd := exec.CommandContext(ctx, "kcat", "-P", "-b", b.o.brokers, "-t", topicK, "-K", "\t", "-X", "acks=all", "-z", "snappy", "-X", "linger.ms=5")
	cmd.Stdin = bytes.NewReader(lines.Bytes())
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("kcat -P: %v: %s", err, out)
	}
	kcatRate := float64(len(arts)) / time.Since(start).Seconds()

	s, url, err := b.startIngest(ctx, name("ingest"))
	if err != nil {
		return err
	}
	defer s.stop()
	reqs := bodies(arts, ingestBatch)
	start = time.Now()
	if err := postAll(ctx, url, reqs, ingestClients); err != nil {
		return err
	}
	rate := float64(len(arts)) / time.Since(start).Seconds()
	b.rep.Usage = append(b.rep.Usage, s.usage("ingest"))
	b.add(Result{Name: "ingest: HTTP NDJSON → Kafka (acks=all)", Unit: "articles/s", Value: rate, Baseline: "kcat -P, same records, acks=all", BaseVal: kcatRate, Goal: "ratio >= 0.8"})
	return nil
}

// The load generator for ingest: requests of ingestBatch articles, ingestClients at a time.
var ingestBatch, ingestClients = 1000, 8

// bodies encodes arts as NDJSON request bodies of `batch` articles each, before any clock
// starts: kcat gets its input ready-made too.
func bodies(arts []article.Article, batch int) [][]byte {
	var out [][]byte
	for i := 0; i < len(arts); i += batch {
		out = append(out, pipeline.NDJSON(arts[i:min(i+batch, len(arts))]))
	}
	return out
}

// postAll posts the bodies with `workers` concurrent requests; every one must be accepted (202).
func postAll(ctx context.Context, url string, bodies [][]byte, workers int) error {
	return each(ctx, bodies, workers, func(ctx context.Context, body []byte) error {
		res, err := pipeline.Post(ctx, url, "", "application/x-ndjson", body, nil)
		if err != nil || res.Status != 202 {
			return fmt.Errorf("POST: status %d %s %v", res.Status, res.Error, err)
		}
		return nil
	})
}

// each sends every body with at most workers requests in flight and returns the first error
// (which stops the rest): the load generator of postAll and of the _bulk baseline.
func each(ctx context.Context, bodies [][]byte, workers int, send func(context.Context, []byte) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for _, body := range bodies {
		g.Go(func() error { return send(gctx, body) })
	}
	return g.Wait()
}

// --- index ------------------------------------------------------------------------------------

// enriched returns the articles enriched by `enrich extract` (all cores), as JSON lines.
func (b *bench) enriched(ctx context.Context, arts []article.Article) ([][]byte, error) {
	in := filepath.Join(b.tmp, "index-in.jsonl")
	if err := os.WriteFile(in, pipeline.NDJSON(arts), 0o644); err != nil {
		return nil, err
	}
	out, err := exec.CommandContext(ctx, filepath.Join(b.o.bin, "enrich"), "extract", in).Output()
	if err != nil {
		return nil, fmt.Errorf("enrich extract: %w", err)
	}
	var lines [][]byte
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		lines = append(lines, append([]byte(nil), sc.Bytes()...))
	}
	return lines, sc.Err()
}

func (b *bench) produce(ctx context.Context, topic string, lines [][]byte) error {
	if err := b.kc.EnsureTopics(ctx, topic); err != nil {
		return err
	}
	w := b.kc.NewWriter(topic)
	defer w.Close()
	msgs := make([]kafka.Message, 0, len(lines))
	for _, l := range lines {
		var a struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(l, &a)
		msgs = append(msgs, kafka.Message{Key: []byte(a.ID), Value: l})
	}
	for i := 0; i < len(msgs); i += 1000 {
		if err := w.WriteMessages(ctx, msgs[i:min(i+1000, len(msgs))]...); err != nil {
			return err
		}
	}
	return nil
}

func (b *bench) waitCount(ctx context.Context, index string, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		c, err := pipeline.Count(ctx, b.sc, index)
		if err == nil && c >= n {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	c, _ := pipeline.Count(ctx, b.sc, index)
	return fmt.Errorf("%s holds %d of %d documents after %v", index, c, n, timeout)
}

func (b *bench) index(ctx context.Context, corpusArts []article.Article) error {
	// Joining a new consumer group takes a second or two; enough documents that it does not
	// dominate the figure.
	arts := repeat(corpusArts, b.o.indexArticles)
	lines, err := b.enriched(ctx, arts)
	if err != nil {
		return err
	}
	topic := name("index")
	prefix := topic
	if err := b.produce(ctx, topic, lines); err != nil {
		return err
	}
	s, err := b.start(ctx, "index", "--topic", topic, "--group", prefix, "--index-prefix", prefix, "--dlq-topic", topic+".dlq")
	if err != nil {
		return err
	}
	start := time.Now()
	err = b.waitCount(ctx, prefix, len(lines), 5*time.Minute)
	secs := time.Since(start).Seconds()
	b.rep.Usage = append(b.rep.Usage, s.usage("index"))
	s.stop()
	if err != nil {
		return err
	}
	rate := float64(len(lines)) / secs
	b.indexRate = rate

	// Baseline: the same documents (as stored), in the same order as on the topic, into the same
	// layout (one index per publication month, the same mapping) on the same node, bulk-posted by
	// a minimal client in requests of ~5 MB, two at a time. The layout matters: a request that
	// touches nine monthly indices costs the node nine translog syncs where one index costs one.
	docs, mapping, err := b.dump(ctx, prefix)
	if err != nil {
		return err
	}
	order := make(map[string]int, len(lines))
	for i, l := range lines {
		var a struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(l, &a)
		order[a.ID] = i
	}
	sort.SliceStable(docs, func(i, j int) bool { return order[docs[i].id] < order[docs[j].id] })
	base := prefix + "-baseline"
	created := map[string]bool{}
	for i := range docs {
		docs[i].index = base + strings.TrimPrefix(docs[i].index, prefix) // e.g. …-baseline-1987.03
		if !created[docs[i].index] {
			if err := b.sc.Do(ctx, http.MethodPut, "/"+docs[i].index, mapping, nil); err != nil {
				return fmt.Errorf("creating baseline index: %w", err)
			}
			created[docs[i].index] = true
		}
	}
	defer func() {
		_ = b.sc.Do(context.Background(), http.MethodDelete, "/"+base+"-*", nil, nil)
		_ = b.sc.Do(context.Background(), http.MethodDelete, "/"+prefix+"-*", nil, nil)
		_ = b.sc.Do(context.Background(), http.MethodDelete, "/_index_template/"+prefix, nil, nil)
	}()
	start = time.Now()
	if err := bulkPlain(ctx, b.o.searchURL, docs, 5<<20, 2); err != nil {
		return err
	}
	if err := b.waitCount(ctx, base+"-*", len(docs), 5*time.Minute); err != nil {
		return err
	}
	baseRate := float64(len(docs)) / time.Since(start).Seconds()
	b.add(Result{Name: "index: Kafka → search node", Unit: "docs/s", Value: rate, Baseline: "plain _bulk, same documents, order and monthly indices (minimal client)", BaseVal: baseRate, Goal: "ratio >= 0.85"})
	return nil
}

// storedDoc is one document as the index stage stored it.
type storedDoc struct {
	index, id string
	source    []byte
}

// dump returns every document of index (an alias) with its id and concrete index, and a
// create-index body with its mapping.
func (b *bench) dump(ctx context.Context, index string) ([]storedDoc, map[string]any, error) {
	var mres map[string]struct {
		Mappings map[string]any `json:"mappings"`
	}
	if err := b.sc.Do(ctx, http.MethodGet, "/"+index+"/_mapping", nil, &mres); err != nil {
		return nil, nil, err
	}
	var mapping map[string]any
	for _, m := range mres {
		mapping = map[string]any{"settings": map[string]any{"number_of_shards": 1, "number_of_replicas": 0, "refresh_interval": "1s"}, "mappings": m.Mappings}
		break
	}
	var docs []storedDoc
	var res struct {
		ScrollID string `json:"_scroll_id"`
		Hits     struct {
			Hits []struct {
				Index  string          `json:"_index"`
				ID     string          `json:"_id"`
				Source json.RawMessage `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := b.sc.Do(ctx, http.MethodPost, "/"+index+"/_search?scroll=1m", map[string]any{"size": 2000, "sort": []string{"_doc"}}, &res); err != nil {
		return nil, nil, err
	}
	for len(res.Hits.Hits) > 0 {
		for _, h := range res.Hits.Hits {
			docs = append(docs, storedDoc{index: h.Index, id: h.ID, source: h.Source})
		}
		id := res.ScrollID
		res.Hits.Hits = nil
		if err := b.sc.Do(ctx, http.MethodPost, "/_search/scroll", map[string]any{"scroll": "1m", "scroll_id": id}, &res); err != nil {
			return nil, nil, err
		}
	}
	return docs, mapping, nil
}

// bulkPlain is the baseline: net/http posting _bulk bodies, checking only the errors flag.
func bulkPlain(ctx context.Context, url string, docs []storedDoc, maxBytes, workers int) error {
	var bodies [][]byte
	var cur bytes.Buffer
	for _, d := range docs {
		fmt.Fprintf(&cur, `{"index":{"_index":%q,"_id":%q}}`+"\n", d.index, d.id)
		cur.Write(d.source)
		cur.WriteByte('\n')
		if cur.Len() >= maxBytes {
			bodies = append(bodies, append([]byte(nil), cur.Bytes()...))
			cur.Reset()
		}
	}
	if cur.Len() > 0 {
		bodies = append(bodies, cur.Bytes())
	}
	return each(ctx, bodies, workers, func(ctx context.Context, body []byte) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/_bulk", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/x-ndjson")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		var r struct {
			Errors bool `json:"errors"`
		}
		_ = json.NewDecoder(res.Body).Decode(&r)
		if res.StatusCode != 200 || r.Errors {
			return fmt.Errorf("baseline _bulk: status %d errors %v", res.StatusCode, r.Errors)
		}
		return nil
	})
}

// --- end to end -------------------------------------------------------------------------------

func (b *bench) e2e(ctx context.Context, arts []article.Article) error {
	base := name("e2e")
	raw, enriched, dlq, prefix := base+".raw", base+".enriched", base+".dlq", base
	ing, url, err := b.startIngest(ctx, raw)
	if err != nil {
		return err
	}
	defer ing.stop()
	enr, err := b.start(ctx, "enrich", "--topic", raw, "--output-topic", enriched, "--dlq-topic", dlq, "--group", base+"-enrich")
	if err != nil {
		return err
	}
	defer enr.stop()
	idx, err := b.start(ctx, "index", "--topic", enriched, "--dlq-topic", dlq, "--group", base+"-index", "--index-prefix", prefix)
	if err != nil {
		return err
	}
	defer idx.stop()
	defer func() {
		_ = b.sc.Do(context.Background(), http.MethodDelete, "/"+prefix+"-*", nil, nil)
		_ = b.sc.Do(context.Background(), http.MethodDelete, "/_index_template/"+prefix, nil, nil)
	}()

	reqs := bodies(arts, 500)
	start := time.Now()
	if err := postAll(ctx, url, reqs, 4); err != nil {
		return err
	}
	if err := b.waitCount(ctx, prefix, len(arts), 10*time.Minute); err != nil {
		return err
	}
	rate := float64(len(arts)) / time.Since(start).Seconds()
	for _, s := range []*svc{ing, enr, idx} {
		b.rep.Usage = append(b.rep.Usage, s.usage("e2e throughput"))
	}
	r := Result{Name: "end to end: HTTP → ingest → enrich → index → searchable", Unit: "articles/s", Value: rate}
	if b.indexRate > 0 { // the index step ran in this run
		r.Baseline, r.BaseVal = "index stage alone (above)", b.indexRate
	}
	b.add(r)

	// Open-loop latency at half the measured maximum: articles sent at a fixed rate whether or not
	// earlier ones are done; latency = searchable (found by id) minus ingest's 202.
	target := rate * b.o.latencyFraction
	perTick := max(1, int(target/10)) // ten requests a second
	var fresh []article.Article
	for i, a := range repeat(arts, perTick*10*b.o.latencySeconds) {
		a.URL = withQuery(a.URL, fmt.Sprintf("latency-run=%d", i)) // new ids: not yet in the index
		a.ID = article.ID(&a)
		fresh = append(fresh, a)
	}
	// The sender posts on a fixed clock; each acknowledged id goes to the poller, which runs at
	// the same time and times each article when a search first finds it. The poller asks only
	// for the 1,000 oldest pending ids each round (they become searchable first), so that the
	// polling itself does not load the search node the pipeline is writing to.
	type ack struct {
		id string
		at time.Time
	}
	acks := make(chan ack, len(fresh))
	var wg sync.WaitGroup
	sentN := 0
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		end := time.Now().Add(time.Duration(b.o.latencySeconds) * time.Second)
		for i := 0; time.Now().Before(end) && i < len(fresh); i += perTick {
			<-tick.C
			batch := fresh[i:min(i+perTick, len(fresh))]
			sentN += len(batch)
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := pipeline.Post(ctx, url, "", "application/x-ndjson", pipeline.NDJSON(batch), nil)
				now := time.Now()
				if err != nil || res.Status != 202 {
					return
				}
				for _, it := range res.Items {
					acks <- ack{it.ID, now}
				}
			}()
		}
		wg.Wait()
		close(acks)
	}()
	var lat []float64
	var pending []ack
	sending := true
	deadline := time.Now().Add(time.Duration(b.o.latencySeconds)*time.Second + 3*time.Minute)
	for (sending || len(pending) > 0) && time.Now().Before(deadline) {
	drain:
		for {
			select {
			case a, ok := <-acks:
				if !ok {
					sending = false
					break drain
				}
				pending = append(pending, a)
			default:
				break drain
			}
		}
		if len(pending) == 0 {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		sort.Slice(pending, func(i, j int) bool { return pending[i].at.Before(pending[j].at) })
		head := pending[:min(1000, len(pending))]
		ids := make([]string, len(head))
		for i, a := range head {
			ids[i] = a.id
		}
		_, hits, err := pipeline.Search(ctx, b.sc, prefix, map[string]any{"size": len(ids), "_source": false,
			"query": map[string]any{"ids": map[string]any{"values": ids}}})
		if err == nil {
			now := time.Now()
			seen := map[string]bool{}
			for _, h := range hits {
				seen[h.ID] = true
			}
			rest := pending[:0]
			for _, a := range pending {
				if seen[a.id] {
					lat = append(lat, now.Sub(a.at).Seconds())
				} else {
					rest = append(rest, a)
				}
			}
			pending = rest
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(lat) == 0 {
		return errors.New("latency run: no article became searchable")
	}
	sort.Float64s(lat)
	p := func(q float64) float64 { return lat[min(len(lat)-1, int(q*float64(len(lat))))] }
	note := fmt.Sprintf("open loop at %.0f articles/s (the measured max × -latency-fraction), %d sent, %d measured, %d not searchable within 3 min; polling every 100 ms adds up to ~150 ms; refresh_interval 1 s",
		target, sentN, len(lat), len(pending))
	b.add(Result{Name: "end to end latency p50 (ingest 202 → searchable)", Unit: "s", Value: p(0.5), Note: note})
	b.add(Result{Name: "end to end latency p99 (ingest 202 → searchable)", Unit: "s", Value: p(0.99), Note: note})
	for _, s := range []*svc{ing, enr, idx} {
		b.rep.Usage = append(b.rep.Usage, s.usage("e2e total"))
	}
	return nil
}

// --- output -----------------------------------------------------------------------------------

func printTable(w io.Writer, r *report) {
	fmt.Fprintf(w, "\nnewsflow benchmarks — %s — %s\n%s\n\n", r.Date, r.Machine, r.Sizes)
	fmt.Fprintf(w, "%-58s %12s %-12s %12s %7s\n", "measure", "value", "unit", "baseline", "ratio")
	for _, x := range r.Results {
		base, ratio := "", ""
		if x.BaseVal > 0 {
			base = fmt.Sprintf("%.1f", x.BaseVal)
		}
		if x.Ratio > 0 {
			ratio = fmt.Sprintf("%.2f", x.Ratio)
		}
		fmt.Fprintf(w, "%-58s %12.2f %-12s %12s %7s\n", x.Name, x.Value, x.Unit, base, ratio)
	}
	fmt.Fprintf(w, "\n%-16s %-16s %10s %10s\n", "process", "phase", "cpu s", "peak MB")
	for _, u := range r.Usage {
		fmt.Fprintf(w, "%-16s %-16s %10.1f %10.1f\n", u.Process, u.Phase, u.CPUSeconds, u.PeakRSSMB)
	}
}

func writeDoc(path string, r *report) error {
	var b strings.Builder
	b.WriteString("# newsflow benchmarks\n\n")
	b.WriteString("Written by `make bench` (deploy/bench); every figure is measured against a baseline run on the same machine in the same run, so ratios are what to compare across machines. Nothing here is a pass/fail test.\n\n")
	fmt.Fprintf(&b, "- date: %s\n- machine: %s\n- sizes: %s\n\n", r.Date, r.Machine, r.Sizes)
	b.WriteString("| measure | value | unit | baseline | baseline value | ratio | goal |\n| --- | ---: | --- | --- | ---: | ---: | --- |\n")
	for _, x := range r.Results {
		base, ratio := "", ""
		if x.BaseVal > 0 {
			base = fmt.Sprintf("%.1f", x.BaseVal)
		}
		if x.Ratio > 0 {
			ratio = fmt.Sprintf("%.2f", x.Ratio)
		}
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
