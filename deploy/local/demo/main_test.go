package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/newsflow/newsflow/deploy/internal/pipeline"
	"github.com/newsflow/newsflow/pkg/article"
	"github.com/newsflow/newsflow/pkg/corpus"
	"github.com/newsflow/newsflow/pkg/search"
	"github.com/newsflow/newsflow/pkg/testenv"
)

// TestDemoFinishesWithDuplicates runs the demo's driver against the three real services (a real
// Kafka broker and search engine) over 71 Reuters-21578 articles of which 11 repeat an earlier
// one: 10 in a later request, 1 within its request. It used to wait for the index stage's
// produced count to reach ingest's, which duplicates prevent (the index writes one document for
// copies that meet in a batch), until its timeout; now it waits for the distinct ids and says how
// many duplicates it sent.
func TestDemoFinishesWithDuplicates(t *testing.T) {
	kc := testenv.Kafka(t)
	eng := testenv.SearchEngines(t)[0]
	data := testenv.DataDir(t)

	var base []article.Article
	seen := map[string]bool{}
	err := corpus.ReadReutersDir(filepath.Join(data, "reuters21578"), 200, func(a article.Article) error {
		if id := article.ID(&a); !seen[id] && len(base) < 60 {
			seen[id] = true
			base = append(base, a)
		}
		return nil
	})
	if err != nil || len(base) != 60 {
		t.Fatalf("reading Reuters-21578: %d articles, %v", len(base), err)
	}
	// Requests of 20 (--batch 20): each repeats the end of the one before it.
	var lines []article.Article
	lines = append(lines, base[0:20]...)  // request 1
	lines = append(lines, base[15:20]...) // request 2: 5 from request 1,
	lines = append(lines, base[20:35]...) //   15 new
	lines = append(lines, base[30:35]...) // request 3: 5 from request 2,
	lines = append(lines, base[35:49]...) //   14 new
	lines = append(lines, base[40])       //   and one of them again
	lines = append(lines, base[49:60]...) // request 4: 11 new
	file := filepath.Join(t.TempDir(), "reuters-with-duplicates.jsonl")
	if err := os.WriteFile(file, pipeline.NDJSON(lines), 0o644); err != nil {
		t.Fatal(err)
	}

	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+"/", "github.com/newsflow/newsflow/services/ingest/cmd/ingest",
		"github.com/newsflow/newsflow/services/enrich/cmd/enrich", "github.com/newsflow/newsflow/services/index/cmd/index")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the services: %v\n%s", err, out)
	}
	name := testenv.Name(t, "demo")
	env := []string{"NEWSFLOW_LOG_FORMAT=json", "NEWSFLOW_KAFKA_BROKERS=" + strings.Join(kc.Brokers, ","),
		"NEWSFLOW_SEARCH_URL=" + strings.Join(eng.Config.URLs, ",")}
	if c := eng.Config; c.Username != "" {
		env = append(env, "NEWSFLOW_SEARCH_USERNAME="+c.Username, "NEWSFLOW_SEARCH_PASSWORD="+string(c.Password), "NEWSFLOW_SEARCH_CA_FILE="+c.CAFile)
		for _, kv := range env[len(env)-3:] { // the demo's own search client reads the same variables
			k, v, _ := strings.Cut(kv, "=")
			t.Setenv(k, v)
		}
	}
	if eng.Name == "elasticsearch" {
		env = append(env, "NEWSFLOW_INDEX_TEXT_ANALYZER=standard")
	}
	t.Setenv("NEWSFLOW_INGEST_TOKEN", "")
	logs := t.TempDir()
	apiAddr := testenv.FreeAddr(t)
	proc := func(svc string, args ...string) *pipeline.Proc {
		admin := testenv.FreeAddr(t)
		return &pipeline.Proc{Name: svc, Bin: filepath.Join(bin, svc), Env: env, Admin: admin, Log: filepath.Join(logs, svc+".log"),
			Args: append([]string{"serve", "--admin-addr", admin}, args...)}
	}
	procs := []*pipeline.Proc{
		proc("ingest", "--addr", apiAddr, "--topic", name+".raw", "--data-dir", filepath.Join(logs, "ingest")),
		proc("enrich", "--topic", name+".raw", "--output-topic", name+".enriched", "--dlq-topic", name+".dlq", "--group", name+"-enrich"),
		// A flush interval long enough for all of the corpus to reach the index stage in one
		// batch, so that the copies of an article meet there, as they do under load.
		proc("index", "--topic", name+".enriched", "--dlq-topic", name+".dlq", "--group", name+"-index", "--index-prefix", name,
			"--flush-interval", "5s", "--story-window", "72h"),
	}
	t.Cleanup(func() {
		for _, p := range procs {
			_ = p.Stop(syscall.SIGTERM, 30*time.Second)
			if t.Failed() {
				t.Logf("log of %s:\n%s", p.Name, pipeline.Tail(p.Log, 20))
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if sc, err := search.New(eng.Config); err == nil {
			_ = sc.Do(ctx, "DELETE", "/"+name+"-*", nil, nil)
			_ = sc.Do(ctx, "DELETE", "/_index_template/"+name, nil, nil)
		}
	})
	for _, p := range procs {
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range procs {
		if err := p.WaitReady(90 * time.Second); err != nil {
			t.Fatal(err)
		}
	}

	var out testenv.SyncBuffer
	start := time.Now()
	err = run(context.Background(), []string{"--ingest-url", "http://" + apiAddr, "--ingest-admin", "http://" + procs[0].Admin,
		"--enrich-admin", "http://" + procs[1].Admin, "--index-admin", "http://" + procs[2].Admin,
		"--search-url", eng.Config.URLs[0], "--alias", name, "--batch", "20", "--timeout", "60s", file}, &out)
	took := time.Since(start)
	t.Logf("demo finished in %v on %s:\n%s", took.Round(time.Millisecond), eng.Name, out.String())
	if err != nil {
		t.Fatalf("demo: %v", err)
	}
	for _, want := range []string{
		"articles sent 71, accepted 60 distinct, rejected 0; searchable 60 of 60 accepted",
		"duplicates sent 11 (the same article id again: 1 within a request, 10 in a later request)",
		"== top stories (articles sharing a story_id;",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	if took > 45*time.Second {
		t.Errorf("demo took %v: it should end once the 60 distinct articles are searchable", took)
	}
}
