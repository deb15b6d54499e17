// Package stories decides, when a batch is about to be written, which of its articles nearly
// repeat an earlier one (duplicate_of) and which story each belongs to (story_id). The state is
// the index itself: every document carries its MinHash signature and LSH band keys
// (pkg/dedup), so one _msearch on the read alias finds the candidates of a whole batch, and the
// decision survives restarts and scales with the partitions without any memory of its own.
//
// The rules, for an article A with a signature:
//   - duplicate_of: among the candidates with an estimated Jaccard >= 0.9 (dedup.NearThreshold),
//     the earliest published (then the least id); A points at that candidate's own original if
//     it is itself a duplicate, so that every copy of a text names the same first article.
//     None: A is an original and has no duplicate_of.
//   - story_id: the story of the most similar candidate published within Window of A (either
//     side) with an estimate >= 0.5 (dedup.StoryThreshold); none: A's own id.
//
// Candidates come from the engine (documents sharing a band key) and from the batch itself
// (its documents sharing a band key with A and published before it: the batch is decided in
// order of publication).
//
// What can be missed, and why it is bounded: two near-duplicates written at the same moment by
// different index instances (different partitions, different batches) do not see each other:
// each searches before the other's write is refreshed (refresh_interval, 250 ms by default), so
// both stay originals, and both may start a story. The window is the time between an
// instance's search and the moment its write becomes searchable, about a refresh interval plus the
// batch's bulk time; articles arriving further apart are decided correctly. The cost is a copy
// left visible, never a wrong link, and a third copy arriving later still joins the earlier of
// the two. A replay (docs/REPLAY.md) searches the read alias, the old version that holds every
// earlier decision, and so re-decides the same way. Decisions are also order-dependent: a
// copy published earlier but indexed later than its twin points at the twin (the earliest
// candidate), so each group still shows one original.
package stories

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/newsflow/newsflow/pkg/dedup"
	"github.com/newsflow/newsflow/services/index/internal/document"
)

// Searcher runs an _msearch (NDJSON body, each header naming its index) and returns the answer;
// internal/indices implements it, unit tests hand in fakes.
type Searcher interface {
	MultiSearch(ctx context.Context, body []byte) ([]byte, error)
}

// Config tunes the assigner.
type Config struct {
	// Alias is what is searched: the read alias, which holds every decided article.
	Alias string
	// Window is how far apart in publication time two articles of one story may be (default 72h).
	Window time.Duration
	// Candidates is the most candidates read per document, by score (default 10): those sharing
	// a near-duplicate band (any time) first, then those sharing a story band within Window.
	Candidates int
}

// Assigner decides duplicate_of and story_id. It is safe for concurrent use.
type Assigner struct {
	cfg    Config
	search Searcher
}

// New returns an assigner that searches with s.
func New(cfg Config, s Searcher) *Assigner {
	if cfg.Window <= 0 {
		cfg.Window = 72 * time.Hour
	}
	if cfg.Candidates <= 0 {
		cfg.Candidates = 10
	}
	return &Assigner{cfg: cfg, search: s}
}

// Candidate is an article, indexed or in the batch, that a new one may repeat or follow.
type Candidate struct {
	ID          string
	PublishedAt time.Time
	DuplicateOf string
	StoryID     string
	Signature   dedup.Signature
}

// source is what a candidate's hit returns of its _source.
type source struct {
	ID          string    `json:"id"`
	PublishedAt time.Time `json:"published_at"`
	MinHash     string    `json:"minhash"`
	DuplicateOf string    `json:"duplicate_of"`
	StoryID     string    `json:"story_id"`
}

var sourceFields = []string{"id", "published_at", "minhash", "duplicate_of", "story_id"}

// Assign sets DuplicateOf and StoryID of docs in place. Documents without a valid signature
// keep what document.From gave them (no duplicate, their own story). An error is a failed
// search: nothing was decided and the caller retries.
func (a *Assigner) Assign(ctx context.Context, docs []*document.Document) error {
	type signed struct {
		doc *document.Document
		sig dedup.Signature
	}
	var todo []signed
	for _, d := range docs {
		if d.MinHash == "" {
			continue
		}
		sig, err := dedup.Decode(d.MinHash)
		if err != nil {
			continue // a malformed signature only loses the decision, not the article
		}
		todo = append(todo, signed{d, sig})
	}
	if len(todo) == 0 {
		return nil
	}
	// Decide in order of publication, so that within the batch the earliest copy is the original.
	slices.SortStableFunc(todo, func(x, y signed) int {
		if c := x.doc.PublishedAt.Compare(y.doc.PublishedAt); c != 0 {
			return c
		}
		return cmpString(x.doc.ID, y.doc.ID)
	})
	ordered := make([]*document.Document, len(todo))
	for i, t := range todo {
		ordered[i] = t.doc
	}
	body, err := a.requests(ordered)
	if err != nil {
		return err
	}
	answer, err := a.search.MultiSearch(ctx, body)
	if err != nil {
		return fmt.Errorf("searching candidates of %d documents: %w", len(todo), err)
	}
	found, err := parse(answer, len(todo))
	if err != nil {
		return fmt.Errorf("reading candidates of %d documents: %w", len(todo), err)
	}
	// Band key -> batch documents decided so far that carry it.
	byBand := map[string][]int{}
	batch := make([]Candidate, len(todo))
	for i, t := range todo {
		cands := found[i]
		seen := map[int]bool{}
		for _, keys := range [][]string{t.doc.NearBands, t.doc.StoryBands} {
			for _, k := range keys {
				for _, j := range byBand[k] {
					if !seen[j] {
						seen[j] = true
						cands = append(cands, batch[j])
					}
				}
			}
		}
		Decide(t.doc, &t.sig, cands, a.cfg.Window)
		batch[i] = Candidate{ID: t.doc.ID, PublishedAt: t.doc.PublishedAt, DuplicateOf: t.doc.DuplicateOf, StoryID: t.doc.StoryID, Signature: t.sig}
		for _, keys := range [][]string{t.doc.NearBands, t.doc.StoryBands} {
			for _, k := range keys {
				byBand[k] = append(byBand[k], i)
			}
		}
	}
	return nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Decide sets d's DuplicateOf and StoryID from its candidates by the package's rules; sig is d's
// signature. A candidate with d's own id (an earlier copy of the same article, re-ingested or
// replayed) is not a candidate.
func Decide(d *document.Document, sig *dedup.Signature, cands []Candidate, window time.Duration) {
	var dup *Candidate
	best, story := -1.0, ""
	for i := range cands {
		c := &cands[i]
		if c.ID == d.ID {
			continue
		}
		est := dedup.Similarity(sig, &c.Signature)
		if est >= dedup.NearThreshold && (dup == nil || c.PublishedAt.Before(dup.PublishedAt) ||
			(c.PublishedAt.Equal(dup.PublishedAt) && c.ID < dup.ID)) {
			dup = c
		}
		gap := d.PublishedAt.Sub(c.PublishedAt)
		if gap < 0 {
			gap = -gap
		}
		if est >= dedup.StoryThreshold && gap <= window && est > best {
			best, story = est, c.StoryID
			if story == "" {
				story = c.ID
			}
		}
	}
	if dup != nil {
		root := dup.DuplicateOf
		if root == "" {
			root = dup.ID
		}
		if root != d.ID {
			d.DuplicateOf = root
		}
	}
	if story != "" {
		d.StoryID = story
	}
}

// requests builds the _msearch body: one search per document, for candidates that share a
// near-duplicate band key (any time) or a story band key and were published within the window.
// The near-duplicate clause is boosted, and each key is a term clause of its own, so that the
// candidates sharing most bands, the most similar, come first: a text repeated more often than
// Candidates times over the years still finds its copies, and its story neighbours come after.
// One search per document rather than two halves the engine's per-search overhead, which is
// most of the lookup's cost.
func (a *Assigner) requests(docs []*document.Document) ([]byte, error) {
	header, err := json.Marshal(map[string]any{"index": a.cfg.Alias, "ignore_unavailable": true, "allow_no_indices": true})
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	for _, d := range docs {
		q := map[string]any{"bool": map[string]any{"minimum_should_match": 1, "should": []any{
			map[string]any{"bool": map[string]any{"should": terms("near_bands", d.NearBands), "minimum_should_match": 1, "boost": 10}},
			map[string]any{"bool": map[string]any{"should": terms("story_bands", d.StoryBands), "minimum_should_match": 1,
				"filter": []any{map[string]any{"range": map[string]any{"published_at": map[string]any{
					"gte": d.PublishedAt.Add(-a.cfg.Window).UTC().Format(time.RFC3339Nano),
					"lte": d.PublishedAt.Add(a.cfg.Window).UTC().Format(time.RFC3339Nano)}}}}}},
		}}}
		b, err := json.Marshal(map[string]any{"size": a.cfg.Candidates, "track_total_hits": false, "_source": sourceFields, "query": q})
		if err != nil {
			return nil, fmt.Errorf("encoding candidate search of %s: %w", d.ID, err)
		}
		buf.Write(header)
		buf.WriteByte('\n')
		buf.Write(b)
		buf.WriteByte('\n')
	}
	return buf.Bytes(), nil
}

func terms(field string, keys []string) []any {
	out := make([]any, len(keys))
	for i, k := range keys {
		out[i] = map[string]any{"term": map[string]any{field: k}}
	}
	return out
}

// parse reads n search responses out of an _msearch answer; a response with an error fails
// the whole lookup (a partial answer would decide some articles without their candidates).
func parse(answer []byte, n int) ([][]Candidate, error) {
	var r struct {
		Responses []struct {
			Status int             `json:"status"`
			Error  json.RawMessage `json:"error"`
			Hits   struct {
				Hits []struct {
					Source source `json:"_source"`
				} `json:"hits"`
			} `json:"hits"`
		} `json:"responses"`
	}
	if err := json.Unmarshal(answer, &r); err != nil {
		return nil, fmt.Errorf("decoding _msearch answer: %w", err)
	}
	if len(r.Responses) != n {
		return nil, fmt.Errorf("_msearch answered %d searches, want %d", len(r.Responses), n)
	}
	out := make([][]Candidate, n)
	for i, resp := range r.Responses {
		if len(resp.Error) > 0 && string(resp.Error) != "null" {
			return nil, fmt.Errorf("search %d failed (%d): %s", i, resp.Status, truncate(string(resp.Error), 300))
		}
		for _, h := range resp.Hits.Hits {
			sig, err := dedup.Decode(h.Source.MinHash)
			if err != nil || h.Source.ID == "" {
				continue
			}
			out[i] = append(out[i], Candidate{ID: h.Source.ID, PublishedAt: h.Source.PublishedAt,
				DuplicateOf: h.Source.DuplicateOf, StoryID: h.Source.StoryID, Signature: sig})
		}
	}
	return out, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
