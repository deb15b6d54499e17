package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/newsflow/newsflow/deploy/internal/pipeline"
	"github.com/newsflow/newsflow/pkg/article"
	"github.com/newsflow/newsflow/pkg/testenv"
)

// TestReplayIntoNewVersion is docs/REPLAY.md's runbook with the real binaries: articles flow
// through the live pipeline into index version A; a replay (a second enrich group from the
// start of the raw topic, with this build's enrichment version, into its own enriched topic,
// and a staged index writer of version A+1) runs beside it while new articles keep arriving;
// `index swap` waits for the replay's groups to catch up and points the alias at A+1. Right
// after the swap the alias must hold every accepted article exactly once, each with the new
// enrichment_version, and articles sent after the swap must reach it too.
func TestReplayIntoNewVersion(t *testing.T) {
	for _, eng := range testenv.SearchEngines(t) {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			replayIntoNewVersion(t, eng)
		})
	}
}

func replayIntoNewVersion(t *testing.T, eng testenv.Engine) {
	kc := testenv.Kafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	newVersion := buildEnrichmentVersion(ctx, t)
	const oldVersion = "replay-test/old-model"
	if newVersion == oldVersion {
		t.Fatalf("the build's enrichment version is %q, the test's stand-in for the old model", oldVersion)
	}

	r := newRig(t, kc, eng)
	t.Logf("search engine: %s", r.engine(ctx))
	ing, ingestURL := r.ingest()
	enr := r.enrich("enrich")
	enr.Args = append(enr.Args, "--enrichment-version", oldVersion)
	idx := r.index("index")
	startAll(ing, enr, idx)

	arts := loadReuters(t, 360)
	accepted := map[string]bool{}
	send := func(batch []article.Article) {
		t.Helper()
		res, err := pipeline.Post(ctx, ingestURL, "", "application/x-ndjson", pipeline.NDJSON(batch), nil)
		if err != nil || res.Status != 202 {
			t.Fatalf("posting %d articles: status %d, %v", len(batch), res.Status, err)
		}
		for _, it := range res.Items {
			if it.Status != "rejected" {
				accepted[it.ID] = true
			}
		}
	}

	// 1. The live pipeline fills version A.
	send(arts[:200])
	waitCount(ctx, t, r, r.prefix, len(accepted))
	live := aliasVersions(ctx, t, r)
	if len(live) != 1 {
		t.Fatalf("alias %s points at index versions %v, want one", r.prefix, live)
	}
	oldIndexVersion := live[0]
	replayVersion := oldIndexVersion + 1
	requireVersions(ctx, t, r, r.prefix, oldVersion, len(accepted))

	// 2. The replay: its own groups and enriched topic, a staged writer of the next version.
	v := strconv.Itoa(replayVersion)
	replayEnrichGroup, replayIndexGroup, replayTopic := r.enrichGroup+"-v"+v, r.indexGroup+"-v"+v, r.enriched+".v"+v
	renr, args := r.common("enrich#replay")
	renr.Args = append([]string{"serve"}, append(args, "--topic", r.raw, "--output-topic", replayTopic, "--dlq-topic", r.dlq,
		"--group", replayEnrichGroup, "--start-at", "earliest")...)
	ridx, args := r.common("index#replay")
	ridx.Args = append([]string{"serve"}, append(args, "--topic", replayTopic, "--dlq-topic", r.dlq, "--group", replayIndexGroup,
		"--index-prefix", r.prefix, "--index-version", v, "--staged")...)
	startAll(renr, ridx)

	// 3. New articles keep arriving during the replay; both versions get them. Until the
	// swap, readers of the alias see version A only: never a replayed copy beside it, while
	// the replay fills its staging alias.
	send(arts[200:250])
	staging := r.prefix + "-replay-v" + v
	testenv.Eventually(t, 60*time.Second, "the replay to fill "+staging, func() (bool, string) {
		if n := countQuery(ctx, t, r, r.prefix, map[string]any{"term": map[string]any{"enrichment_version": newVersion}}); n != 0 {
			t.Fatalf("before the swap the alias shows %d documents of the replay's enrichment version, want 0 (staged)", n)
		}
		if n, err := pipeline.Count(ctx, r.sc, r.prefix); err != nil || n > len(accepted) {
			t.Fatalf("before the swap the alias holds %d documents (%v) of %d accepted: duplicates", n, err, len(accepted))
		}
		n, err := pipeline.Count(ctx, r.sc, staging)
		return err == nil && n == len(accepted), fmt.Sprintf("%d documents (%v), want %d", n, err, len(accepted))
	})
	requireVersions(ctx, t, r, r.prefix, oldVersion, len(accepted))
	requireVersions(ctx, t, r, staging, newVersion, len(accepted))
	status, err := r.indexCommand(ctx, "replay-status", "--index-prefix", r.prefix, "--to-version", v,
		"--caught-up", replayEnrichGroup+"@"+r.raw+","+replayIndexGroup+"@"+replayTopic)
	wantStatus := fmt.Sprintf("version %d: 2 indices, %d documents, behind alias %s: false", replayVersion, len(accepted), r.prefix)
	if err != nil || !strings.Contains(status, wantStatus) {
		t.Fatalf("index replay-status: %v, want a line %q in:\n%s", err, wantStatus, status)
	}
	// The last ones just before the swap: they are in the raw topic (ingest answered 202 after
	// the acknowledged write), not yet in either index; the swap has to wait for them.
	send(arts[250:300])

	// 4. Swap once the replay has caught up.
	out, err := r.indexCommand(ctx, "swap", "--index-prefix", r.prefix, "--to-version", v,
		"--caught-up", replayEnrichGroup+"@"+r.raw+","+replayIndexGroup+"@"+replayTopic, "--catch-up-timeout", "90s")
	if err != nil {
		t.Fatalf("index swap: %v\n%s", err, out)
	}
	t.Logf("index swap: %s", lastLine(out))

	// 5. At once (no waiting): the alias is version A+1 alone, with every accepted article
	// exactly once, each carrying the new enrichment_version.
	if got := aliasVersions(ctx, t, r); len(got) != 1 || got[0] != replayVersion {
		t.Fatalf("after the swap alias %s points at versions %v, want [%d]", r.prefix, got, replayVersion)
	}
	n := r.requireExactlyOnce(ctx, accepted)
	requireVersions(ctx, t, r, r.prefix, newVersion, len(accepted))
	t.Logf("after the swap: %d documents behind the alias, all %s", n, newVersion)

	// 6. The replay pipeline is live now: articles sent after the swap reach the alias.
	send(arts[300:])
	waitCount(ctx, t, r, r.prefix, len(accepted))
	n = r.requireExactlyOnce(ctx, accepted)
	requireVersions(ctx, t, r, r.prefix, newVersion, len(accepted))

	// The old pipeline can go; a live writer of the old version refuses to start now.
	for _, p := range []*proc{enr, idx} {
		if err := p.stop(syscall.SIGTERM, 30*time.Second); err != nil {
			t.Fatalf("stopping the old %s: %v", p.Name, err)
		}
	}
	out, err = r.indexCommand(ctx, "serve", "--index-prefix", r.prefix, "--topic", r.enriched, "--group", r.indexGroup,
		"--dlq-topic", r.dlq, "--index-version", strconv.Itoa(oldIndexVersion), "--admin-addr", testenv.FreeAddr(t))
	if err == nil || !strings.Contains(out, "--index-version "+v) {
		t.Fatalf("an old-version writer after the swap: want a refusal naming --index-version %s, got %v:\n%s", v, err, lastLine(out))
	}
	t.Logf("replayed %d articles (%d sent during the replay, %d after the swap) into version %d; none lost, none twice",
		n, 100, len(arts)-300, replayVersion)
}

// buildEnrichmentVersion is the enrichment_version this build writes, as `enrich extract` says.
func buildEnrichmentVersion(ctx context.Context, t *testing.T) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "enrich"), "extract", "--published-at", "2019-08-21T08:00:00Z")
	cmd.Stdin = strings.NewReader("Talks in Paris\nOfficials met in Paris on Monday.\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("enrich extract: %v", err)
	}
	var e struct {
		Version string `json:"enrichment_version"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(out), &e); err != nil || e.Version == "" {
		t.Fatalf("enrich extract printed %q: %v", out, err)
	}
	return e.Version
}

// indexCommand runs the index binary with the rig's environment and returns its output.
func (r *rig) indexCommand(ctx context.Context, args ...string) (string, error) {
	p, _ := r.common("index#" + args[0])
	r.procs = r.procs[:len(r.procs)-1] // not a service the rig stops
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "index"), args...)
	cmd.Env = p.Env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

var indexVersionRE = regexp.MustCompile(`-v(\d+)$`)

// aliasVersions lists the index versions behind the rig's alias.
func aliasVersions(ctx context.Context, t *testing.T, r *rig) []int {
	t.Helper()
	var got map[string]any
	if err := r.sc.Do(ctx, http.MethodGet, "/_alias/"+r.prefix, nil, &got); err != nil {
		t.Fatalf("reading alias %s: %v", r.prefix, err)
	}
	seen := map[int]bool{}
	for name := range got {
		v := 1
		if m := indexVersionRE.FindStringSubmatch(name); m != nil {
			v, _ = strconv.Atoi(m[1])
		}
		seen[v] = true
	}
	var out []int
	for v := range seen {
		out = append(out, v)
	}
	sort.Ints(out)
	return out
}

// countQuery counts the documents of index matching query, after a refresh.
func countQuery(ctx context.Context, t *testing.T, r *rig, index string, query map[string]any) int {
	t.Helper()
	_ = r.sc.Do(ctx, http.MethodPost, "/"+index+"/_refresh", nil, nil)
	var res struct {
		Count int `json:"count"`
	}
	if err := r.sc.Do(ctx, http.MethodPost, "/"+index+"/_count", map[string]any{"query": query}, &res); err != nil {
		t.Fatalf("counting in %s: %v", index, err)
	}
	return res.Count
}

// requireVersions checks that index holds want documents, every one with enrichment_version version.
func requireVersions(ctx context.Context, t *testing.T, r *rig, index, version string, want int) {
	t.Helper()
	with := countQuery(ctx, t, r, index, map[string]any{"term": map[string]any{"enrichment_version": version}})
	other := countQuery(ctx, t, r, index, map[string]any{"bool": map[string]any{"must_not": map[string]any{"term": map[string]any{"enrichment_version": version}}}})
	if with != want || other != 0 {
		t.Fatalf("%s: %d documents with enrichment_version %q and %d with another, want %d and 0", index, with, version, other, want)
	}
}

// waitCount waits until index holds want documents.
func waitCount(ctx context.Context, t *testing.T, r *rig, index string, want int) {
	t.Helper()
	testenv.Eventually(t, 60*time.Second, index+" to hold every accepted article", func() (bool, string) {
		n, err := pipeline.Count(ctx, r.sc, index)
		return err == nil && n >= want, fmt.Sprintf("%d documents (%v), want %d", n, err, want)
	})
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
