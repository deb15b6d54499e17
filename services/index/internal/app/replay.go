package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/newsflow/newsflow/pkg/config"
	"github.com/newsflow/newsflow/services/index/internal/indices"
)

// replayConfig is what `index swap` and `index replay-status` take beyond Config
// (docs/REPLAY.md): the index version to swap to, and the consumer groups whose lag says the
// replay has caught up with the live topics.
type replayConfig struct {
	ToVersion int
	// CaughtUp lists GROUP@TOPIC positions, in pipeline order (the replay's enrich group on
	// articles.raw first, then its index group on the replay's enriched topic).
	CaughtUp []string
	MaxLag   int64
	Timeout  time.Duration
	Force    bool
	// AllowFewer lets swap point the alias at a version that holds fewer documents than the
	// alias does now (see checkComplete).
	AllowFewer bool
}

func (r *replayConfig) registerFlags(s *config.Set, swap bool) {
	s.Int(&r.ToVersion, "to-version", "NEWSFLOW_INDEX_SWAP_TO_VERSION", 0, "index version the replay writes (its --index-version): the read alias is pointed at its indices")
	s.Strings(&r.CaughtUp, "caught-up", "NEWSFLOW_INDEX_SWAP_CAUGHT_UP", "", "GROUP@TOPIC,... in pipeline order: the replay's consumer groups and the topics they read (e.g. newsflow-enrich-v3@articles.raw,newsflow-index-v3@articles.enriched.v3); caught up when one sweep in this order finds each lag <= --max-lag")
	s.Int64(&r.MaxLag, "max-lag", "NEWSFLOW_INDEX_SWAP_MAX_LAG", 0, "messages each group may still have to consume and count as caught up (0: none; under steady traffic a few, which arrive in both versions after the swap anyway)")
	if swap {
		s.Duration(&r.Timeout, "catch-up-timeout", "NEWSFLOW_INDEX_SWAP_CATCH_UP_TIMEOUT", 30*time.Minute, "how long swap waits for the replay to catch up before it gives up without swapping")
		s.Bool(&r.Force, "force", "NEWSFLOW_INDEX_SWAP_FORCE", false, "swap without checking that the replay caught up (readers then miss what it has not written yet)")
		s.Bool(&r.AllowFewer, "allow-fewer", "NEWSFLOW_INDEX_SWAP_ALLOW_FEWER", false, "swap even when the new version holds fewer documents than the read alias (readers then lose the difference: older articles than articles.raw keeps, or ones the new version dead-lettered)")
	}
}

func (r *replayConfig) validate(swap bool) error {
	var p config.Problems
	p.Check(r.ToVersion < 1, "to-version: %d, want the replay's --index-version (>= 1)", r.ToVersion)
	_, err := parsePositions(r.CaughtUp)
	p.Add(err)
	p.Check(swap && len(r.CaughtUp) == 0 && !r.Force, "caught-up: name the replay's groups (GROUP@TOPIC,...) so swap can wait for them to catch up, or pass --force")
	p.Check(r.MaxLag < 0, "max-lag: %d, want >= 0", r.MaxLag)
	p.Check(swap && r.Timeout <= 0, "catch-up-timeout: %v, want > 0", r.Timeout)
	return p.Err()
}

// position is one consumer group reading one topic.
type position struct{ Group, Topic string }

func (p position) String() string { return p.Group + "@" + p.Topic }

func parsePositions(list []string) ([]position, error) {
	var out []position
	for _, s := range list {
		group, topic, ok := strings.Cut(strings.TrimSpace(s), "@")
		if !ok || group == "" || topic == "" || strings.Contains(topic, "@") {
			return nil, fmt.Errorf("caught-up: %q, want GROUP@TOPIC", s)
		}
		out = append(out, position{group, topic})
	}
	return out, nil
}

// lagFunc is kafkax.Config.Lag: per partition, the messages group has not committed on topic.
type lagFunc func(ctx context.Context, group, topic string) (map[int]int64, error)

// sweep measures each position's total lag, in order. The order matters: the replay's enrich
// group is measured before its index group, so the index group's end offsets are read after
// everything the enrich group had committed was produced (enrich commits only after its output
// is acknowledged); both at 0 in one sweep means every raw record up to the first measurement is
// in the engine (index commits only after the engine acknowledged it).
func sweep(ctx context.Context, lag lagFunc, ps []position) ([]int64, error) {
	out := make([]int64, len(ps))
	for i, p := range ps {
		parts, err := lag(ctx, p.Group, p.Topic)
		if err != nil {
			return nil, fmt.Errorf("measuring the lag of %s: %w", p, err)
		}
		if len(parts) == 0 {
			return nil, fmt.Errorf("measuring the lag of %s: the topic has no partitions", p)
		}
		for _, l := range parts {
			out[i] += l
		}
	}
	return out, nil
}

// waitCaughtUp sweeps every interval until one sweep finds each lag <= maxLag, or timeout passes.
func waitCaughtUp(ctx context.Context, log *slog.Logger, lag lagFunc, ps []position, maxLag int64, timeout, interval time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last []int64
	var lastErr error
	for {
		lags, err := sweep(ctx, lag, ps)
		if err == nil {
			behind := false
			for _, l := range lags {
				behind = behind || l > maxLag
			}
			if !behind {
				log.Info("the replay has caught up", "positions", fmt.Sprint(ps), "lag", fmt.Sprint(lags))
				return nil
			}
			last = lags
			log.Info("waiting for the replay to catch up", "positions", fmt.Sprint(ps), "lag", fmt.Sprint(lags), "max_lag", maxLag)
		} else if ctx.Err() == nil {
			lastErr = err
			log.Warn("measuring the replay's lag", "error", err)
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("the replay did not catch up within %v (lag of %v: %v, want <= %d each); the alias was not swapped", timeout, ps, last, maxLag)
			}
			return fmt.Errorf("the replay's lag could not be measured within %v: %w; the alias was not swapped", timeout, errors.Join(lastErr, ctx.Err()))
		case <-time.After(interval):
		}
	}
}

// replayStatus prints, for `index replay-status`, each replay group's lag, the documents per index
// version and which versions the read alias points at.
func replayStatus(ctx context.Context, w io.Writer, cfg Config, rc replayConfig, mgr *indices.Manager) error {
	ps, _ := parsePositions(rc.CaughtUp)
	caught := true
	if len(ps) > 0 {
		lags, err := sweep(ctx, cfg.Kafka.Lag, ps)
		if err != nil {
			return err
		}
		for i, p := range ps {
			fmt.Fprintf(w, "lag %s: %d\n", p, lags[i])
			caught = caught && lags[i] <= rc.MaxLag
		}
	}
	byVersion, err := mgr.VersionIndices(ctx)
	if err != nil {
		return err
	}
	behind, err := mgr.AliasIndices(ctx)
	if err != nil {
		return err
	}
	aliased := map[int]bool{}
	for _, b := range behind {
		if _, v, ok := mgr.Names.ParseIndex(b); ok {
			aliased[v] = true
		}
	}
	versions := make([]int, 0, len(byVersion))
	for v := range byVersion {
		versions = append(versions, v)
	}
	sort.Ints(versions)
	for _, v := range versions {
		n, err := countDocs(ctx, mgr, byVersion[v])
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "version %d: %d indices, %d documents, behind alias %s: %v\n", v, len(byVersion[v]), n, mgr.Names.Alias(), aliased[v])
	}
	if len(ps) > 0 {
		fmt.Fprintf(w, "caught up (lag <= %d): %v\n", rc.MaxLag, caught)
	}
	return nil
}

func countDocs(ctx context.Context, mgr *indices.Manager, idx []string) (int64, error) {
	var got struct {
		Count int64 `json:"count"`
	}
	if err := mgr.Client.Do(ctx, "GET", "/"+strings.Join(idx, ",")+"/_count", nil, &got); err != nil {
		return 0, fmt.Errorf("counting the documents of %v: %w", idx, err)
	}
	return got.Count, nil
}

// swap is `index swap`: wait for the replay to catch up (unless --force), then point the read
// alias at the replay's index version.
func swap(ctx context.Context, w io.Writer, log *slog.Logger, cfg Config, rc replayConfig, mgr *indices.Manager) error {
	ps, _ := parsePositions(rc.CaughtUp)
	if rc.Force {
		log.Warn("--force: swapping without checking that the replay caught up")
	} else if err := waitCaughtUp(ctx, log, cfg.Kafka.Lag, ps, rc.MaxLag, rc.Timeout, time.Second); err != nil {
		return err
	}
	if err := complete(ctx, mgr, rc); err != nil {
		return err
	}
	res, err := mgr.Swap(ctx, rc.ToVersion)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "alias %s now points at the %d indices of version %d (newly added %v; removed %v)\n",
		mgr.Names.Alias(), len(res.Indices), rc.ToVersion, res.Added, res.Removed)
	return err
}

// complete counts the new version's documents (after a refresh) and the read alias's, for
// checkComplete.
func complete(ctx context.Context, mgr *indices.Manager, rc replayConfig) error {
	byVersion, err := mgr.VersionIndices(ctx)
	if err != nil {
		return err
	}
	target := byVersion[rc.ToVersion]
	if len(target) == 0 {
		return nil // Swap says there is nothing to swap to
	}
	if err := mgr.Client.Do(ctx, "POST", "/"+strings.Join(target, ",")+"/_refresh", nil, nil); err != nil {
		return fmt.Errorf("refreshing version %d before counting it: %w", rc.ToVersion, err)
	}
	n, err := countDocs(ctx, mgr, target)
	if err != nil {
		return err
	}
	live, err := countDocs(ctx, mgr, []string{mgr.Names.Alias()})
	if err != nil {
		return err
	}
	return checkComplete(rc.ToVersion, n, live, mgr.Names.Alias(), rc.AllowFewer)
}

// checkComplete refuses a swap that would take documents away from readers: a replay reads
// only what articles.raw still keeps (its retention, 7 days in deploy/k8s, is usually shorter
// than the index history), and documents the new version dead-lettered are missing too; the
// swap points the alias at the new version only, so readers would lose the difference.
func checkComplete(version int, n, live int64, alias string, allow bool) error {
	if n >= live || allow {
		return nil
	}
	return fmt.Errorf("version %d holds %d documents, alias %s %d: swapping would hide %d from readers "+
		"(older articles than articles.raw keeps, or ones the new version dead-lettered; `index reindex` copies the old ones in first); "+
		"pass --allow-fewer to swap anyway", version, n, alias, live, live-n)
}

// checkWriterVersion refuses to start a live writer (not --staged) whose index version the read
// alias has left for a newer one: after `index swap --to-version N`, a writer of an older
// version would put new articles into indices readers no longer see.
func checkWriterVersion(ctx context.Context, cfg Config, mgr *indices.Manager) error {
	if cfg.Staged {
		return nil
	}
	behind, err := mgr.AliasIndices(ctx)
	if err != nil {
		return err
	}
	newest, ours := 0, false
	for _, b := range behind {
		_, v, ok := mgr.Names.ParseIndex(b)
		if !ok {
			continue
		}
		ours = ours || v == cfg.IndexVersion
		newest = max(newest, v)
	}
	if !ours && newest > cfg.IndexVersion {
		return fmt.Errorf("the read alias %s points at index version %d, newer than this writer's %d (after `index swap`): readers would not see what it writes; run it with --index-version %d (NEWSFLOW_INDEX_VERSION)",
			mgr.Names.Alias(), newest, cfg.IndexVersion, newest)
	}
	return nil
}
