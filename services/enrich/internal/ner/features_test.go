package ner

import (
	"slices"
	"strings"
	"testing"
)

// TestGazPosFeatures checks that each token of a gazetteer match gets one feature naming the
// category and its place in the match (first, inside, last), so that a one-word match and the
// end of a longer one differ.
func TestGazPosFeatures(t *testing.T) {
	g := newGazetteer()
	g.add([]string{"Salt", "Lake", "City"}, gazCity)
	g.add([]string{"Jordan"}, gazLast)
	words := strings.Fields("Jordan flew to Salt Lake City .")
	as := make([]attrs, len(words))
	for i, w := range words {
		computeAttrs(&as[i], w)
	}
	g.mark(as)
	ctx := sentCtx{as: as}
	want := map[int]uint64{
		0: mix(mix(tGazPos, gazLast), gazPosFirst|gazPosLast),  // U
		3: mix(mix(tGazPos, gazCity), gazPosFirst),             // B
		4: mix(mix(tGazPos, gazCity), gazPosInside),            // I
		5: mix(mix(tGazPos, gazCity), gazPosInside|gazPosLast), // L
	}
	all := []uint64{want[0], want[3], want[4], want[5]}
	for i := range words {
		feats := ctx.contextFeatures(nil, i)
		for _, f := range all {
			if has := slices.Contains(feats, f); has != (f == want[i]) {
				t.Errorf("token %d %q: has gazetteer-position feature %x: %v, want %v", i, words[i], f, has, !has)
			}
		}
	}
}
