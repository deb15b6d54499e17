package dedup

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// words is a vocabulary for generated articles: large enough that two random articles share
// almost no 3-word shingle.
func vocabulary(r *rand.Rand, n int) []string {
	v := make([]string, n)
	for i := range v {
		var b strings.Builder
		for range 3 + r.IntN(6) {
			b.WriteByte(byte('a' + r.IntN(26)))
		}
		v[i] = b.String()
	}
	return v
}

func text(r *rand.Rand, vocab []string, n int) []string {
	w := make([]string, n)
	for i := range w {
		w[i] = vocab[r.IntN(len(vocab))]
	}
	return w
}

func shared(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// jaccard is the exact Jaccard similarity of two shingle sets.
func jaccard(a, b []uint64) float64 {
	set := make(map[uint64]bool, len(a))
	for _, x := range a {
		set[x] = true
	}
	inter := 0
	for _, x := range b {
		if set[x] {
			inter++
		}
	}
	union := len(a) + len(b) - inter
	if union == 0 {
		return 1
	}
	return float64(inter) / float64(union)
}

func TestIdenticalTextCollides(t *testing.T) {
	title := "Syrian army advances on rebel-held Idlib"
	body := "The Syrian army pushed into the town of Khan Shaykhun on Tuesday, state media said."
	a, b := Of(title, body), Of(title, body)
	if a == nil || b == nil {
		t.Fatal("no similarity for a text with words")
	}
	if a.Signature != b.Signature || !slices.Equal(a.NearBands, b.NearBands) || !slices.Equal(a.StoryBands, b.StoryBands) {
		t.Errorf("identical texts signed differently:\n%+v\n%+v", a, b)
	}
	if len(a.NearBands) != NearBands || len(a.StoryBands) != StoryBands {
		t.Errorf("%d near and %d story bands, want %d and %d", len(a.NearBands), len(a.StoryBands), NearBands, StoryBands)
	}
	// Case, punctuation and spacing are not part of the text.
	c := Of(strings.ToUpper(title), strings.ReplaceAll(body, " ", "  ,"))
	if c.Signature != a.Signature {
		t.Error("case and punctuation changed the signature")
	}
}

func TestNoWordsNoSimilarity(t *testing.T) {
	if s := Of("", " -- ... "); s != nil {
		t.Errorf("similarity %+v for a text without words", s)
	}
	// A text shorter than a shingle is one shingle, so a short title still has a signature.
	if s := Of("Markets", ""); s == nil {
		t.Error("no similarity for a one-word text")
	}
}

// TestOneWordEditCollides edits one word of long generated articles and wants every edited copy
// to share a near-duplicate band with its original and to be estimated above NearThreshold.
func TestOneWordEditCollides(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	vocab := vocabulary(r, 5000)
	for i := range 200 {
		w := text(r, vocab, 400+r.IntN(400))
		edited := slices.Clone(w)
		edited[r.IntN(len(w))] = "corrected"
		a, b := Of("", strings.Join(w, " ")), Of("", strings.Join(edited, " "))
		if !shared(a.NearBands, b.NearBands) {
			t.Errorf("article %d: a one-word edit shares no near-duplicate band", i)
		}
		sa, _ := Decode(a.Signature)
		sb, _ := Decode(b.Signature)
		if est := Similarity(&sa, &sb); est < NearThreshold {
			t.Errorf("article %d: a one-word edit estimated at %.3f, below %.1f", i, est, NearThreshold)
		}
	}
}

// TestUnrelatedDoNotCollide wants unrelated articles (and articles on one subject that share
// only common phrases) to share no band at all.
func TestUnrelatedDoNotCollide(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	vocab := vocabulary(r, 5000)
	var sims []*struct{ near, story []string }
	for range 100 {
		s := Of("", strings.Join(text(r, vocab, 300), " "))
		sims = append(sims, &struct{ near, story []string }{s.NearBands, s.StoryBands})
	}
	for i := range sims {
		for j := range i {
			if shared(sims[i].near, sims[j].near) || shared(sims[i].story, sims[j].story) {
				t.Errorf("unrelated articles %d and %d share a band", i, j)
			}
		}
	}
	a := Of("Oil prices rise", "Oil prices rose on Monday as traders weighed supply cuts by producers.")
	b := Of("Wheat exports fall", "Wheat exports fell in March, the ministry said, citing poor harvests in the south.")
	if shared(a.NearBands, b.NearBands) || shared(a.StoryBands, b.StoryBands) {
		t.Error("two unrelated news sentences share a band")
	}
}

// TestEstimateError generates pairs over the whole range of Jaccard similarity and wants the
// estimate within 0.15 of the exact value for every pair (over 3.3 standard errors, which
// is at most 0.044 for 128 hashes), and the mean absolute error below 0.035 (sqrt(2/pi) times
// the largest standard error: the expected mean error of a perfect MinHash is below it).
func TestEstimateError(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	vocab := vocabulary(r, 5000)
	var sum float64
	const pairs = 300
	for i := range pairs {
		a := text(r, vocab, 300)
		// Replace a growing share of a's words to get pairs from near 1 down to near 0.
		b := slices.Clone(a)
		for range int(float64(len(b)) * float64(i) / pairs * 0.5) {
			b[r.IntN(len(b))] = vocab[r.IntN(len(vocab))]
		}
		sha, shb := Shingles(a), Shingles(b)
		exact := jaccard(sha, shb)
		sa, _ := Sign(sha)
		sb, _ := Sign(shb)
		est := Similarity(&sa, &sb)
		if d := math.Abs(est - exact); d > 0.15 {
			t.Errorf("pair %d: estimate %.3f, exact %.3f", i, est, exact)
		}
		sum += math.Abs(est - exact)
	}
	if mae := sum / pairs; mae > 0.035 {
		t.Errorf("mean absolute error %.4f, want < 0.035", mae)
	} else {
		t.Logf("mean absolute error of the estimate over %d pairs: %.4f", pairs, mae)
	}
}

// TestBandProbabilities checks the banding arithmetic the package comment states.
func TestBandProbabilities(t *testing.T) {
	p := func(j float64, b, r int) float64 { return 1 - math.Pow(1-math.Pow(j, float64(r)), float64(b)) }
	for _, c := range []struct {
		j         float64
		b, r      int
		atLeast   float64
		atMostLow float64
	}{
		{NearThreshold, NearBands, NearRows, 0.999, 0},
		{StoryThreshold, StoryBands, StoryRows, 0.99, 0},
		{0.5, NearBands, NearRows, 0, 0.07},
		{0.1, StoryBands, StoryRows, 0, 0.05},
	} {
		got := p(c.j, c.b, c.r)
		if got < c.atLeast || (c.atMostLow > 0 && got > c.atMostLow) {
			t.Errorf("J=%.1f b=%d r=%d: collision probability %.4f", c.j, c.b, c.r, got)
		}
	}
	if NearBands*NearRows > Hashes || StoryBands*StoryRows > Hashes {
		t.Error("bands need more rows than the signature has")
	}
}

func TestDecode(t *testing.T) {
	s := Of("a b c d", "e f")
	sig, err := Decode(s.Signature)
	if err != nil {
		t.Fatal(err)
	}
	if Encode(&sig) != s.Signature {
		t.Error("Decode(Encode(sig)) is not sig")
	}
	for _, bad := range []string{"", "!!", "AAAA"} {
		if _, err := Decode(bad); err == nil {
			t.Errorf("Decode(%q): no error", bad)
		}
	}
}

// TestStable pins one signature's keys: they are compared across processes and over time, so a
// change of hashing must be deliberate (a new enrichment_version and a replay).
func TestStable(t *testing.T) {
	s := Of("Stable", "the quick brown fox jumps over the lazy dog")
	got := fmt.Sprint(s.NearBands[0], s.StoryBands[0], s.Signature[:12])
	const want = "A6kosS5248oaVIiTXoPodsuvLCOSx/6A6C"
	if got != want {
		t.Errorf("keys changed: %q", got)
	}
}

func BenchmarkOf(b *testing.B) {
	r := rand.New(rand.NewPCG(7, 8))
	body := strings.Join(text(r, vocabulary(r, 5000), 600), " ")
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		Of("title", body)
	}
}

// TestOfHashesWordsAsWordsCutsThem holds Of's string-free word hashing to Words and
// Shingles, which the measurements (TestReutersDuplicates) and the estimate test use: the
// signature of a text must be the one those functions describe.
func TestOfHashesWordsAsWordsCutsThem(t *testing.T) {
	alphabet := []rune("aZ09 .,-'\n\tÄäßİıΣσςЖж中文\u0301\u00a0\ufffd")
	r := rand.New(rand.NewPCG(9, 10))
	texts := []string{"", " ", "One", "HELLO world", "İstanbul ΣΟΦΙΑ straße", "a\xffb", "é\u0301t\u00e9"}
	for range 2000 {
		var b strings.Builder
		for range r.IntN(40) {
			b.WriteRune(alphabet[r.IntN(len(alphabet))])
		}
		texts = append(texts, b.String())
	}
	for _, s := range texts {
		var want []uint64
		for _, w := range Words(s) {
			want = append(want, wordHash(w))
		}
		if got := appendWordHashes(nil, s); !slices.Equal(got, want) {
			t.Fatalf("%q: word hashes %v, want those of Words: %v", s, got, want)
		}
		title, body, _ := strings.Cut(s, " ")
		sig, ok := Sign(Shingles(Words(title + "\n" + body)))
		of := Of(title, body)
		if ok != (of != nil) || (ok && of.Signature != Encode(&sig)) {
			t.Fatalf("%q: Of differs from Sign(Shingles(Words(title+\"\\n\"+body)))", s)
		}
	}
}
