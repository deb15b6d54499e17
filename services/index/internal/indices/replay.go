package indices

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strconv"

	"github.com/newsflow/newsflow/pkg/search"
)

// Replay into a new index version while the live pipeline keeps writing the old one
// (services/index/README.md, Replay; docs/REPLAY.md).
//
// The template attaches the read alias to every index of the prefix when it is created, so a
// replay's indices would join the alias at once and readers would see every article twice (once
// per version) until the swap. A staged writer (Manager.Staged, `index serve --staged`) therefore
// takes each index it creates out of the read alias, and puts it behind the version's staging
// alias (StagingAlias), before it writes any document into it: the index was empty while it was
// behind the read alias. Swap then moves the read alias to that version in one atomic _aliases
// call. Once the read alias holds only the staged version's indices, the staged writer leaves new
// indices where the template puts them: it has become the live writer, and a new month's index
// must join the alias.

// StagingAlias names the alias behind which a staged writer keeps version's indices until the
// swap, e.g. articles-replay-v3: readers can look at the replay before it goes live.
func (m *Manager) StagingAlias(version int) string {
	return m.Names.Alias() + "-replay-v" + strconv.Itoa(version)
}

// stage keeps index (of version) out of the read alias unless the alias has been swapped to
// version already. It runs after every EnsureIndex of a staged writer, also for an index that
// existed (a writer that died between creating an index and staging it leaves it behind the
// read alias, empty; its successor stages it).
func (m *Manager) stage(ctx context.Context, index string, version int) error {
	behind, err := m.AliasIndices(ctx)
	if err != nil {
		return err
	}
	in, others := false, false
	for _, name := range behind {
		if name == index {
			in = true
			continue
		}
		if _, v, ok := m.Names.ParseIndex(name); !ok || v != version {
			others = true
		}
	}
	if !in || !others {
		// Not behind the read alias (staged already), or the alias holds nothing but this
		// version: swapped, so new indices join it as the template says.
		return nil
	}
	actions := map[string]any{"actions": []any{
		map[string]any{"add": map[string]any{"index": index, "alias": m.StagingAlias(version)}},
		map[string]any{"remove": map[string]any{"index": index, "alias": m.Names.Alias()}},
	}}
	if err := m.Client.Do(ctx, http.MethodPost, "/_aliases", actions, nil); err != nil {
		return fmt.Errorf("staging %s: moving it from alias %s to %s: %w", index, m.Names.Alias(), m.StagingAlias(version), err)
	}
	m.Log.Info("staged index: kept out of the read alias until the swap", "index", index, "alias", m.Names.Alias(), "staging_alias", m.StagingAlias(version))
	return nil
}

// VersionIndices lists the prefix's indices by index version (every index the prefix's pattern
// matches and ParseIndex reads), sorted, whether or not they are behind the read alias.
func (m *Manager) VersionIndices(ctx context.Context) (map[int][]string, error) {
	var got map[string]any
	if err := m.Client.Do(ctx, http.MethodGet, "/"+m.Names.Pattern()+"/_alias", nil, &got); err != nil {
		if search.StatusOf(err) == http.StatusNotFound {
			return map[int][]string{}, nil
		}
		return nil, fmt.Errorf("listing indices %s: %w", m.Names.Pattern(), err)
	}
	out := map[int][]string{}
	for name := range got {
		if _, v, ok := m.Names.ParseIndex(name); ok {
			out[v] = append(out[v], name)
		}
	}
	for _, names := range out {
		sort.Strings(names)
	}
	return out, nil
}

// SwapResult says what Swap moved.
type SwapResult struct {
	Indices []string // every index behind the read alias after the swap
	Added   []string // indices of the new version now behind the read alias
	Removed []string // indices of other versions taken out of it
}

// Swap points the read alias at every index of version and at nothing else, in one atomic
// _aliases call, so that readers switch from one complete version to the other with no moment
// of seeing both or neither. The new indices are refreshed first, so that everything the replay
// wrote before the swap is searchable the moment readers see it. The old indices are kept (drop
// them once the new version is trusted); the writers of the old version must be stopped after
// the swap, or a new month's index of theirs would join the alias through the template.
func (m *Manager) Swap(ctx context.Context, version int) (SwapResult, error) {
	byVersion, err := m.VersionIndices(ctx)
	if err != nil {
		return SwapResult{}, err
	}
	target := byVersion[version]
	if len(target) == 0 {
		return SwapResult{}, fmt.Errorf("no index of version %d matches %s: is the replay's `index serve --staged --index-version %d` running?", version, m.Names.Pattern(), version)
	}
	behind, err := m.AliasIndices(ctx)
	if err != nil {
		return SwapResult{}, err
	}
	isBehind := map[string]bool{}
	for _, b := range behind {
		isBehind[b] = true
	}
	res := SwapResult{Indices: target}
	var actions []any
	for _, idx := range target {
		if !isBehind[idx] {
			res.Added = append(res.Added, idx)
		}
		actions = append(actions, map[string]any{"add": map[string]any{"index": idx, "alias": m.Names.Alias()}})
	}
	for _, idx := range behind {
		if _, v, ok := m.Names.ParseIndex(idx); ok && v == version {
			continue
		}
		res.Removed = append(res.Removed, idx)
		actions = append(actions, map[string]any{"remove": map[string]any{"index": idx, "alias": m.Names.Alias()}})
	}
	for _, idx := range target {
		if err := m.Client.Do(ctx, http.MethodPost, "/"+idx+"/_refresh", nil, nil); err != nil {
			return SwapResult{}, fmt.Errorf("refreshing %s before the swap: %w", idx, err)
		}
	}
	if err := m.Client.Do(ctx, http.MethodPost, "/_aliases", map[string]any{"actions": actions}, nil); err != nil {
		return SwapResult{}, fmt.Errorf("swapping alias %s to version %d: %w", m.Names.Alias(), version, err)
	}
	m.Log.Info("swapped the read alias", "alias", m.Names.Alias(), "version", version, "added", len(res.Added), "removed", len(res.Removed))
	return res, nil
}
