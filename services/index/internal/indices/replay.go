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

// place decides, after a writer of version made sure index exists, whether index stays behind
// the read alias, where the template put it. It runs after every EnsureIndex, also for an index
// that existed (a writer that died between creating an index and placing it leaves it behind
// the read alias, empty; its successor places it).
//
//   - A staged writer takes index out of the read alias, behind its staging alias, while the
//     read alias holds other versions; once the alias holds only version (swapped), it leaves
//     new indices where the template puts them: it has become the live writer.
//   - A live writer whose version the read alias has left for a newer one (`index swap` ran
//     while it kept writing: checkWriterVersion only stops one at start-up) takes a new index out
//     too, and says so: readers would otherwise see its copies beside the new version's.
//
// The decision reads the alias, and Swap may move it between that read and the _aliases call
// that acts on it: a staged index taken out just after the swap, or one created just after the
// swap listed the version's indices. So both sides check again after they act, and put back
// what belongs behind the alias by then (Swap: the version's indices created meanwhile; place:
// its own index, if the alias now holds its version alone). Adding an alias twice is harmless,
// so whatever the interleaving, the index ends where the swap that finished last says.
func (m *Manager) place(ctx context.Context, index string, version int) error {
	vs, in, err := m.versionsBehind(ctx, index)
	if err != nil {
		return err
	}
	if !in {
		return nil // staged already
	}
	newer := false
	for v := range vs {
		newer = newer || v > version
	}
	switch {
	case m.Staged && othersThan(vs, version):
		// Kept out until the swap.
	case !m.Staged && newer && !vs[version]:
		m.Log.Error("the read alias has moved to a newer index version (index swap): keeping this writer's new index out of it; stop this writer, or restart it with the new --index-version",
			"index", index, "alias", m.Names.Alias(), "version", version)
	default:
		return nil
	}
	if m.hooks.beforeStage != nil {
		m.hooks.beforeStage()
	}
	actions := map[string]any{"actions": []any{
		map[string]any{"add": map[string]any{"index": index, "alias": m.StagingAlias(version)}},
		map[string]any{"remove": map[string]any{"index": index, "alias": m.Names.Alias()}},
	}}
	if err := m.Client.Do(ctx, http.MethodPost, "/_aliases", actions, nil); err != nil {
		if search.StatusOf(err) != http.StatusNotFound {
			return fmt.Errorf("staging %s: moving it from alias %s to %s: %w", index, m.Names.Alias(), m.StagingAlias(version), err)
		}
		// Another writer of the same version staged it between our read and our call.
	}
	if !m.Staged {
		return nil
	}
	m.Log.Info("staged index: kept out of the read alias until the swap", "index", index, "alias", m.Names.Alias(), "staging_alias", m.StagingAlias(version))
	// A swap to version between the read above and the call: the alias now holds version alone,
	// and index belongs with it.
	if vs, _, err = m.versionsBehind(ctx, index); err != nil {
		return err
	}
	if len(vs) == 0 || othersThan(vs, version) {
		return nil
	}
	if err := m.addToAlias(ctx, []string{index}); err != nil {
		return fmt.Errorf("putting %s back behind alias %s after a swap to version %d: %w", index, m.Names.Alias(), version, err)
	}
	m.Log.Info("a swap to this version ran while the index was being staged: put it behind the read alias", "index", index, "alias", m.Names.Alias())
	return nil
}

// versionsBehind returns the index versions of the indices behind the read alias other than
// index (-1 for a name ParseIndex does not read), and whether index itself is behind it.
func (m *Manager) versionsBehind(ctx context.Context, index string) (map[int]bool, bool, error) {
	behind, err := m.AliasIndices(ctx)
	if err != nil {
		return nil, false, err
	}
	vs, in := map[int]bool{}, false
	for _, name := range behind {
		if name == index {
			in = true
			continue
		}
		v := -1
		if _, pv, ok := m.Names.ParseIndex(name); ok {
			v = pv
		}
		vs[v] = true
	}
	return vs, in, nil
}

// othersThan reports whether vs holds a version other than version.
func othersThan(vs map[int]bool, version int) bool {
	for v := range vs {
		if v != version {
			return true
		}
	}
	return false
}

// addToAlias puts indices behind the read alias in one call.
func (m *Manager) addToAlias(ctx context.Context, indices []string) error {
	var actions []any
	for _, idx := range indices {
		actions = append(actions, map[string]any{"add": map[string]any{"index": idx, "alias": m.Names.Alias()}})
	}
	return m.Client.Do(ctx, http.MethodPost, "/_aliases", map[string]any{"actions": actions}, nil)
}

// missing returns the names of all that are not in listed.
func missing(all, listed []string) []string {
	in := map[string]bool{}
	for _, n := range listed {
		in[n] = true
	}
	var out []string
	for _, n := range all {
		if !in[n] {
			out = append(out, n)
		}
	}
	return out
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
// them once the new version is trusted); the writers of the old version should be stopped after
// the swap: what they write is no longer seen (a new month's index of theirs is kept out of the
// alias by place).
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
	if m.hooks.beforeSwap != nil {
		m.hooks.beforeSwap()
	}
	if err := m.Client.Do(ctx, http.MethodPost, "/_aliases", map[string]any{"actions": actions}, nil); err != nil {
		return SwapResult{}, fmt.Errorf("swapping alias %s to version %d: %w", m.Names.Alias(), version, err)
	}
	// An index of version created after the listing above (a staged writer's new month) was
	// staged while the alias still held the old version: put it behind the alias too (place
	// checks the other side of this race).
	byVersion, err = m.VersionIndices(ctx)
	if err != nil {
		return SwapResult{}, err
	}
	if late := missing(byVersion[version], target); len(late) > 0 {
		if err := m.addToAlias(ctx, late); err != nil {
			return SwapResult{}, fmt.Errorf("adding %v, created during the swap, to alias %s: %w", late, m.Names.Alias(), err)
		}
		res.Indices, res.Added = append(res.Indices, late...), append(res.Added, late...)
		sort.Strings(res.Indices)
	}
	m.Log.Info("swapped the read alias", "alias", m.Names.Alias(), "version", version, "added", len(res.Added), "removed", len(res.Removed))
	return res, nil
}
