package dedup_test

import (
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/newsflow/newsflow/pkg/article"
	"github.com/newsflow/newsflow/pkg/corpus"
	"github.com/newsflow/newsflow/pkg/dedup"
	"github.com/newsflow/newsflow/pkg/testenv"
)

// revisionPrefix is what Reuters puts before the title of a story sent again.
var revisionPrefix = regexp.MustCompile(`^(?i)(corrected|correction|repeat|update|refiled|recasts?)( \d+)?\s*-+\s*`)

type story struct {
	a        article.Article
	shingles []uint64 // sorted
	sig      dedup.Signature
	near     []string
	story    []string
}

// exact is the Jaccard similarity of two sorted shingle sets.
func exact(a, b []uint64) float64 {
	inter, i, j := 0, 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] == b[j]:
			inter++
			i++
			j++
		case a[i] < b[j]:
			i++
		default:
			j++
		}
	}
	return float64(inter) / float64(len(a)+len(b)-inter)
}

type pair struct{ i, j int }

func ordered(i, j int) pair {
	if i > j {
		i, j = j, i
	}
	return pair{i, j}
}

// TestReutersDuplicates measures the near-duplicate and story detectors on Reuters-21578.
//
// The labelled set is the corpus's revisions: pairs of stories whose titles are equal once a
// revision prefix ("CORRECTED - ", "REPEAT - ", "UPDATE 1-") is dropped, published within 3
// days of each other, plus pairs with the same body whatever their titles. Each pair is
// labelled by the exact Jaccard similarity of its shingle sets: >= 0.9 a near-duplicate, below
// a distinct story under a recurring title ("U.S. M-1 MONEY SUPPLY RISES ..." every week).
//
// Recall is the share of labelled near-duplicates the detector finds (a shared near band and an
// estimate >= 0.9). Precision is over every pair the detector flags in the whole corpus: the
// share whose exact Jaccard is >= 0.9. The story detector is measured the same way at 0.5.
func TestReutersDuplicates(t *testing.T) {
	if testing.Short() {
		t.Skip("reads and signs the whole of Reuters-21578 (a few seconds)")
	}
	dir := filepath.Join(testenv.DataDir(t), "reuters21578")
	var all []story
	err := corpus.ReadReutersDir(dir, 0, func(a article.Article) error {
		sh := dedup.Shingles(dedup.Words(a.Title + "\n" + a.Body))
		slices.Sort(sh)
		sig, ok := dedup.Sign(sh)
		if !ok {
			return nil
		}
		all = append(all, story{a: a, shingles: sh, sig: sig,
			near: dedup.Bands(&sig, dedup.NearBands, dedup.NearRows), story: dedup.Bands(&sig, dedup.StoryBands, dedup.StoryRows)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	const window = 72 * time.Hour
	within := func(p pair) bool {
		d := all[p.i].a.PublishedAt.Sub(all[p.j].a.PublishedAt)
		return d <= window && d >= -window
	}

	// The labelled pairs.
	byTitle, byBody := map[string][]int{}, map[string][]int{}
	for i, s := range all {
		key := strings.Join(dedup.Words(revisionPrefix.ReplaceAllString(s.a.Title, "")), " ")
		byTitle[key] = append(byTitle[key], i)
		byBody[s.a.Body] = append(byBody[s.a.Body], i)
	}
	labelled := map[pair]bool{}
	for _, group := range byTitle {
		for x, i := range group {
			for _, j := range group[:x] {
				if p := ordered(i, j); within(p) {
					labelled[p] = true
				}
			}
		}
	}
	for _, group := range byBody {
		for x, i := range group {
			for _, j := range group[:x] {
				labelled[ordered(i, j)] = true
			}
		}
	}

	// The detectors, over the whole corpus: every pair sharing a band, then the estimate.
	flagged := func(bands func(s *story) []string, threshold float64, needWindow bool) map[pair]bool {
		buckets := map[string][]int{}
		for i := range all {
			for _, k := range bands(&all[i]) {
				buckets[k] = append(buckets[k], i)
			}
		}
		out := map[pair]bool{}
		for _, b := range buckets {
			for x, i := range b {
				for _, j := range b[:x] {
					p := ordered(i, j)
					if out[p] || (needWindow && !within(p)) {
						continue
					}
					if dedup.Similarity(&all[i].sig, &all[j].sig) >= threshold {
						out[p] = true
					}
				}
			}
		}
		return out
	}
	near := flagged(func(s *story) []string { return s.near }, dedup.NearThreshold, false)
	stories := flagged(func(s *story) []string { return s.story }, dedup.StoryThreshold, true)

	measure := func(name string, det map[pair]bool, threshold float64, needWindow bool) (precision, recall float64) {
		pos, found, hardNeg, hardFlagged := 0, 0, 0, 0
		for p := range labelled {
			if needWindow && !within(p) {
				continue
			}
			if exact(all[p.i].shingles, all[p.j].shingles) >= threshold {
				pos++
				if det[p] {
					found++
				}
			} else {
				hardNeg++
				if det[p] {
					hardFlagged++
				}
			}
		}
		right := 0
		for p := range det {
			if exact(all[p.i].shingles, all[p.j].shingles) >= threshold {
				right++
			}
		}
		precision, recall = float64(right)/float64(len(det)), float64(found)/float64(pos)
		t.Logf("%s (Jaccard >= %.1f): %d stories; labelled pairs: %d positive, %d hard negatives; "+
			"recall %.4f (%d/%d); flagged %d pairs in the corpus, precision %.4f (%d/%d); hard negatives flagged %d",
			name, threshold, len(all), pos, hardNeg, recall, found, pos, len(det), precision, right, len(det), hardFlagged)
		return precision, recall
	}
	if p, r := measure("near-duplicates", near, dedup.NearThreshold, false); p < 0.9 || r < 0.9 {
		t.Errorf("near-duplicates: precision %.3f recall %.3f, want both >= 0.9", p, r)
	}
	if p, r := measure("stories", stories, dedup.StoryThreshold, true); p < 0.9 || r < 0.9 {
		t.Errorf("stories: precision %.3f recall %.3f, want both >= 0.9", p, r)
	}
}
