package stories

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/newsflow/newsflow/pkg/dedup"
	"github.com/newsflow/newsflow/services/index/internal/document"
)

// story is a long text; edits of it are near-duplicates, halves of it story neighbours.
var story = func() string {
	var b strings.Builder
	for i := range 300 {
		fmt.Fprintf(&b, "word%d filler%d ", i, i*7%13)
	}
	return b.String()
}()

func doc(id string, at time.Time, body string) *document.Document {
	d := &document.Document{ID: id, PublishedAt: at, StoryID: id}
	if s := dedup.Of("", body); s != nil {
		d.MinHash, d.NearBands, d.StoryBands = s.Signature, s.NearBands, s.StoryBands
	}
	return d
}

func cand(d *document.Document) Candidate {
	sig, err := dedup.Decode(d.MinHash)
	if err != nil {
		panic(err)
	}
	return Candidate{ID: d.ID, PublishedAt: d.PublishedAt, DuplicateOf: d.DuplicateOf, StoryID: d.StoryID, Signature: sig}
}

var t0 = time.Date(1987, 3, 2, 10, 0, 0, 0, time.UTC)

func TestDecide(t *testing.T) {
	edit := strings.Replace(story, "word5 ", "changed ", 1)
	half := story[:len(story)*2/3] + strings.Repeat("other text entirely here ", 40)
	orig := doc("orig", t0, story)
	older := doc("older", t0.Add(-time.Hour), story)
	copyOf := doc("copy", t0.Add(time.Minute), story)
	copyOf.DuplicateOf, copyOf.StoryID = "root", "root-story"
	follow := doc("follow", t0.Add(2*time.Hour), half)
	follow.StoryID = "s1"
	far := doc("far", t0.Add(-30*24*time.Hour), half)
	unrelated := doc("unrelated", t0, "completely different words about wheat exports and harvests in the south")
	for _, tc := range []struct {
		name            string
		body            string
		id              string
		cands           []Candidate
		wantDup, wantSt string
	}{
		{"no candidates: original, own story", edit, "new", nil, "", "new"},
		{"one-word edit: duplicate of the earliest, its story", edit, "new", []Candidate{cand(orig), cand(older)}, "older", "orig"},
		{"a duplicate's original is named, not the duplicate", edit, "new", []Candidate{cand(copyOf)}, "root", "root-story"},
		{"its own earlier copy is no candidate", story, "orig", []Candidate{cand(orig)}, "", "orig"},
		{"a pointer back to itself is no duplicate", story, "root", []Candidate{cand(copyOf)}, "", "root-story"},
		{"a story neighbour is no duplicate but shares its story", story, "new", []Candidate{cand(follow)}, "", "s1"},
		{"outside the window: no story", story, "new", []Candidate{cand(far)}, "", "new"},
		{"unrelated: nothing", story, "new", []Candidate{cand(unrelated)}, "", "new"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := doc(tc.id, t0, tc.body)
			sig, _ := dedup.Decode(d.MinHash)
			Decide(d, &sig, tc.cands, 72*time.Hour)
			if d.DuplicateOf != tc.wantDup || d.StoryID != tc.wantSt {
				t.Errorf("duplicate_of %q story_id %q, want %q and %q", d.DuplicateOf, d.StoryID, tc.wantDup, tc.wantSt)
			}
		})
	}
}

// fakeSearcher is a hand-written Searcher: it records the body and answers every search with
// the hits of hits (all searches alike), or fails.
type fakeSearcher struct {
	bodies [][]byte
	hits   []*document.Document
	answer func(n int) []byte
	err    error
}

func (f *fakeSearcher) MultiSearch(_ context.Context, body []byte) ([]byte, error) {
	f.bodies = append(f.bodies, body)
	if f.err != nil {
		return nil, f.err
	}
	n := bytes.Count(body, []byte("\n")) / 2
	if f.answer != nil {
		return f.answer(n), nil
	}
	var hits []map[string]any
	for _, d := range f.hits {
		hits = append(hits, map[string]any{"_source": map[string]any{"id": d.ID, "published_at": d.PublishedAt,
			"minhash": d.MinHash, "duplicate_of": d.DuplicateOf, "story_id": d.StoryID}})
	}
	var resp []any
	for range n {
		resp = append(resp, map[string]any{"status": 200, "hits": map[string]any{"hits": hits}})
	}
	b, _ := json.Marshal(map[string]any{"responses": resp})
	return b, nil
}

// TestAssignBatch: a batch's documents are candidates for each other, decided in order of
// publication whatever their order in the batch, with one _msearch of one search each.
func TestAssignBatch(t *testing.T) {
	f := &fakeSearcher{}
	a := New(Config{Alias: "articles"}, f)
	dup := doc("b-dup", t0.Add(time.Hour), strings.Replace(story, "word9 ", "other ", 1))
	orig := doc("a-orig", t0, story)
	other := doc("c-other", t0, "completely different words about wheat exports and harvests in the south")
	empty := &document.Document{ID: "d-empty", PublishedAt: t0, StoryID: "d-empty"}
	if err := a.Assign(context.Background(), []*document.Document{dup, other, orig, empty}); err != nil {
		t.Fatal(err)
	}
	if dup.DuplicateOf != "a-orig" || dup.StoryID != "a-orig" {
		t.Errorf("near-duplicate: duplicate_of %q story_id %q, want a-orig twice", dup.DuplicateOf, dup.StoryID)
	}
	for _, d := range []*document.Document{orig, other, empty} {
		if d.DuplicateOf != "" || d.StoryID != d.ID {
			t.Errorf("%s: duplicate_of %q story_id %q, want none and its own", d.ID, d.DuplicateOf, d.StoryID)
		}
	}
	if len(f.bodies) != 1 {
		t.Fatalf("%d _msearch requests, want 1", len(f.bodies))
	}
	lines := strings.Split(strings.TrimSuffix(string(f.bodies[0]), "\n"), "\n")
	if len(lines) != 6 || !strings.Contains(lines[0], `"index":"articles"`) || !strings.Contains(lines[1], `"near_bands"`) ||
		!strings.Contains(lines[1], `"story_bands"`) || !strings.Contains(lines[1], `"published_at"`) {
		t.Errorf("_msearch body: %d lines, want 6 (a search for each of the 3 signed documents, on both band sets):\n%s", len(lines), f.bodies[0])
	}
}

// TestAssignFromIndex: candidates the engine returns decide like batch ones.
func TestAssignFromIndex(t *testing.T) {
	indexed := doc("indexed", t0, story)
	indexed.StoryID = "story-1"
	a := New(Config{Alias: "articles"}, &fakeSearcher{hits: []*document.Document{indexed}})
	d := doc("new", t0.Add(24*time.Hour), strings.Replace(story, "word9 ", "other ", 1))
	if err := a.Assign(context.Background(), []*document.Document{d}); err != nil {
		t.Fatal(err)
	}
	if d.DuplicateOf != "indexed" || d.StoryID != "story-1" {
		t.Errorf("duplicate_of %q story_id %q, want indexed and story-1", d.DuplicateOf, d.StoryID)
	}
}

func TestAssignErrors(t *testing.T) {
	d := doc("x", t0, story)
	for name, f := range map[string]*fakeSearcher{
		"transport": {err: errors.New("connection refused")},
		"failed search": {answer: func(n int) []byte {
			return []byte(`{"responses":[{"status":429,"error":{"type":"es_rejected_execution_exception"}}]}`)
		}},
		"short answer": {answer: func(int) []byte { return []byte(`{"responses":[]}`) }},
	} {
		if err := New(Config{}, f).Assign(context.Background(), []*document.Document{d}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
