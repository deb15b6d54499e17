// Package ner is newsflow's named-entity recogniser (PERSON, ORG, LOC, MISC). It is a greedy
// averaged-perceptron BILOU tagger over hashed features (word, shape, affixes, context,
// gazetteers, the types already given to a word in the document), run in two stages: the second
// sees the first stage's tags of the whole document, so that a name recognised in one sentence
// helps in the others (ALL-CAPS headlines are tagged after the body for the same reason).
// It is trained on CoNLL-2003 by cmd/nertrain and shipped as an embedded model file, so the
// enrich stage needs no external service and no model download; pure Go, standard library only.
// Extract adds what raw modern news needs on top of the CoNLL-trained tagger: byte-offset
// tokenisation, title-case headlines, acronym linking, surname merging and a few typing rules.
package ner

import (
	"bytes"
	_ "embed"
	"fmt"
	"io"
	"sync"
)

//go:embed model.bin.gz
var embeddedModel []byte

// Recognizer tags named entities. It is immutable after construction and safe for concurrent use;
// per-call buffers come from a pool so that the hot path does not allocate per token.
type Recognizer struct {
	w        *weights
	twoStage bool // a second stage sees the first stage's tags of the whole document
	gaz      *gazetteer
	lowKnown map[uint64]bool
	bufs     sync.Pool
}

var (
	defaultOnce sync.Once
	defaultRec  *Recognizer
	defaultErr  error
)

// Default returns the recogniser built from the embedded model. The model is decoded once per
// process (well under a second) and shared, because every caller wants the same model and
// decoding it per article would dominate the cost.
func Default() (*Recognizer, error) {
	defaultOnce.Do(func() {
		defaultRec, defaultErr = Load(bytes.NewReader(embeddedModel))
	})
	return defaultRec, defaultErr
}

// Load reads a model written by Train (for cmd/nertrain and tests that compare models; services
// use Default).
func Load(r io.Reader) (*Recognizer, error) {
	m, err := readModel(r)
	if err != nil {
		return nil, fmt.Errorf("loading NER model: %w", err)
	}
	return newRecognizer(m.stages, m.gaz, m.gazMax, m.lowKnown), nil
}

func newRecognizer(stages []stage, trainGaz map[uint64]uint32, gazMax int, low map[uint64]bool) *Recognizer {
	g := newBaseGazetteer()
	g.train, g.trainMax = trainGaz, gazMax
	return &Recognizer{w: buildWeights(stages), twoStage: len(stages) > 1, gaz: g, lowKnown: low}
}

// docBuf holds the reusable buffers of one tagging call.
type docBuf struct {
	sents  [][]attrs
	caps   []bool
	order  []int
	feats  []uint64
	hist   map[uint64]uint8
	tags   [][]int
	s1     [][]int
	doc    docScratch
	dyn    []uint64
	part2  [][nTags]float32 // per token of the document: stage-2 weights of the base features
	starts []int
	words  wordCache
	ids    [][]int32 // per sentence: each token's wordCache entry
}

// wordCache holds, for the words a buffer has tagged, what does not depend on where they
// stand: their lexicon entries (cluster path, common lower-case word) and the weights of their
// word features (wordFeatures) in ordinary and in capitals sentences. It is kept across the
// documents that reuse the buffer: in news text most tokens are words seen before ("the",
// "said", names repeated), and one lookup in this small map replaces several in the big tables
// (a third of a token's weight lookups, and the cluster and lexicon maps). Bounded: it starts
// afresh, between documents, when full.
type wordCache struct {
	idx   map[uint64]int32
	vals  []wordEntry
	feats []uint64
}

// wordEntry is one word's cached lexicon entries and word-feature weights.
type wordEntry struct {
	clus   uint32
	low    bool
	scored [2]bool // s[caps] is computed
	s      [2]wordScores
}

// wordScores are the stage-1 and stage-2 weights of one word's word features.
type wordScores struct{ s1, s2 [nTags]float32 }

// maxCachedWords bounds a buffer's wordCache between documents (some 290 bytes a word).
const maxCachedWords = 1 << 14

// startDoc empties a full cache; entries stay valid for the whole document after it.
func (c *wordCache) startDoc() {
	if c.idx == nil {
		c.idx = make(map[uint64]int32, 1024)
	}
	if len(c.vals) >= maxCachedWords {
		clear(c.idx)
		c.vals = c.vals[:0]
	}
}

// entry returns the index of a's entry (a.word and a.lower set), looking the word up in the
// lexicon on first sight.
func (c *wordCache) entry(g *gazetteer, low map[uint64]bool, a *attrs) int32 {
	if i, ok := c.idx[a.word]; ok {
		return i
	}
	c.vals = append(c.vals, wordEntry{clus: g.clusters.path(a), low: low[a.lower]})
	i := int32(len(c.vals) - 1)
	c.idx[a.word] = i
	return i
}

// scores returns the weights of the word features of entry i (whose word a is) in a sentence
// that is (or is not) in capitals. Adding them first and the context features after is the
// order baseFeatures gives training, so the sums are the same, bit for bit, as without the
// cache.
func (c *wordCache) scores(w *weights, i int32, a *attrs, caps bool) *wordScores {
	k := 0
	if caps {
		k = 1
	}
	e := &c.vals[i]
	if !e.scored[k] {
		c.feats = wordFeatures(c.feats[:0], a, caps)
		w.scoreBoth(c.feats, &e.s[k].s1, &e.s[k].s2)
		e.scored[k] = true
	}
	return &e.s[k]
}

func (r *Recognizer) getBuf() *docBuf {
	if b, ok := r.bufs.Get().(*docBuf); ok {
		return b
	}
	return &docBuf{hist: map[uint64]uint8{}}
}

func (r *Recognizer) putBuf(b *docBuf) {
	if cap(b.feats) > 1<<16 || len(b.sents) > 4096 || cap(b.part2) > 1<<16 || len(b.words.vals) > 4*maxCachedWords {
		return // do not keep the buffers of a pathological document alive
	}
	r.bufs.Put(b)
}

// prepare computes the attributes of every token of a sentence. With a word cache (tagging),
// the lexicon entries come from it and ids receives each token's entry; training passes none.
func prepare(g *gazetteer, low map[uint64]bool, words []string, as []attrs, c *wordCache, ids []int32) ([]attrs, []int32, bool) {
	as = as[:0]
	for _, w := range words {
		as = append(as, attrs{})
		a := &as[len(as)-1]
		computeAttrs(a, w)
	}
	g.mark(as)
	ids = ids[:0]
	for i := range as {
		if c == nil {
			as[i].lowKnown = low[as[i].lower]
			as[i].clus = g.clusters.path(&as[i])
			continue
		}
		id := c.entry(g, low, &as[i])
		ids = append(ids, id)
		as[i].lowKnown, as[i].clus = c.vals[id].low, c.vals[id].clus
	}
	return as, ids, capsSentence(as)
}

// sentenceOrder lists sentence indexes in tagging order: ordinary sentences first, then
// ALL-CAPS ones (headlines, datelines), which then see what the body said about their words.
func sentenceOrder(caps []bool, order []int) []int {
	order = order[:0]
	for i, c := range caps {
		if !c {
			order = append(order, i)
		}
	}
	for i, c := range caps {
		if c {
			order = append(order, i)
		}
	}
	return order
}

// typeBit is the document-history bit of an entity type (1..4).
func typeBit(typ int) uint8 {
	if typ == 0 {
		return 0
	}
	return 1 << (typ - 1)
}

// decodeSentence tags one prepared sentence greedily, left to right, updating the document
// history. In the first stage of a two-stage model, it also leaves the second stage's weights of
// the base features in part2, so that the second stage need not look them up again.
func (r *Recognizer) decodeSentence(b *docBuf, ctx sentCtx, ids []int32, part2 [][nTags]float32, out []int) {
	as, caps := ctx.as, ctx.caps
	var scores [nTags]float32
	p1, p2 := 0, 0
	for i := range as {
		if ctx.stage2 && ctx.plainOutside(i) {
			out[i] = 0
			p2, p1 = p1, 0
			continue
		}
		if r.twoStage && !ctx.stage2 && p1 == 0 && ctx.lowerAround(i) {
			// A first-stage token with no capital letter in or around it, after no name, is
			// left outside a name unscored: about two thirds of news text, and a fifth of
			// enrich's CPU. What the model put there was nearly always wrong: on the 19,043
			// Reuters articles the output changed in 35, losing "2.5-billion" and "6-mln"
			// (MISC), "state-of-the-art" (ORG) and "already-weak" (LOC) among 37 such
			// names, and "u.s." and "euro"; 4 mention counts changed. On valid.txt (trained
			// on train only) the text path F1 is unchanged, 90.76. The jackknifed taggers
			// that train the second stage (one stage each) still score every token: skipping
			// there too cost 0.2 F1 on the shipped model.
			out[i] = 0
			p2, p1 = p1, 0
			continue
		}
		scores = [nTags]float32{}
		switch {
		case ctx.stage2:
			if ctx.lowerAround(i) {
				// Not left in part2 by the first stage (see below): looked up now, in the
				// same order, so the sums are the same.
				scores = b.words.scores(r.w, ids[i], &as[i], caps).s2
				b.feats = ctx.contextFeatures(b.feats[:0], i)
				r.w.score2(b.feats, &scores)
			} else {
				scores = part2[i]
			}
			b.feats = ctx.stage2Features(b.feats[:0], i)
			r.w.score2(b.feats, &scores)
		case r.twoStage && ctx.lowerAround(i):
			// The second stage will most likely not score this token (plainOutside), so its
			// second-stage weights are not added up now: they are, in the rare case it does.
			scores = b.words.scores(r.w, ids[i], &as[i], caps).s1
			b.feats = ctx.contextFeatures(b.feats[:0], i)
			r.w.score(b.feats, &scores)
		case r.twoStage:
			ws := b.words.scores(r.w, ids[i], &as[i], caps)
			scores, part2[i] = ws.s1, ws.s2
			b.feats = ctx.contextFeatures(b.feats[:0], i)
			r.w.scoreBoth(b.feats, &scores, &part2[i])
		default:
			scores = b.words.scores(r.w, ids[i], &as[i], caps).s1
			b.feats = ctx.contextFeatures(b.feats[:0], i)
			r.w.score(b.feats, &scores)
		}
		var hp uint8
		if i > 0 {
			hp = b.hist[as[i-1].lower]
		}
		b.dyn = dynamicFeatures(b.dyn[:0], &as[i], p1, p2, b.hist[as[i].lower], hp, caps)
		if ctx.stage2 {
			r.w.score2(b.dyn, &scores)
		} else {
			r.w.score(b.dyn, &scores)
		}
		best := bestTag(&scores, p1)
		out[i] = best
		if best != 0 && as[i].flags&fHasLetter != 0 && as[i].flags&(fInitCap|fAllCaps) != 0 {
			b.hist[as[i].lower] |= typeBit(bilouType(best))
		}
		p2, p1 = p1, best
	}
}

// plainOutside reports whether token i and its neighbours are all lower-case (or punctuation,
// or numbers) and outside the first stage's names: the second stage keeps such a token outside
// a name without scoring it. The second stage exists to carry what the document says about a
// name to its other mentions; scoring these tokens too (about two thirds of news text) cost a
// third of its lookups, and what it changed was names run on into lower-case text: "Royal
// Dutch of 14", "Wako Securities> and <Yasuda Trust", "Improvements Act of 1976" in most of the
// 45 of the 19,043 Reuters articles where the output changed (the rest: "U.K." typed MISC, not
// ORG, and product codes). On valid.txt (trained on
// train only) the text path F1 is unchanged, 90.76, and the token path's too.
func (s *sentCtx) plainOutside(i int) bool {
	if !s.lowerAround(i) {
		return false
	}
	for j := max(i-1, 0); j <= i+1 && j < len(s.as); j++ {
		if s.as[j].s1 != 0 {
			return false
		}
	}
	return true
}

// lowerAround reports whether token i and its neighbours have no capital letter: the part of
// plainOutside the first stage can already see.
func (s *sentCtx) lowerAround(i int) bool {
	for j := max(i-1, 0); j <= i+1 && j < len(s.as); j++ {
		if s.as[j].flags&(fInitCap|fAllCaps|fMixed) != 0 {
			return false
		}
	}
	return true
}

// allowedNext[p] lists the tags allowed after tag p, for bestTag.
var allowedNext = func() (tab [nTags][]int) {
	for p := 0; p < nTags; p++ {
		for t := 0; t < nTags; t++ {
			if allowed(p, t) {
				tab[p] = append(tab[p], t)
			}
		}
	}
	return tab
}()

func bestTag(scores *[nTags]float32, prev int) int {
	next := allowedNext[prev]
	best := next[0]
	for _, t := range next[1:] {
		if scores[t] > scores[best] {
			best = t
		}
	}
	return best
}

// tagDoc tags every sentence of a document (words already normalised), leaving IOB2 tag indexes
// in b.tags.
func (r *Recognizer) tagDoc(doc [][]string, b *docBuf) {
	for len(b.sents) < len(doc) {
		b.sents = append(b.sents, nil)
	}
	for len(b.ids) < len(doc) {
		b.ids = append(b.ids, nil)
	}
	b.caps = b.caps[:0]
	b.words.startDoc()
	for i, words := range doc {
		var caps bool
		b.sents[i], b.ids[i], caps = prepare(r.gaz, r.lowKnown, words, b.sents[i], &b.words, b.ids[i])
		b.caps = append(b.caps, caps)
	}
	b.order = sentenceOrder(b.caps, b.order)
	clear(b.hist)
	for len(b.tags) < len(doc) {
		b.tags = append(b.tags, nil)
	}
	// Sentence si's tokens start at b.starts[si] in part2.
	n := 0
	b.starts = b.starts[:0]
	for si := range doc {
		b.starts = append(b.starts, n)
		n += len(doc[si])
	}
	if r.twoStage && cap(b.part2) < n {
		b.part2 = make([][nTags]float32, n)
	}
	b.part2 = b.part2[:0]
	if r.twoStage {
		b.part2 = b.part2[:n]
	}
	part := func(si int) [][nTags]float32 {
		if !r.twoStage {
			return nil
		}
		return b.part2[b.starts[si] : b.starts[si]+len(doc[si])]
	}
	for _, si := range b.order {
		n := len(doc[si])
		if cap(b.tags[si]) < n {
			b.tags[si] = make([]int, n)
		}
		b.tags[si] = b.tags[si][:n]
		r.decodeSentence(b, sentCtx{as: b.sents[si], caps: b.caps[si]}, b.ids[si], part(si), b.tags[si])
	}
	for _, t := range b.tags[:len(doc)] {
		for i := range t {
			t[i] = toIOB(t[i])
		}
	}
	if !r.twoStage {
		return
	}
	for len(b.s1) < len(doc) {
		b.s1 = append(b.s1, nil)
	}
	for i := range doc {
		b.s1[i] = append(b.s1[i][:0], b.tags[i]...)
	}
	docEvidence(b.sents[:len(doc)], b.s1[:len(doc)], &b.doc)
	clear(b.hist)
	for _, si := range b.order {
		r.decodeSentence(b, sentCtx{as: b.sents[si], caps: b.caps[si], stage2: true}, b.ids[si], part(si), b.tags[si])
	}
	for _, t := range b.tags[:len(doc)] {
		for i := range t {
			t[i] = toIOB(t[i])
		}
	}
}

// TagTokens tags the pre-tokenised sentences of one document and returns IOB2 tags ("B-PER",
// "I-ORG", "O"). It exists for CoNLL evaluation, where tokens are given; the whole document is
// passed at once because the tagger uses evidence from other sentences of the same document.
func (r *Recognizer) TagTokens(doc [][]string) [][]string {
	b := r.getBuf()
	defer r.putBuf(b)
	r.tagDoc(doc, b)
	out := make([][]string, len(doc))
	for i := range doc {
		out[i] = make([]string, len(doc[i]))
		for j, t := range b.tags[i][:len(doc[i])] {
			out[i][j] = iobNames[t]
		}
	}
	return out
}
