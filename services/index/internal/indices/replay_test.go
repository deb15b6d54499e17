package indices_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/newsflow/newsflow/pkg/testenv"
	"github.com/newsflow/newsflow/services/index/internal/indices"
	"github.com/newsflow/newsflow/services/index/internal/schema"
)

// TestStagedWriterAndSwap is the index side of a replay on each engine: a staged writer's
// indices stay out of the read alias (behind the staging alias instead), also one a crashed
// writer left behind the alias; Swap points the alias at the new version alone, atomically; and
// afterwards the staged writer's new indices join the alias, as a live writer's must.
func TestStagedWriterAndSwap(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng testenv.Engine) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		live, c := manager(t, eng)
		old, next := schema.Version, schema.Version+1
		now := time.Date(2019, 8, 15, 0, 0, 0, 0, time.UTC)
		if _, err := live.Setup(ctx, schema.Version, now); err != nil {
			t.Fatal(err)
		}
		write(t, live, old, "a1", "a2", "sep-a3")

		replay := *live
		replay.IndexVersion, replay.Staged = next, true
		// A writer that died between creating its index and staging it left it behind the
		// alias (created by a manager that does not stage); the staged writer takes it out.
		leaked := live.Names.Index(now, next)
		if err := live.EnsureIndex(ctx, leaked); err != nil {
			t.Fatal(err)
		}
		if _, err := replay.Setup(ctx, schema.Version, now); err != nil {
			t.Fatal(err)
		}
		write(t, &replay, next, "a1", "a2", "sep-a3", "b4")
		if n := count(t, c, live.Names.Alias()); n != 3 {
			t.Fatalf("read alias holds %d documents before the swap, want the live version's 3", n)
		}
		if n := count(t, c, replay.StagingAlias(next)); n != 4 {
			t.Fatalf("staging alias %s holds %d documents, want 4", replay.StagingAlias(next), n)
		}

		res, err := live.Swap(ctx, next)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Indices) != 2 || len(res.Removed) != 2 {
			t.Fatalf("swap: %+v, want the 2 indices of version %d in, the 2 of version %d out", res, next, old)
		}
		behind, err := live.AliasIndices(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range behind {
			if _, v, _ := live.Names.ParseIndex(b); v != next {
				t.Fatalf("after the swap the alias holds %s, want only version %d: %v", b, next, behind)
			}
		}
		if n := count(t, c, live.Names.Alias()); n != 4 {
			t.Fatalf("read alias holds %d documents after the swap, want 4", n)
		}
		// Live now: a new month's index of the (formerly) staged writer joins the alias.
		later := live.Names.Index(now.AddDate(0, 3, 0), next)
		if err := replay.EnsureIndex(ctx, later); err != nil {
			t.Fatal(err)
		}
		behind, _ = live.AliasIndices(ctx)
		found := false
		for _, b := range behind {
			found = found || b == later
		}
		if !found {
			t.Fatalf("after the swap, new index %s is not behind the alias (%v): a staged writer must stop staging once swapped", later, behind)
		}
		if _, err := live.Swap(ctx, next+5); err == nil {
			t.Fatal("swap to a version without indices: want an error")
		}
	})
}

// TestSwapRaces puts the rival step inside each race between staging and swapping, on each
// engine, and wants every index where the last swap says: a staged writer's index created after
// the swap listed its version's indices (staged while the alias still held the old version)
// ends behind the alias; one whose staging read the alias just before a swap (and then took a
// now-live index out) is put back; and a live writer of the old version that keeps running
// after the swap keeps its new month's index out of the alias.
func TestSwapRaces(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng testenv.Engine) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		live, _ := manager(t, eng)
		old, next := schema.Version, schema.Version+1
		now := time.Date(2019, 8, 15, 0, 0, 0, 0, time.UTC)
		if _, err := live.Setup(ctx, schema.Version, now); err != nil {
			t.Fatal(err)
		}
		write(t, live, old, "a1")
		replay := *live
		replay.IndexVersion, replay.Staged = next, true
		if _, err := replay.Setup(ctx, schema.Version, now); err != nil {
			t.Fatal(err)
		}
		behindAlias := func(index string) bool {
			t.Helper()
			behind, err := live.AliasIndices(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return slices.Contains(behind, index)
		}

		// 1. The staged writer creates a new month's index between the swap's listing and its
		// _aliases call.
		late := live.Names.Index(now.AddDate(0, 1, 0), next)
		swapper := *live
		indices.SetRaceHooks(&swapper, nil, func() {
			if err := replay.EnsureIndex(ctx, late); err != nil {
				t.Error(err)
			}
			if behindAlias(late) {
				t.Error("the rival step did not stage the index: the race was not reproduced")
			}
		})
		res, err := swapper.Swap(ctx, next)
		if err != nil {
			t.Fatal(err)
		}
		if !behindAlias(late) || !slices.Contains(res.Added, late) {
			t.Fatalf("index %s, created while the swap ran, is not behind the alias after it (swap %+v)", late, res)
		}

		// 2. Swap back and forth around a staged writer's read of the alias: its staging call
		// comes after the swap made its version live.
		if _, err := live.Swap(ctx, old); err != nil {
			t.Fatal(err)
		}
		later := live.Names.Index(now.AddDate(0, 2, 0), next)
		racing := replay
		fired := false
		indices.SetRaceHooks(&racing, func() {
			if fired {
				return
			}
			fired = true
			if _, err := live.Swap(ctx, next); err != nil {
				t.Error(err)
			}
		}, nil)
		if err := racing.EnsureIndex(ctx, later); err != nil {
			t.Fatal(err)
		}
		if !fired {
			t.Fatal("the staging step never ran: the race was not reproduced")
		}
		if !behindAlias(later) {
			t.Fatalf("index %s, staged just after a swap to its version, is not behind the alias", later)
		}

		// 3. The old version's live writer, still running after the swap, starts a new month.
		stale := live.Names.Index(now.AddDate(0, 3, 0), old)
		if err := live.EnsureIndex(ctx, stale); err != nil {
			t.Fatal(err)
		}
		if behindAlias(stale) {
			t.Fatalf("index %s of version %d joined the alias after the swap to version %d: readers see its copies twice", stale, old, next)
		}
	})
}
