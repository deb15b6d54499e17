// Package e2e runs the three newsflow services as real processes against a real Kafka broker and
// a real OpenSearch node, feeds them through every door, and checks what ends up searchable.
package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/newsflow/newsflow/deploy/internal/pipeline"
	"github.com/newsflow/newsflow/pkg/kafkax"
	"github.com/newsflow/newsflow/pkg/search"
	"github.com/newsflow/newsflow/pkg/testenv"
)

var binDir string

// TestMain builds the three services once, from the same cmd/<name> packages users run.
func TestMain(m *testing.M) {
	code := func() int {
		dir, err := os.MkdirTemp("", "newsflow-e2e-bin")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		binDir = dir
		cmd := exec.Command("go", "build", "-o", dir+"/",
			"github.com/newsflow/newsflow/services/ingest/cmd/ingest",
			"github.com/newsflow/newsflow/services/enrich/cmd/enrich",
			"github.com/newsflow/newsflow/services/index/cmd/index")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building the services:", err)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

// proc is one service process (pipeline.Proc) whose failures fail the test.
type proc struct {
	*pipeline.Proc
	t testing.TB
}

func (p *proc) start() {
	p.t.Helper()
	if err := p.Start(); err != nil {
		p.t.Fatal(err)
	}
}

func (p *proc) waitReady(timeout time.Duration) {
	p.t.Helper()
	if err := p.WaitReady(timeout); err != nil {
		p.t.Fatal(err)
	}
}

func (p *proc) stop(sig syscall.Signal, timeout time.Duration) error { return p.Stop(sig, timeout) }

// rig is one pipeline: its own topics, groups and indices, so that rigs never see each
// other's data.
type rig struct {
	t                       testing.TB
	kc                      kafkax.Config
	sc                      *search.Client
	eng                     testenv.Engine
	raw, enriched, dlq      string
	enrichGroup, indexGroup string
	prefix                  string
	logDir                  string
	procs                   []*proc
	// kafkaEnv, appended to every process's environment (later values win), carries Kafka
	// settings beyond the brokers: TLS and SASL (secure_kafka_test.go).
	kafkaEnv []string
}

func newRig(t testing.TB, kc kafkax.Config, eng testenv.Engine) *rig {
	t.Helper()
	sc, err := search.New(eng.Config)
	if err != nil {
		t.Fatal(err)
	}
	base := testenv.Name(t, "e2e")
	r := &rig{t: t, kc: kc, sc: sc, eng: eng,
		raw: base + ".raw", enriched: base + ".enriched", dlq: base + ".dlq",
		enrichGroup: base + "-enrich", indexGroup: base + "-index", prefix: base, logDir: t.TempDir()}
	t.Cleanup(func() {
		for _, p := range r.procs {
			_ = p.stop(syscall.SIGTERM, 30*time.Second)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = sc.Do(ctx, http.MethodDelete, "/"+r.prefix+"-*", nil, nil)
		_ = sc.Do(ctx, http.MethodDelete, "/_index_template/"+r.prefix, nil, nil)
		if t.Failed() {
			for _, p := range r.procs {
				t.Logf("log of %s (%s):\n%s", p.Name, p.Log, pipeline.Tail(p.Log, 25))
			}
		}
	})
	return r
}

func (r *rig) common(name string) (*proc, []string) {
	p := &proc{t: r.t, Proc: &pipeline.Proc{Name: name, Bin: filepath.Join(binDir, strings.SplitN(name, "#", 2)[0]),
		Admin: testenv.FreeAddr(r.t), Log: filepath.Join(r.logDir, strings.ReplaceAll(name, "#", "-")+".log")}}
	p.Env = []string{"NEWSFLOW_LOG_FORMAT=json", "NEWSFLOW_KAFKA_BROKERS=" + strings.Join(r.kc.Brokers, ","), "NEWSFLOW_KAFKA_PARTITIONS=" + fmt.Sprint(r.kc.Partitions)}
	p.Env = append(p.Env, searchEnv(r.eng)...)
	p.Env = append(p.Env, r.kafkaEnv...)
	r.procs = append(r.procs, p)
	return p, []string{"--admin-addr", p.Admin}
}

// engine names the rig's search engine and its version, for the test log.
func (r *rig) engine(ctx context.Context) string {
	e, err := r.sc.Check(ctx)
	if err != nil {
		r.t.Fatalf("search engine %s: %v", r.eng.Name, err)
	}
	return e.String()
}

// searchEnv is the environment that points a service at eng. Elasticsearch's integ-test build
// lacks analysis-common (no english analyzer), so its indices use the standard analyzer.
func searchEnv(eng testenv.Engine) []string {
	c := eng.Config
	env := []string{"NEWSFLOW_SEARCH_URL=" + strings.Join(c.URLs, ",")}
	if c.Username != "" {
		env = append(env, "NEWSFLOW_SEARCH_USERNAME="+c.Username, "NEWSFLOW_SEARCH_PASSWORD="+string(c.Password))
	}
	if c.CAFile != "" {
		env = append(env, "NEWSFLOW_SEARCH_CA_FILE="+c.CAFile)
	}
	if eng.Name == "elasticsearch" {
		env = append(env, "NEWSFLOW_INDEX_TEXT_ANALYZER=standard")
	}
	return env
}

// ingest returns ingest's process (not started) and its HTTP URL.
func (r *rig) ingest(extra ...string) (*proc, string) {
	p, args := r.common("ingest")
	addr := testenv.FreeAddr(r.t)
	p.Args = append(append([]string{"serve"}, args...), append([]string{"--addr", addr, "--topic", r.raw, "--data-dir", filepath.Join(r.logDir, "ingest-state")}, extra...)...)
	return p, "http://" + addr
}

func (r *rig) enrich(name string) *proc {
	p, args := r.common(name)
	p.Args = append([]string{"serve"}, append(args, "--topic", r.raw, "--output-topic", r.enriched, "--dlq-topic", r.dlq, "--group", r.enrichGroup)...)
	return p
}

func (r *rig) index(name string) *proc {
	p, args := r.common(name)
	p.Args = append([]string{"serve"}, append(args, "--topic", r.enriched, "--dlq-topic", r.dlq, "--group", r.indexGroup, "--index-prefix", r.prefix)...)
	return p
}

// startAll starts procs, then waits until each is ready.
func startAll(procs ...*proc) {
	for _, p := range procs {
		p.start()
	}
	for _, p := range procs {
		p.waitReady(90 * time.Second)
	}
}

// postSeed posts the seed article (../shared/data/seed) to ingest as text/plain, as a newsroom's
// CMS would, and returns its id and the text sent.
func postSeed(ctx context.Context, t testing.TB, ingestURL, data string) (id string, text []byte) {
	t.Helper()
	seed, err := os.ReadFile(filepath.Join(data, "seed", "imperialism-hits-the-rocks.txt"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := pipeline.Post(ctx, ingestURL, "", "text/plain; charset=utf-8", seed,
		url.Values{"source": {"newsline"}, "published_at": {"2019-08-21T08:00:00Z"}})
	if err != nil || res.Status != 202 || res.Accepted != 1 {
		t.Fatalf("seed: %+v %v", res, err)
	}
	return res.Items[0].ID, seed
}

// importFile runs `ingest import` on path and returns its exit error and output.
func (r *rig) importFile(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "ingest"), append([]string{"import", "--topic", r.raw, "--progress", "never"}, args...)...)
	cmd.Env = append(append(os.Environ(), "NEWSFLOW_KAFKA_BROKERS="+strings.Join(r.kc.Brokers, ",")), r.kafkaEnv...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// deadLetter is one record on a dead-letter topic as kcat (an independent client) reads it.
type deadLetter struct {
	Stage, Reason, Key, Value string
}

// readDLQ returns every dead letter on topic.
func readDLQ(t testing.TB, brokers []string, topic string) []deadLetter {
	t.Helper()
	out, err := exec.Command("kcat", "-C", "-b", strings.Join(brokers, ","), "-t", topic, "-o", "beginning", "-e", "-q", "-J").Output()
	if err != nil {
		t.Fatalf("kcat reading %s: %v", topic, err)
	}
	var res []deadLetter
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var rec struct {
			Headers []string `json:"headers"`
			Key     *string  `json:"key"`
			Payload *string  `json:"payload"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("kcat -J line %q: %v", sc.Text(), err)
		}
		var d deadLetter
		for i := 0; i+1 < len(rec.Headers); i += 2 {
			switch rec.Headers[i] {
			case kafkax.HeaderStage:
				d.Stage = rec.Headers[i+1]
			case kafkax.HeaderError:
				d.Reason = rec.Headers[i+1]
			}
		}
		if rec.Key != nil {
			d.Key = *rec.Key
		}
		if rec.Payload != nil {
			d.Value = *rec.Payload
		}
		res = append(res, d)
	}
	return res
}

// requireExactlyOnce checks that the rig's indices hold exactly the accepted ids and nothing
// else: an ids query over all of them finds every one, and the document count is no larger (a
// document's _id is its article id, so a redelivered article cannot add a second one; a count
// above the accepted ids would be a document nobody accepted). It returns the document count.
func (r *rig) requireExactlyOnce(ctx context.Context, accepted map[string]bool) int {
	r.t.Helper()
	n, err := pipeline.Count(ctx, r.sc, r.prefix)
	if err != nil {
		r.t.Fatal(err)
	}
	ids := make([]string, 0, len(accepted))
	for id := range accepted {
		ids = append(ids, id)
	}
	found := 0
	for i := 0; i < len(ids); i += 5000 {
		c, _, err := pipeline.Search(ctx, r.sc, r.prefix, map[string]any{"size": 0, "track_total_hits": true,
			"query": map[string]any{"ids": map[string]any{"values": ids[i:min(i+5000, len(ids))]}}})
		if err != nil {
			r.t.Fatal(err)
		}
		found += c
	}
	if n != len(accepted) || found != len(accepted) {
		r.t.Fatalf("index holds %d documents, %d of them accepted ids; want exactly %d", n, found, len(accepted))
	}
	return n
}
