package indices_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/newsflow/newsflow/pkg/search"
	"github.com/newsflow/newsflow/pkg/testenv"
	"github.com/newsflow/newsflow/services/index/internal/bulk"
	"github.com/newsflow/newsflow/services/index/internal/indices"
	"github.com/newsflow/newsflow/services/index/internal/schema"
)

// forEachEngine runs test once per search engine of the test stack (OpenSearch 2 and
// Elasticsearch 8 under `make test`), as parallel subtests named after the engine.
func forEachEngine(t *testing.T, test func(t *testing.T, eng testenv.Engine)) {
	for _, eng := range testenv.SearchEngines(t) {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			test(t, eng)
		})
	}
}

func manager(t *testing.T, eng testenv.Engine) (*indices.Manager, *search.Client) {
	c, err := search.New(eng.Config)
	if err != nil {
		t.Fatal(err)
	}
	settings := schema.Settings{Shards: 1, Replicas: 0, RefreshInterval: "1s"}
	if eng.Name == "elasticsearch" {
		settings.TextAnalyzer = "standard" // the integ-test build has no analysis-common
	}
	n := schema.Names{Prefix: testenv.Name(t, "nfidx")}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = c.Do(ctx, http.MethodDelete, "/"+n.Pattern(), nil, nil)
		_ = c.Do(ctx, http.MethodDelete, "/_index_template/"+n.TemplateName(), nil, nil)
	})
	return &indices.Manager{Client: c, Names: n, Settings: settings,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, c
}

// servesReindex tells whether the engine has a _reindex endpoint: a request without a body is
// refused as invalid where it exists, and as an unknown endpoint (405, or 400 "no handler found")
// where it does not.
func servesReindex(ctx context.Context, t *testing.T, c *search.Client) bool {
	t.Helper()
	err := c.Do(ctx, http.MethodPost, "/_reindex", map[string]any{}, nil)
	if err == nil {
		t.Fatal("POST /_reindex with an empty body was accepted")
	}
	st := search.StatusOf(err)
	return !(st == http.StatusMethodNotAllowed || st == http.StatusNotFound || strings.Contains(err.Error(), "no handler found"))
}

func count(t *testing.T, c *search.Client, target string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = c.Do(ctx, http.MethodPost, "/"+target+"/_refresh", nil, nil)
	var res struct {
		Count int `json:"count"`
	}
	if err := c.Do(ctx, http.MethodGet, "/"+target+"/_count", nil, &res); err != nil {
		t.Fatal(err)
	}
	return res.Count
}

func write(t *testing.T, m *indices.Manager, version int, ids ...string) {
	t.Helper()
	var ops []bulk.Op
	for _, id := range ids {
		pub := time.Date(2019, 8, 1, 0, 0, 0, 0, time.UTC)
		if strings.HasPrefix(id, "sep") {
			pub = pub.AddDate(0, 1, 0)
		}
		src := fmt.Sprintf(`{"id":%q,"title":"t %s","body":"b","published_at":%q,"indexed_at":%q,"entities":{"person":["P"]}}`,
			id, id, pub.Format(time.RFC3339), pub.Format(time.RFC3339))
		ops = append(ops, bulk.Op{Index: m.Names.Index(pub, version), ID: id, Source: []byte(src)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, o := range ops {
		if err := m.EnsureIndex(ctx, o.Index); err != nil {
			t.Fatal(err)
		}
	}
	status, answer, err := m.Bulk(ctx, bulk.Body(ops))
	if err != nil || status != 200 {
		t.Fatalf("bulk: %d %v %s", status, err, answer)
	}
	res, err := bulk.Parse(answer, len(ops))
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Class != bulk.OK {
			t.Fatalf("item %d: %+v", i, r)
		}
	}
}

// TestSetupIdempotentAndNoDowngrade: setup twice is fine, creates the alias, and an older build
// leaves a newer template alone.
func TestSetupIdempotentAndNoDowngrade(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, eng testenv.Engine) {
		m, c := manager(t, eng)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		now := time.Now()
		for i := 0; i < 2; i++ {
			res, err := m.Setup(ctx, 1, now)
			if err != nil || res.Installed != 1 || res.Skipped {
				t.Fatalf("setup %d: %+v %v", i+1, res, err)
			}
		}
		got, err := m.AliasIndices(ctx)
		if err != nil || len(got) != 1 || got[0] != m.Names.Index(now, 1) {
			t.Fatalf("alias indices %v %v, want the current month's", got, err)
		}
		if _, err := m.Setup(ctx, 2, now); err != nil {
			t.Fatal(err)
		}
		res, err := m.Setup(ctx, 1, now)
		if err != nil || !res.Skipped || res.Installed != 2 {
			t.Fatalf("older setup after newer: %+v %v, want skipped with 2 installed", res, err)
		}
		// A strict mapping rejects unknown fields.
		status, answer, err := m.Bulk(ctx, bulk.Body([]bulk.Op{{Index: m.Names.Index(now, 1), ID: "x", Source: []byte(`{"id":"x","surprise":1}`)}}))
		if err != nil || status != 200 {
			t.Fatal(status, err)
		}
		r, _ := bulk.Parse(answer, 1)
		if r[0].Class != bulk.Reject || !strings.Contains(r[0].Reason, "strict_dynamic_mapping_exception") {
			t.Fatalf("unknown field: %+v", r[0])
		}
		_ = c
	})
}

// TestReindexSwapsAlias: version 1 indices are copied into version 2 and the alias moved; the
// documents a version-2 writer wrote meanwhile win; readers see every document once.
func TestReindexSwapsAlias(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, eng testenv.Engine) {
		m, c := manager(t, eng)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if !servesReindex(ctx, t, c) {
			t.Skipf("%s serves no _reindex: Elasticsearch's integ-test build lacks the reindex module, so `index reindex` is tested on OpenSearch only", eng.Name)
		}
		now := time.Date(2019, 9, 15, 0, 0, 0, 0, time.UTC)
		if _, err := m.Setup(ctx, 1, now); err != nil {
			t.Fatal(err)
		}
		write(t, m, 1, "a1", "a2", "a3", "sep1", "sep2")
		if n := count(t, c, m.Names.Alias()); n != 5 {
			t.Fatalf("before: %d documents, want 5", n)
		}
		// A new build (version 2) is deployed first; it writes one new and one updated document.
		if _, err := m.Setup(ctx, 2, now); err != nil {
			t.Fatal(err)
		}
		write(t, m, 2, "a3", "a4")
		if n := count(t, c, m.Names.Alias()); n != 7 {
			t.Fatalf("before the reindex: %d documents, want 7 (a3 in both versions)", n)
		}

		// Readers keep seeing every document while the reindex runs (no downtime).
		stop := make(chan struct{})
		minSeen := make(chan int, 1)
		go func() {
			lowest := 1 << 30
			for {
				select {
				case <-stop:
					minSeen <- lowest
					return
				default:
				}
				var res struct {
					Count int `json:"count"`
				}
				qctx, qcancel := context.WithTimeout(ctx, 5*time.Second)
				if err := c.Do(qctx, http.MethodGet, "/"+m.Names.Alias()+"/_count", nil, &res); err == nil {
					lowest = min(lowest, res.Count)
				} else {
					lowest = -1 // the alias was unreadable
				}
				qcancel()
			}
		}()
		moves, err := m.Reindex(ctx, 2, true, now)
		close(stop)
		if lowest := <-minSeen; lowest < 6 {
			t.Errorf("during the reindex a reader saw %d documents, want at least 6", lowest)
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(moves) != 2 {
			t.Fatalf("moves %+v, want the August and September indices", moves)
		}
		got, err := m.AliasIndices(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, idx := range got {
			if _, v, ok := m.Names.ParseIndex(idx); !ok || v != 2 {
				t.Errorf("alias still includes %s", idx)
			}
		}
		if n := count(t, c, m.Names.Alias()); n != 6 {
			t.Fatalf("after: %d documents, want 6 (a1-a4, sep1, sep2)", n)
		}
		// Running it again finds nothing to do.
		if moves, err := m.Reindex(ctx, 2, true, now); err != nil || len(moves) != 0 {
			t.Fatalf("second reindex: %+v %v", moves, err)
		}
	})
}

// TestNewerVersionWins: documents are written with external versions (ingested_at in
// microseconds), so an older version written after a newer one is refused with a 409 the sink
// counts as superseded, and the newer stays; the same version again (a redelivery) is refused
// alike; a newer one replaces it.
func TestNewerVersionWins(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, eng testenv.Engine) {
		m, c := manager(t, eng)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		pub := time.Date(2019, 8, 21, 8, 0, 0, 0, time.UTC)
		idx := m.Names.Index(pub, 1)
		if _, err := m.Setup(ctx, 1, pub); err != nil {
			t.Fatal(err)
		}
		t2 := time.Date(2026, 12, 1, 10, 0, 0, 123456000, time.UTC)
		write := func(ingested time.Time, title string) bulk.Result {
			t.Helper()
			src := fmt.Sprintf(`{"id":"v","title":%q,"body":"b","published_at":%q,"ingested_at":%q,"indexed_at":%q}`,
				title, pub.Format(time.RFC3339), ingested.Format(time.RFC3339Nano), pub.Format(time.RFC3339))
			op := bulk.Op{Index: idx, ID: "v", Version: ingested.UnixMicro(), Source: []byte(src)}
			status, answer, err := m.Bulk(ctx, bulk.Body([]bulk.Op{op}))
			if err != nil || status != 200 {
				t.Fatalf("bulk: %d %v %s", status, err, answer)
			}
			res, err := bulk.Parse(answer, 1)
			if err != nil {
				t.Fatal(err)
			}
			return res[0]
		}
		current := func() (string, int64) {
			var doc struct {
				Version int64 `json:"_version"`
				Source  struct {
					Title string `json:"title"`
				} `json:"_source"`
			}
			if err := c.Do(ctx, http.MethodGet, "/"+idx+"/_doc/v", nil, &doc); err != nil {
				t.Fatal(err)
			}
			return doc.Source.Title, doc.Version
		}
		if r := write(t2, "newer"); r.Class != bulk.OK {
			t.Fatalf("first write: %+v", r)
		}
		older := write(t2.Add(-time.Microsecond), "older")
		if older.Class != bulk.Superseded || older.Status != 409 || older.Type != "version_conflict_engine_exception" {
			t.Fatalf("older version: %+v, want a 409 version conflict judged superseded", older)
		}
		if r := write(t2, "newer, redelivered"); r.Class != bulk.Superseded {
			t.Fatalf("same version again: %+v, want superseded", r)
		}
		if title, v := current(); title != "newer" || v != t2.UnixMicro() {
			t.Fatalf("document %q version %d, want the newer one (version %d)", title, v, t2.UnixMicro())
		}
		if r := write(t2.Add(time.Second), "newest"); r.Class != bulk.OK {
			t.Fatalf("newer version: %+v", r)
		}
		if title, _ := current(); title != "newest" {
			t.Fatalf("document %q, want newest", title)
		}
	})
}

// TestReindexMergesMonthsIntoYears: monthly version-1 indices of years before --monthly-from are
// copied into the yearly index that version 2's writers use for the same documents, so that no
// document ends up in two indices behind the alias.
func TestReindexMergesMonthsIntoYears(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, eng testenv.Engine) {
		m1, c := manager(t, eng) // MonthlyFrom 0: version 1 wrote one index per month
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if !servesReindex(ctx, t, c) {
			t.Skipf("%s serves no _reindex: Elasticsearch's integ-test build lacks the reindex module", eng.Name)
		}
		now := time.Date(2019, 9, 15, 0, 0, 0, 0, time.UTC)
		if _, err := m1.Setup(ctx, 1, now); err != nil {
			t.Fatal(err)
		}
		write(t, m1, 1, "a1", "a2", "sep1")
		m2 := *m1
		m2.Names.MonthlyFrom = 2020
		if _, err := m2.Setup(ctx, 2, now); err != nil {
			t.Fatal(err)
		}
		write(t, &m2, 2, "a2", "a3") // a2 again, now where version 2 puts it: the 2019 index
		moves, err := m2.Reindex(ctx, 2, true, now)
		if err != nil {
			t.Fatal(err)
		}
		yearly := m2.Names.Index(now, 2)
		if len(moves) != 2 {
			t.Fatalf("moves %+v, want the August and September indices", moves)
		}
		for _, mv := range moves {
			if mv.To != yearly {
				t.Errorf("%s copied to %s, want %s (where version 2 writes its documents)", mv.From, mv.To, yearly)
			}
		}
		if n := count(t, c, m2.Names.Alias()); n != 4 {
			t.Fatalf("after: %d documents behind the alias, want 4 (a1, a2, a3, sep1 once each)", n)
		}
	})
}
