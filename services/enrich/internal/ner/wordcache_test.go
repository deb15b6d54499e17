package ner

import (
	"strings"
	"testing"
)

// TestWordCacheScoresLikeTraining checks that the weights decodeSentence gets from the word
// cache plus the context features are exactly (bit for bit) what scoring every base feature
// gives, as training scores them, and that the lexicon entries the cache hands out are the
// lexicon's: for every token of a document, in an ordinary and in a capitals sentence, with the
// cache cold, warm, and started afresh after filling up.
func TestWordCacheScoresLikeTraining(t *testing.T) {
	r, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	text := "Drexel Burnham Lambert Inc said on Monday that Drexel would sell the unit. " +
		"The U.S. Federal Reserve said it was watching the dollar, the yen and the mark. " +
		"TEHRAN SAYS U.S. SANCTIONS WILL FAIL. Ali Shamkhani said the sanctions would fail."
	var c wordCache
	check := func(round string) {
		for _, toks := range tokenize(text, nil) {
			words := make([]string, len(toks))
			for i, tk := range toks {
				words[i] = tk.text
			}
			plain, _, _ := prepare(r.gaz, r.lowKnown, words, nil, nil, nil) // as training prepares it
			as, ids, capsSent := prepare(r.gaz, r.lowKnown, words, nil, &c, nil)
			for i := range as {
				if as[i] != plain[i] {
					t.Fatalf("%s: token %q: attributes with the cache %+v, without %+v", round, words[i], as[i], plain[i])
				}
			}
			for _, caps := range []bool{capsSent, !capsSent} {
				ctx := sentCtx{as: as, caps: caps}
				for i := range as {
					var want1, want2 [nTags]float32
					r.w.scoreBoth(ctx.baseFeatures(nil, i), &want1, &want2)
					ws := c.scores(r.w, ids[i], &as[i], caps)
					got1, got2 := ws.s1, ws.s2
					r.w.scoreBoth(ctx.contextFeatures(nil, i), &got1, &got2)
					if got1 != want1 || got2 != want2 {
						t.Fatalf("%s: token %q (caps %v): cached scores differ from scoring every feature:\n got %v %v\nwant %v %v",
							round, words[i], caps, got1, got2, want1, want2)
					}
				}
			}
		}
	}
	c.startDoc()
	check("cold")
	n := len(c.vals)
	if n == 0 {
		t.Fatal("nothing was cached")
	}
	check("warm")
	if len(c.vals) != n {
		t.Errorf("a warm cache grew from %d to %d words: words are not found again", n, len(c.vals))
	}
	for i := 0; len(c.vals) < maxCachedWords; i++ {
		var a attrs
		computeAttrs(&a, "filler"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+string(rune('a'+i/26%26))+string(rune('a'+i/676%26)))
		c.scores(r.w, c.entry(r.gaz, r.lowKnown, &a), &a, false)
	}
	c.startDoc()
	if len(c.vals) != 0 {
		t.Errorf("a full cache holds %d words at the start of a document, want it emptied", len(c.vals))
	}
	check("after filling up")
}
