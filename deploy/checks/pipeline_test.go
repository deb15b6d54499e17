package checks

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/segmentio/kafka-go"

	"github.com/newsflow/newsflow/deploy/internal/pipeline"
	"github.com/newsflow/newsflow/pkg/testenv"
)

var (
	liveOnce sync.Once
	liveCat  Catalogue
	liveErr  error
)

// liveCatalogue is every metric family the services expose, learnt by running them: the three
// binaries are started against the local stack (or NEWSFLOW_KAFKA_BROKERS / NEWSFLOW_SEARCH_URL)
// on their own topics, group and index prefix; two articles go through ingest's HTTP API to the
// index, a poison message is put on each consumed topic so that enrich and index dead-letter, and
// then each admin port's /metrics is scraped. Vectors a run cannot reach (a failure reason that
// did not happen) are added from pkg/metrics' stage set, which every stage registers.
func liveCatalogue(t *testing.T) Catalogue {
	t.Helper()
	sb := services(t)
	kc := testenv.Kafka(t) // skips under -short, fails with instructions when there is no broker
	testenv.Search(t)
	liveOnce.Do(func() { liveCat, liveErr = runPipeline(sb, kc.Brokers) })
	if liveErr != nil {
		t.Fatalf("running the services to learn their metrics: %v", liveErr)
	}
	return liveCat
}

func scrape(ctx context.Context, addr string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s/metrics: %s", addr, res.Status)
	}
	return io.ReadAll(res.Body)
}

func ready(ctx context.Context, addr string) bool {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/readyz", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	res.Body.Close()
	return res.StatusCode == http.StatusOK
}

// sumOf adds up the samples of family name in an exposition; ok is false when it is absent.
func sumOf(expo []byte, name string) (float64, bool) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(expo))
	if err != nil {
		return 0, false
	}
	mf, ok := fams[name]
	if !ok {
		return 0, false
	}
	var s float64
	for _, m := range mf.GetMetric() {
		switch {
		case m.Counter != nil:
			s += m.Counter.GetValue()
		case m.Gauge != nil:
			s += m.Gauge.GetValue()
		case m.Histogram != nil:
			s += float64(m.Histogram.GetSampleCount())
		}
	}
	return s, true
}

func runPipeline(sb *serviceBinaries, brokers []string) (cat Catalogue, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	id := make([]byte, 4)
	_, _ = rand.Read(id)
	sfx := hex.EncodeToString(id)
	raw, enriched, dlq := "deploychecks-raw-"+sfx, "deploychecks-enriched-"+sfx, "deploychecks-dlq-"+sfx
	prefix := "deploychecks-" + sfx
	dataDir, err := os.MkdirTemp("", "deploychecks-ingest-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dataDir)
	addrs := map[string]string{}
	for _, k := range []string{"http", "ingest", "enrich", "index"} {
		if addrs[k], err = pipeline.FreeAddr(); err != nil {
			return nil, err
		}
	}
	kcl := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	defer func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer ccancel()
		_, _ = kcl.DeleteTopics(cctx, &kafka.DeleteTopicsRequest{Topics: []string{raw, enriched, dlq}})
		deleteIndices(cctx, prefix)
	}()

	var procs []*pipeline.Proc
	defer func() {
		for _, p := range procs {
			_ = p.Stop(syscall.SIGTERM, 40*time.Second)
		}
	}()
	specs := []struct {
		name string
		args []string
	}{
		{"index", []string{"serve", "--topic", enriched, "--group", "deploychecks-index-" + sfx, "--dlq-topic", dlq,
			"--index-prefix", prefix, "--admin-addr", addrs["index"], "--lag-interval", "1s", "--kafka-partitions", "1"}},
		{"enrich", []string{"serve", "--topic", raw, "--output-topic", enriched, "--dlq-topic", dlq, "--group", "deploychecks-enrich-" + sfx,
			"--admin-addr", addrs["enrich"], "--workers", "1", "--kafka-partitions", "1"}},
		{"ingest", []string{"serve", "--topic", raw, "--addr", addrs["http"], "--admin-addr", addrs["ingest"],
			"--data-dir", dataDir, "--kafka-partitions", "1"}},
	}
	for _, s := range specs {
		p := &pipeline.Proc{Name: s.name, Bin: sb.bins[s.name], Args: s.args, Env: []string{"NEWSFLOW_LOG_FORMAT=text"},
			Log: filepath.Join(dataDir, s.name+".log")}
		if err := p.Start(); err != nil {
			return nil, err
		}
		procs = append(procs, p)
	}
	failure := func(format string, a ...any) error {
		var b strings.Builder
		fmt.Fprintf(&b, format, a...)
		for _, p := range procs {
			fmt.Fprintf(&b, "\n--- %s log:\n%s", p.Name, pipeline.Tail(p.Log, 40))
		}
		return fmt.Errorf("%s", b.String())
	}
	// wait polls cond every 250 ms until it holds, a service exits, or ctx ends.
	wait := func(what string, cond func() bool) error {
		for {
			if cond() {
				return nil
			}
			for _, p := range procs {
				if p.Exited() {
					return failure("%s exited while waiting for %s", p.Name, what)
				}
			}
			select {
			case <-ctx.Done():
				return failure("timed out waiting for %s", what)
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
	if err := wait("every service to be ready (/readyz)", func() bool {
		return ready(ctx, addrs["ingest"]) && ready(ctx, addrs["enrich"]) && ready(ctx, addrs["index"])
	}); err != nil {
		return nil, err
	}

	// Two good articles through the HTTP API, and one poison message on each consumed topic.
	articles := []map[string]any{
		{"title": "Deploy checks: Angela Merkel meets Emmanuel Macron in Berlin", "source": "deploychecks",
			"url": "https://example.org/deploychecks/" + sfx + "/1", "published_at": time.Now().UTC().Format(time.RFC3339),
			"body": "Angela Merkel met Emmanuel Macron in Berlin yesterday to discuss the European Union budget."},
		{"title": "Deploy checks: Reuters reports from London", "source": "deploychecks",
			"url": "https://example.org/deploychecks/" + sfx + "/2", "published_at": time.Now().UTC().Format(time.RFC3339),
			"body": "Reuters reported from London on Monday that the Bank of England kept rates unchanged."},
	}
	body, _ := json.Marshal(articles)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addrs["http"]+"/v1/articles", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, failure("POST /v1/articles: %v", err)
	}
	rb, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		return nil, failure("POST /v1/articles answered %s: %s", res.Status, rb)
	}
	for _, topic := range []string{raw, enriched} {
		w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, RequiredAcks: kafka.RequireAll, BatchTimeout: 5 * time.Millisecond}
		var werr error
		// A topic the services have just created may not be in every metadata cache yet.
		err := wait("a poison message written to "+topic, func() bool {
			wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
			defer wcancel()
			werr = w.WriteMessages(wctx, kafka.Message{Key: []byte("deploychecks-poison"), Value: []byte("{not json")})
			return werr == nil
		})
		w.Close()
		if err != nil {
			return nil, fmt.Errorf("%w (last error: %v)", err, werr)
		}
	}

	expo := map[string][]byte{}
	if err := wait("2 articles indexed and a dead letter from enrich and index", func() bool {
		for _, s := range Services {
			b, err := scrape(ctx, addrs[s])
			if err != nil {
				return false
			}
			expo[s] = b
		}
		n, _ := sumOf(expo["index"], "newsflow_index_produced_total")
		_, enrichDLQ := sumOf(expo["enrich"], "newsflow_enrich_dead_lettered_total")
		_, indexDLQ := sumOf(expo["index"], "newsflow_index_dead_lettered_total")
		return n >= 2 && enrichDLQ && indexDLQ
	}); err != nil {
		return nil, err
	}
	if err := wait("consumer lag gauges of enrich and index", func() bool {
		ok := true
		for _, s := range []string{"enrich", "index"} {
			b, err := scrape(ctx, addrs[s])
			if err != nil {
				return false
			}
			expo[s] = b
			_, has := sumOf(b, "newsflow_"+s+"_consumer_lag_messages")
			ok = ok && has
		}
		return ok
	}); err != nil {
		return nil, err
	}
	cat = Catalogue{}
	for _, s := range Services {
		if err := cat.AddExposition(bytes.NewReader(expo[s]), "scrape of "+s); err != nil {
			return nil, err
		}
		cat.AddStage(s)
	}
	return cat, nil
}

// deleteIndices removes what the run created in the search engine: the indices and the template
// of prefix. Best effort; the names are unique to the run.
func deleteIndices(ctx context.Context, prefix string) {
	base := strings.TrimRight(testenv.SearchConfig().URLs[0], "/")
	do := func(method, path string) []byte {
		req, err := http.NewRequestWithContext(ctx, method, base+path, nil)
		if err != nil {
			return nil
		}
		if c := testenv.SearchConfig(); c.Username != "" {
			req.SetBasicAuth(c.Username, string(c.Password))
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return b
	}
	for _, idx := range strings.Fields(string(do(http.MethodGet, "/_cat/indices/"+prefix+"-*?h=index"))) {
		do(http.MethodDelete, "/"+idx)
	}
	do(http.MethodDelete, "/_index_template/"+prefix)
}
