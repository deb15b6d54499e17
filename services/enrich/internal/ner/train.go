package ner

import (
	"fmt"
	"io"
	"math"
	"math/rand"
	"strings"
)

// TrainDoc is one training document: sentences of words and their IOB2 tags.
type TrainDoc struct {
	Words [][]string
	Tags  [][]string
}

// TrainOptions tune Train. The zero value is not useful; see DefaultTrainOptions.
type TrainOptions struct {
	Epochs int
	Seed   int64
	// Prune drops features whose largest averaged weight (in absolute value) is below it: they
	// change almost no decision, and every feature kept costs memory and slows the lookups of
	// all the others (the weight table outgrows the CPU's caches). The shipped 3 (the largest
	// weights are about 600) keeps a quarter of the features 1 kept: on valid.txt, trained on
	// train only, text path F1 90.83 -> 90.76, valid entities unseen in train 0.789 -> 0.790;
	// the shipped model file 2.1 -> 1.0 MB.
	Prune float64
	// Log receives one progress line per epoch (nil: silent).
	Log io.Writer
	// AfterEpoch, if set, is called with the averaged model after each epoch (for tuning).
	AfterEpoch func(epoch int, r *Recognizer)
	// TwoStage adds a second tagger that sees the first one's tags of the whole document.
	TwoStage bool
}

// DefaultTrainOptions are the settings the shipped model was trained with.
func DefaultTrainOptions() TrainOptions {
	return TrainOptions{Epochs: 8, Seed: 1, Prune: 3, TwoStage: true}
}

// Trained is the result of Train: the recogniser and a way to write its model file.
type Trained struct {
	Recognizer *Recognizer
	stages     []stage
	gaz        map[uint64]uint32
	gazMax     int
	low        map[uint64]bool
}

// WriteModel writes the model file (gzip) that Load and Default read.
func (t *Trained) WriteModel(w io.Writer) error {
	return writeModel(w, t.stages, t.gaz, t.gazMax, t.low)
}

// Features reports how many feature rows the model keeps, over all stages.
func (t *Trained) Features() int {
	n := 0
	for _, s := range t.stages {
		n += len(s.keys)
	}
	return n
}

func tagIndex(tag string) (int, error) {
	for i, n := range iobNames {
		if n == tag {
			return i, nil
		}
	}
	return 0, fmt.Errorf("unknown tag %q", tag)
}

// trainSent is a sentence with everything precomputed that does not change during training.
type trainSent struct {
	as     []attrs
	caps   bool
	static []uint64 // static features of all tokens, concatenated
	offs   []int32  // offs[i]..offs[i+1] are token i's static features
	gold   []int
}

type trainer struct {
	idx map[uint64]int32
	w   []float32
	acc []float64
	ts  []int32
	t   int32
}

func (tr *trainer) score(feats []uint64, out *[nTags]float32) {
	for _, k := range feats {
		r, ok := tr.idx[k]
		if !ok {
			continue
		}
		row := tr.w[int(r)*nTags : int(r)*nTags+nTags]
		for j := range out {
			out[j] += row[j]
		}
	}
}

func (tr *trainer) update(feats []uint64, tag int, d float32) {
	for _, k := range feats {
		r, ok := tr.idx[k]
		if !ok {
			r = int32(len(tr.w) / nTags)
			tr.idx[k] = r
			tr.w = append(tr.w, make([]float32, nTags)...)
			tr.acc = append(tr.acc, make([]float64, nTags)...)
			tr.ts = append(tr.ts, make([]int32, nTags)...)
		}
		j := int(r)*nTags + tag
		tr.acc[j] += float64(tr.t-tr.ts[j]) * float64(tr.w[j])
		tr.ts[j] = tr.t
		tr.w[j] += d
	}
}

// averaged returns the averaged weight rows whose largest |weight| reaches prune, in
// first-created order (deterministic).
func (tr *trainer) averaged(prune float64) ([]uint64, [][nTags]float32) {
	keys := make([]uint64, len(tr.idx))
	for k, r := range tr.idx {
		keys[r] = k
	}
	var outK []uint64
	var outR [][nTags]float32
	t := float64(tr.t)
	for r, k := range keys {
		var row [nTags]float32
		keep := false
		for j := 0; j < nTags; j++ {
			i := r*nTags + j
			a := (tr.acc[i] + float64(tr.t-tr.ts[i])*float64(tr.w[i])) / t
			row[j] = float32(a)
			if math.Abs(a) >= prune {
				keep = true
			}
		}
		if keep {
			outK = append(outK, k)
			outR = append(outR, row)
		}
	}
	return outK, outR
}

// entitySpans calls fn with the token spans and types (1..4) of IOB2 tag indexes.
func entitySpans(tags []int, fn func(start, end, typ int)) {
	start, typ := -1, 0
	for i := 0; i <= len(tags); i++ {
		t := 0
		if i < len(tags) {
			t = tags[i]
		}
		if start >= 0 && (t == 0 || !iobInside(t) || iobType(t) != typ) {
			fn(start, i, typ)
			start = -1
		}
		if t != 0 && (start < 0) {
			start, typ = i, iobType(t)
		}
	}
}

// trainingGazetteer collects the entity strings of docs into gazetteer categories.
func trainingGazetteer(docs []TrainDoc, gold [][][]int, keep func(d int) bool) (map[uint64]uint32, int) {
	m := map[uint64]uint32{}
	maxLen := 0
	for d := range docs {
		if !keep(d) {
			continue
		}
		for s, words := range docs[d].Words {
			entitySpans(gold[d][s], func(start, end, typ int) {
				if end-start > 6 {
					return
				}
				addPhrase(m, words[start:end], 1<<(gazTrainPer+typ-1))
				maxLen = max(maxLen, end-start)
			})
		}
	}
	return m, maxLen
}

// lowercaseLexicon lists words seen in lower case more often than capitalised inside a sentence:
// a capitalised occurrence of such a word is probably a headline or a sentence start, not a name.
func lowercaseLexicon(docs []TrainDoc) map[uint64]bool {
	lowN, capN := map[uint64]int{}, map[uint64]int{}
	for _, d := range docs {
		for _, words := range d.Words {
			for i, w := range words {
				if w == "" || !isLetter(w[0]) {
					continue
				}
				h := hashLower(w)
				switch {
				case strings.ToLower(w) == w:
					lowN[h]++
				case i > 0 && strings.ToUpper(w) != w:
					capN[h]++
				}
			}
		}
	}
	out := map[uint64]bool{}
	for h, n := range lowN {
		if n >= 2 && n > capN[h] {
			out[h] = true
		}
	}
	return out
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// Train trains a recogniser on docs. Training is deterministic: documents are visited in an order
// shuffled by opts.Seed, and no map iteration order reaches the model. While training, the
// gazetteer learnt from the data is built from the other half of the documents (two folds), so
// that the model learns how far to trust it on names it has not seen; the shipped gazetteer holds
// every training entity. With opts.TwoStage, a second tagger is trained on the first one's
// predictions over whole documents; those predictions come from models trained on the other
// half of the data (jackknifing), so that the second stage learns how reliable they are on
// unseen text.
func Train(docs []TrainDoc, opts TrainOptions) (*Trained, error) {
	if opts.Epochs < 1 {
		return nil, fmt.Errorf("no epochs to train")
	}
	gold := make([][][]int, len(docs))
	for d, doc := range docs {
		if len(doc.Words) != len(doc.Tags) {
			return nil, fmt.Errorf("document %d: %d sentences of words, %d of tags", d, len(doc.Words), len(doc.Tags))
		}
		gold[d] = make([][]int, len(doc.Tags))
		for s, tags := range doc.Tags {
			if len(tags) != len(doc.Words[s]) {
				return nil, fmt.Errorf("document %d sentence %d: %d words, %d tags", d, s, len(doc.Words[s]), len(tags))
			}
			gold[d][s] = make([]int, len(tags))
			for i, t := range tags {
				ti, err := tagIndex(t)
				if err != nil {
					return nil, fmt.Errorf("document %d sentence %d: %w", d, s, err)
				}
				gold[d][s][i] = ti
			}
		}
	}
	low := lowercaseLexicon(docs)
	gaz, gazMax := trainingGazetteer(docs, gold, func(int) bool { return true })
	res := &Trained{gaz: gaz, gazMax: gazMax, low: low}
	logf := func(format string, args ...any) {
		if opts.Log != nil {
			fmt.Fprintf(opts.Log, format, args...)
		}
	}
	first := func(st stage) *Recognizer { return newRecognizer([]stage{st}, gaz, gazMax, low) }
	o1 := opts
	if opts.TwoStage {
		o1.AfterEpoch = nil
	}
	logf("stage 1\n")
	st1 := trainStage(docs, gold, low, nil, o1, first)
	res.stages = []stage{st1}
	res.Recognizer = first(st1)
	if !opts.TwoStage {
		return res, nil
	}
	// Jackknifed first-stage predictions for the second stage's training data.
	s1 := make([][][]int, len(docs))
	for f := 0; f < 2; f++ {
		var sub []TrainDoc
		var subGold [][][]int
		for d := range docs {
			if d%2 != f {
				sub = append(sub, docs[d])
				subGold = append(subGold, gold[d])
			}
		}
		subGaz, subMax := trainingGazetteer(sub, subGold, func(int) bool { return true })
		o := opts
		o.AfterEpoch = nil
		logf("stage 1, fold %d\n", f)
		stf := trainStage(sub, subGold, low, nil, o, nil)
		rf := newRecognizer([]stage{stf}, subGaz, subMax, low)
		for d := range docs {
			if d%2 == f {
				s1[d] = rf.tagInts(docs[d].Words)
			}
		}
	}
	logf("stage 2\n")
	second := func(st stage) *Recognizer { return newRecognizer([]stage{st1, st}, gaz, gazMax, low) }
	st2 := trainStage(docs, gold, low, s1, opts, second)
	res.stages = append(res.stages, st2)
	res.Recognizer = second(st2)
	return res, nil
}

// tagInts tags a document and returns tag indexes (for training the second stage).
func (r *Recognizer) tagInts(doc [][]string) [][]int {
	b := r.getBuf()
	defer r.putBuf(b)
	r.tagDoc(doc, b)
	out := make([][]int, len(doc))
	for i := range doc {
		out[i] = append([]int(nil), b.tags[i][:len(doc[i])]...)
	}
	return out
}

// trainStage trains one tagger. s1, when set, holds first-stage tags, making this the second
// stage. build turns weights into a recogniser for opts.AfterEpoch.
func trainStage(docs []TrainDoc, gold [][][]int, low map[uint64]bool, s1 [][][]int, opts TrainOptions, build func(stage) *Recognizer) stage {
	var folds [2]*gazetteer
	for f := range folds {
		m, n := trainingGazetteer(docs, gold, func(d int) bool { return d%2 != f })
		g := newBaseGazetteer()
		g.train, g.trainMax = m, n
		folds[f] = g
	}
	// Precompute static features.
	tdocs := make([][]trainSent, len(docs))
	var scratch docScratch
	for d, doc := range docs {
		caps := make([]bool, len(doc.Words))
		all := make([][]attrs, len(doc.Words))
		for s, words := range doc.Words {
			all[s], _, caps[s] = prepare(folds[d%2], low, words, nil, nil, nil)
		}
		if s1 != nil {
			docEvidence(all, s1[d], &scratch)
		}
		sents := make([]trainSent, len(doc.Words))
		for s := range doc.Words {
			ctx := sentCtx{as: all[s], caps: caps[s], stage2: s1 != nil}
			ts := trainSent{as: all[s], caps: caps[s], gold: toBILOU(gold[d][s]), offs: []int32{0}}
			for i := range all[s] {
				ts.static = ctx.staticFeatures(ts.static, i)
				ts.offs = append(ts.offs, int32(len(ts.static)))
			}
			sents[s] = ts
		}
		for _, si := range sentenceOrder(caps, nil) {
			tdocs[d] = append(tdocs[d], sents[si])
		}
	}
	tr := &trainer{idx: map[uint64]int32{}}
	rng := rand.New(rand.NewSource(opts.Seed))
	order := make([]int, len(tdocs))
	for i := range order {
		order[i] = i
	}
	hist := map[uint64]uint8{}
	var feats []uint64
	var scores [nTags]float32
	snapshot := func() stage {
		keys, rows := tr.averaged(opts.Prune)
		return stage{keys, rows}
	}
	for ep := 1; ep <= opts.Epochs; ep++ {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		errs, toks := 0, 0
		for _, d := range order {
			clear(hist)
			for _, s := range tdocs[d] {
				p1, p2 := 0, 0
				for i := range s.as {
					tr.t++
					toks++
					feats = append(feats[:0], s.static[s.offs[i]:s.offs[i+1]]...)
					var hp uint8
					if i > 0 {
						hp = hist[s.as[i-1].lower]
					}
					feats = dynamicFeatures(feats, &s.as[i], p1, p2, hist[s.as[i].lower], hp, s.caps)
					scores = [nTags]float32{}
					tr.score(feats, &scores)
					pred := bestTag(&scores, p1)
					if g := s.gold[i]; pred != g {
						errs++
						tr.update(feats, g, 1)
						tr.update(feats, pred, -1)
					}
					a := &s.as[i]
					if pred != 0 && a.flags&fHasLetter != 0 && a.flags&(fInitCap|fAllCaps) != 0 {
						hist[a.lower] |= typeBit(bilouType(pred))
					}
					p2, p1 = p1, pred
				}
			}
		}
		if opts.Log != nil {
			fmt.Fprintf(opts.Log, "epoch %d: %d/%d token errors (%.2f%%), %d features\n",
				ep, errs, toks, 100*float64(errs)/float64(toks), len(tr.idx))
		}
		if opts.AfterEpoch != nil && build != nil && ep < opts.Epochs {
			opts.AfterEpoch(ep, build(snapshot()))
		}
	}
	st := snapshot()
	if opts.AfterEpoch != nil && build != nil {
		opts.AfterEpoch(opts.Epochs, build(st))
	}
	return st
}
