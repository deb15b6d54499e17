// Package indices talks to the search engine about indices: it installs the versioned index
// template, creates monthly and yearly indices, posts _bulk bodies, and rolls a template change out by
// copying every older index into a new version and swapping the read alias (`index reindex`).
// It uses only REST calls Elasticsearch 8 and OpenSearch 2 share.
package indices

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/newsflow/newsflow/pkg/search"
	"github.com/newsflow/newsflow/services/index/internal/bulk"
	"github.com/newsflow/newsflow/services/index/internal/schema"
)

// Manager manages one prefix's indices on one engine.
type Manager struct {
	Client   *search.Client
	Names    schema.Names
	Settings schema.Settings
	Log      *slog.Logger
	// IndexVersion is the version suffix (-vN) of the indices this writer creates; 0 means the
	// schema version given to Setup. A replay into a new index version with an unchanged
	// mapping sets it (replay.go).
	IndexVersion int
	// Staged keeps the indices this writer creates out of the read alias until Swap points the
	// alias at their version (replay.go).
	Staged bool

	hooks hooks // tests only: run between a decision and the call that acts on it
}

// hooks let tests run a rival step inside the races place and Swap handle (export_test.go).
type hooks struct {
	beforeStage, beforeSwap func()
}

// Bulk posts body to _bulk and returns the status and the answer, trimmed by filter_path to what
// the item check needs. err is a transport failure; HTTP errors come back as a status.
func (m *Manager) Bulk(ctx context.Context, body []byte) (int, []byte, error) {
	res, err := esapi.BulkRequest{
		Body:       bytes.NewReader(body),
		FilterPath: []string{"errors", "items.*.status", "items.*.error"},
	}.Do(ctx, m.Client)
	if err != nil {
		return 0, nil, fmt.Errorf("POST _bulk: %w", err)
	}
	defer res.Body.Close()
	answer, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("POST _bulk: reading answer: %w", err)
	}
	return res.StatusCode, answer, nil
}

// MultiSearch posts body (NDJSON, each header naming its index) to _msearch and returns the
// answer; the near-duplicate and story lookup (internal/stories) makes one per batch. A failed
// search inside the answer is the caller's to read; err is a transport failure or an HTTP error.
func (m *Manager) MultiSearch(ctx context.Context, body []byte) ([]byte, error) {
	res, err := esapi.MsearchRequest{Body: bytes.NewReader(body),
		FilterPath: []string{"responses.status", "responses.error", "responses.hits.hits._source"}}.Do(ctx, m.Client)
	if err != nil {
		return nil, fmt.Errorf("POST _msearch: %w", err)
	}
	defer res.Body.Close()
	answer, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, fmt.Errorf("POST _msearch: reading answer: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		return nil, &search.HTTPError{Method: http.MethodPost, Path: "/_msearch", Status: res.StatusCode, Body: search.Truncate(string(answer), 500)}
	}
	return answer, nil
}

// EnsureIndex creates index unless it exists; the template gives it its mapping and the alias.
// place (replay.go) then decides whether it stays behind the read alias, before anything is
// written into it: a staged writer's does not until the swap.
func (m *Manager) EnsureIndex(ctx context.Context, index string) error {
	err := m.Client.Do(ctx, http.MethodPut, "/"+index, nil, nil)
	if err == nil {
		m.Log.Info("created index", "index", index)
	} else if search.StatusOf(err) != http.StatusBadRequest || !strings.Contains(err.Error(), "resource_already_exists_exception") {
		return err
	}
	if _, v, ok := m.Names.ParseIndex(index); ok {
		return m.place(ctx, index, v)
	}
	return nil
}

func errType(he *search.HTTPError) string {
	t, _ := bulk.ParseError(he.Body)
	return t
}

// SetupResult says what Setup found and did.
type SetupResult struct {
	// Installed is the template version now in place (ours, or a newer one left untouched).
	Installed int
	// Skipped is true when a newer template was already installed (an older binary must not
	// downgrade what a newer one rolled out).
	Skipped bool
}

// Setup installs the index template for version and creates the current month's index so that
// the read alias exists from the start. It is idempotent and runs at every serve start-up.
func (m *Manager) Setup(ctx context.Context, version int, now time.Time) (SetupResult, error) {
	name := m.Names.TemplateName()
	var got struct {
		IndexTemplates []struct {
			Name          string `json:"name"`
			IndexTemplate struct {
				Version int `json:"version"`
			} `json:"index_template"`
		} `json:"index_templates"`
	}
	err := m.Client.Do(ctx, http.MethodGet, "/_index_template/"+name, nil, &got)
	if err != nil && search.StatusOf(err) != http.StatusNotFound {
		return SetupResult{}, fmt.Errorf("reading index template %s: %w", name, err)
	}
	for _, t := range got.IndexTemplates {
		if t.Name == name && t.IndexTemplate.Version > version {
			m.Log.Warn("a newer index template is installed; leaving it", "template", name, "installed", t.IndexTemplate.Version, "ours", version)
			return SetupResult{Installed: t.IndexTemplate.Version, Skipped: true}, nil
		}
	}
	if err := m.Client.Do(ctx, http.MethodPut, "/_index_template/"+name, m.Names.Template(version, m.Settings), nil); err != nil {
		return SetupResult{}, fmt.Errorf("installing index template %s: %w", name, err)
	}
	indexVersion := version
	if m.IndexVersion > 0 {
		indexVersion = m.IndexVersion
	}
	if err := m.EnsureIndex(ctx, m.Names.Index(now, indexVersion)); err != nil {
		// A refusal (the shard limit, say) must not keep the stage from starting: its
		// documents are then dead-lettered one by one with the reason, and the others flow.
		var he *search.HTTPError
		if !errors.As(err, &he) || bulk.ClassifyIndexCreation(he.Status, errType(he)) != bulk.Reject {
			return SetupResult{}, fmt.Errorf("creating the current month's index: %w", err)
		}
		m.Log.Warn("the engine refuses to create the current month's index; starting without it", "error", err)
	}
	m.Log.Info("index template installed", "template", name, "version", version, "pattern", m.Names.Pattern(), "alias", m.Names.Alias())
	return SetupResult{Installed: version}, nil
}

// AliasIndices lists the concrete indices behind the read alias, sorted.
func (m *Manager) AliasIndices(ctx context.Context) ([]string, error) {
	var got map[string]any
	if err := m.Client.Do(ctx, http.MethodGet, "/_alias/"+m.Names.Alias(), nil, &got); err != nil {
		if search.StatusOf(err) == http.StatusNotFound {
			return nil, nil
		}
		return nil, fmt.Errorf("reading alias %s: %w", m.Names.Alias(), err)
	}
	out := make([]string, 0, len(got))
	for k := range got {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, nil
}

// Move is one index copied to its new version by Reindex.
type Move struct {
	From, To string
	Copied   int64
}

// Reindex rolls version out without downtime: it installs the template, then, for every index
// behind the read alias with an older schema version, creates the index the new version's
// writers use for that period's documents, copies the documents over keeping their versions
// (version_type external, so a document the new writers already wrote wins over an older copy),
// and swaps the alias from the old index to the new one in one atomic _aliases call. Documents
// copied from schema version 1 carry the engine's small internal versions, not ingested_at, so a
// stale record replayed after the copy can still overwrite them; from version 2 on, a later
// write of an older version is refused after the copy too. Readers see every document throughout. Old indices are deleted only
// when deleteOld is set.
//
// Roll out in this order: deploy the new binary (its writers write the new version's indices,
// which join the alias through the template), then run `index reindex`.
func (m *Manager) Reindex(ctx context.Context, version int, deleteOld bool, now time.Time) ([]Move, error) {
	res, err := m.Setup(ctx, version, now)
	if err != nil {
		return nil, err
	}
	if res.Skipped {
		return nil, fmt.Errorf("template version %d is installed, newer than this build's %d; refusing to reindex", res.Installed, version)
	}
	current, err := m.AliasIndices(ctx)
	if err != nil {
		return nil, err
	}
	var moves []Move
	for _, old := range current {
		period, v, ok := m.Names.ParseIndex(old)
		if !ok || v >= version {
			continue
		}
		// The copy goes where this version's writers put the same documents (Names.Index of the
		// period's start: old monthly indices before --monthly-from merge into one yearly
		// index), so that a document never sits in two indices behind the alias. Overlaps are
		// settled by version_type external and conflicts: proceed: the newer copy stays.
		mv := Move{From: old, To: m.Names.Index(period.Start, version)}
		if err := m.EnsureIndex(ctx, mv.To); err != nil {
			return moves, err
		}
		n, err := m.copyIndex(ctx, mv.From, mv.To)
		if err != nil {
			return moves, fmt.Errorf("copying %s to %s: %w", mv.From, mv.To, err)
		}
		mv.Copied = n
		actions := map[string]any{"actions": []any{
			map[string]any{"add": map[string]any{"index": mv.To, "alias": m.Names.Alias()}},
			map[string]any{"remove": map[string]any{"index": mv.From, "alias": m.Names.Alias()}},
		}}
		if err := m.Client.Do(ctx, http.MethodPost, "/_aliases", actions, nil); err != nil {
			return moves, fmt.Errorf("swapping alias %s from %s to %s: %w", m.Names.Alias(), mv.From, mv.To, err)
		}
		m.Log.Info("reindexed", "from", mv.From, "to", mv.To, "documents", n)
		if deleteOld {
			if err := m.Client.Do(ctx, http.MethodDelete, "/"+mv.From, nil, nil); err != nil {
				return moves, fmt.Errorf("deleting %s: %w", mv.From, err)
			}
		}
		moves = append(moves, mv)
	}
	return moves, nil
}

// copyIndex runs _reindex as a task and polls it, so that a large index is not bound by an HTTP
// timeout.
func (m *Manager) copyIndex(ctx context.Context, from, to string) (int64, error) {
	// _reindex copies what a search sees: without a refresh, documents written in the last
	// refresh interval would be left out, and --delete-old would then delete them.
	if err := m.Client.Do(ctx, http.MethodPost, "/"+from+"/_refresh", nil, nil); err != nil {
		return 0, fmt.Errorf("refreshing %s before copying it: %w", from, err)
	}
	body := map[string]any{
		"conflicts": "proceed",
		"source":    map[string]any{"index": from},
		"dest":      map[string]any{"index": to, "version_type": "external"},
	}
	var started struct {
		Task string `json:"task"`
	}
	if err := m.Client.Do(ctx, http.MethodPost, "/_reindex?wait_for_completion=false", body, &started); err != nil {
		return 0, err
	}
	if started.Task == "" {
		return 0, errors.New("_reindex started no task")
	}
	for {
		var task struct {
			Completed bool `json:"completed"`
			Error     any  `json:"error"`
			Response  struct {
				Total    int64 `json:"total"`
				Created  int64 `json:"created"`
				Failures []any `json:"failures"`
			} `json:"response"`
		}
		if err := m.Client.Do(ctx, http.MethodGet, "/_tasks/"+started.Task, nil, &task); err != nil {
			return 0, fmt.Errorf("polling task %s: %w", started.Task, err)
		}
		if task.Completed {
			if task.Error != nil || len(task.Response.Failures) > 0 {
				return 0, fmt.Errorf("task %s failed: error %v, failures %v", started.Task, task.Error, task.Response.Failures)
			}
			if err := m.Client.Do(ctx, http.MethodPost, "/"+to+"/_refresh", nil, nil); err != nil {
				return 0, err
			}
			return task.Response.Total, nil
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("waiting for task %s: %w", started.Task, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
