package ner

import (
	"unicode"
	"unicode/utf8"
)

// The tagger predicts BILOU tags (Begin, Inside, Last, Unit-length), which mark where a name
// ends as well as where it starts and tag boundaries better than IOB2; results are converted to
// IOB2. BILOU tag of type k (1 PER, 2 ORG, 3 LOC, 4 MISC): B=4k-3, I=4k-2, L=4k-1, U=4k; 0 is O.
// These indexes are the order of the weight rows in the model file.
const nTags = 17

// IOB2 tags as the rest of the package and CoNLL see them: B-X = 2k-1, I-X = 2k.
var iobNames = [9]string{"O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"}

func bilouType(t int) int { return (t + 3) / 4 }

// bilouKind is 0 B, 1 I, 2 L, 3 U.
func bilouKind(t int) int { return (t - 1) % 4 }

func iobType(t int) int { return (t + 1) / 2 }

func iobInside(t int) bool { return t > 0 && t%2 == 0 }

// allowed reports whether BILOU tag t may follow prev: inside a name I or L of its type, outside
// one B or U; O always (an unfinished B or I is then read as the end of the name: letting the
// tagger drop a name it opened by mistake scored better on valid.txt than strict BILOU).
func allowed(prev, t int) bool {
	if t == 0 {
		return true
	}
	open := prev != 0 && (bilouKind(prev) == 0 || bilouKind(prev) == 1)
	if open {
		return t != 0 && bilouType(t) == bilouType(prev) && (bilouKind(t) == 1 || bilouKind(t) == 2)
	}
	return t == 0 || bilouKind(t) == 0 || bilouKind(t) == 3
}

// toIOB converts a BILOU tag to IOB2.
func toIOB(t int) int {
	if t == 0 {
		return 0
	}
	k := bilouType(t)
	if kind := bilouKind(t); kind == 0 || kind == 3 {
		return 2*k - 1
	}
	return 2 * k
}

// toBILOU converts a sentence of IOB2 tags to BILOU.
func toBILOU(tags []int) []int {
	out := make([]int, len(tags))
	for i, t := range tags {
		if t == 0 {
			continue
		}
		k := iobType(t)
		start := !iobInside(t) || i == 0 || tags[i-1] == 0 || iobType(tags[i-1]) != k
		cont := i+1 < len(tags) && iobInside(tags[i+1]) && iobType(tags[i+1]) == k
		switch {
		case start && cont:
			out[i] = 4*k - 3
		case start:
			out[i] = 4 * k
		case cont:
			out[i] = 4*k - 2
		default:
			out[i] = 4*k - 1
		}
	}
	return out
}

// Feature templates. Their numbers are part of the model: append, never renumber.
const (
	tBias uint64 = iota + 1
	tWord
	tLower
	tShape
	tShort
	tPre1
	tPre2
	tPre3
	tPre4
	tSuf1
	tSuf2
	tSuf3
	tSuf4
	tLowM1
	tLowP1
	tLowM2
	tLowP2
	tShortM1 // no longer emitted: tShort3 holds the neighbours' shapes (see contextFeatures)
	tShortP1 // no longer emitted
	tShort3
	tBiM1
	tBiP1
	tPrev
	tPrev2
	tPrevShort
	tStart
	tCapsSent
	tGazM1
	tGaz0 // no longer emitted: tGazPos replaced it
	tGazP1
	tLowKnown
	tHist
	tHistCaps
	tFlags
	tOrgKeyP1
	tOrgKeyP2
	tShortM2
	tShortP2
	tPrevLow
	tHistPrev
	tCtxL2
	tCtxR2
	tS1
	tS1Ctx
	tDocTypes
	tDocTypesCaps
	tDocEnt
	tS1Low
	tClus   // the word's cluster path prefix (length, bits)
	tClusM1 // the previous word's
	tClusP1 // the next word's
	tGazPos // a gazetteer category and where the word lies in its matches (see appendGazPos)
)

// Hashing: FNV-1a over bytes, then a splitmix64 finaliser to combine values. Hashing replaces
// string building: features cost no allocation, and the model stores 8-byte keys, not strings.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func mix(a, b uint64) uint64 {
	x := a*0x9E3779B97F4A7C15 ^ b
	x ^= x >> 31
	x *= 0xBF58476D1CE4E5B9
	x ^= x >> 29
	x *= 0x94D049BB133111EB
	x ^= x >> 32
	return x
}

func hashString(s string) uint64 {
	h := uint64(fnvOffset)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

// lowerByte lowercases ASCII letters and maps digits to '0' so that numbers share features.
func lowerByte(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 32
	}
	if '0' <= c && c <= '9' {
		return '0'
	}
	return c
}

// hashLower hashes the lowercased, digit-normalised form of s (ASCII folding only: cheap, and
// the CoNLL training text is ASCII).
func hashLower(s string) uint64 {
	h := uint64(fnvOffset)
	for i := 0; i < len(s); i++ {
		h ^= uint64(lowerByte(s[i]))
		h *= fnvPrime
	}
	return h
}

// Token flags.
const (
	fInitCap uint16 = 1 << iota
	fAllCaps
	fHasDigit
	fAllDigit
	fHasHyphen
	fHasPeriod
	fPunct
	fMixed
	fHasLetter
	fHasLower
)

// attrs holds what the features of a token need, computed once per token.
type attrs struct {
	word, lower, shape, short uint64
	pre, suf                  [4]uint64
	flags                     uint16
	gaz                       uint32 // gazetteer bits (see gazetteer.go)
	gazEnd                    uint32 // categories of the gazetteer matches this token ends
	orgKey                    bool   // token is an organisation keyword (Inc, Party, Ministry...)
	lowKnown                  bool   // lowercase form is a common lowercase word
	clus                      uint32 // word-cluster path with a leading 1 bit (0: no cluster; see clusters.go)

	// Second stage only: what the first stage said about this token and the whole document.
	s1       uint8  // first-stage tag
	docTypes uint8  // types the first stage gave this word anywhere in the document
	docEnt   uint16 // bits (type-1) and (type-1+4): inside a first-stage entity string of the document
}

// computeAttrs fills a for word w.
func computeAttrs(a *attrs, w string) {
	a.word = hashString(w)
	a.lower = hashLower(w)
	var flags uint16
	shape, short := uint64(fnvOffset), uint64(fnvOffset)
	var last byte
	nUpper, nLower, nDigit, nLetters := 0, 0, 0, 0
	for i, r := range w {
		var c byte
		switch {
		case r < utf8.RuneSelf:
			b := byte(r)
			switch {
			case 'A' <= b && b <= 'Z':
				c = 'X'
			case 'a' <= b && b <= 'z':
				c = 'x'
			case '0' <= b && b <= '9':
				c = 'd'
			default:
				c = b
			}
		case unicode.IsUpper(r):
			c = 'X'
		case unicode.IsLetter(r):
			c = 'x'
		case unicode.IsDigit(r):
			c = 'd'
		default:
			c = 'o'
		}
		switch c {
		case 'X':
			nUpper++
			nLetters++
			if i == 0 {
				flags |= fInitCap
			}
		case 'x':
			nLower++
			nLetters++
		case 'd':
			nDigit++
		case '-':
			flags |= fHasHyphen
		case '.':
			flags |= fHasPeriod
		}
		shape ^= uint64(c)
		shape *= fnvPrime
		if c != last {
			short ^= uint64(c)
			short *= fnvPrime
			last = c
		}
	}
	if nLetters > 0 {
		flags |= fHasLetter
		if nUpper == nLetters {
			flags |= fAllCaps
		}
		if nUpper > 0 && nLower > 0 && flags&fInitCap == 0 {
			flags |= fMixed
		}
	}
	if nLower > 0 {
		flags |= fHasLower
	}
	if nDigit > 0 {
		flags |= fHasDigit
		if nDigit == len(w) {
			flags |= fAllDigit
		}
	}
	if nLetters == 0 && nDigit == 0 {
		flags |= fPunct
	}
	a.flags = flags
	a.shape, a.short = shape, short
	h := uint64(fnvOffset)
	for k := 0; k < 4; k++ {
		if k < len(w) {
			h ^= uint64(lowerByte(w[k]))
			h *= fnvPrime
			a.pre[k] = h
		} else {
			a.pre[k] = 0
		}
	}
	h = fnvOffset
	for k := 0; k < 4; k++ {
		if k < len(w) {
			h ^= uint64(lowerByte(w[len(w)-1-k]))
			h *= fnvPrime
			a.suf[k] = h
		} else {
			a.suf[k] = 0
		}
	}
}

// capsSentence reports whether a sentence looks like an ALL-CAPS headline or dateline: most of
// its words with letters are upper case. Such sentences are tagged after the others of their
// document, so that they can use what the body said about the same words.
func capsSentence(as []attrs) bool {
	n, caps := 0, 0
	for i := range as {
		f := as[i].flags
		if f&fHasLetter == 0 {
			continue
		}
		n++
		if f&fAllCaps != 0 && (f&fHasLower == 0) {
			caps++
		}
	}
	return n > 0 && caps*10 >= n*8
}

// sentCtx is per-sentence state used by staticFeatures.
type sentCtx struct {
	as     []attrs
	caps   bool
	stage2 bool
}

func (s *sentCtx) s1At(i int) uint64 {
	if i < 0 || i >= len(s.as) {
		return 99
	}
	return uint64(s.as[i].s1)
}

var padLeft = hashString("<S>")
var padRight = hashString("</S>")

func (s *sentCtx) lowerAt(i int) uint64 {
	if i < 0 {
		return padLeft
	}
	if i >= len(s.as) {
		return padRight
	}
	return s.as[i].lower
}

func (s *sentCtx) shortAt(i int) uint64 {
	if i < 0 {
		return padLeft
	}
	if i >= len(s.as) {
		return padRight
	}
	return s.as[i].short
}

func (s *sentCtx) clusAt(i int) uint32 {
	if i < 0 || i >= len(s.as) {
		return 0
	}
	return s.as[i].clus
}

func (s *sentCtx) gazAt(i int) uint32 {
	if i < 0 || i >= len(s.as) {
		return 0
	}
	return s.as[i].gaz
}

func (s *sentCtx) orgKeyAt(i int) bool {
	return i >= 0 && i < len(s.as) && s.as[i].orgKey
}

// staticFeatures appends the features of token i that do not depend on predicted tags: the
// base features and, for the second stage, those that depend on the first stage's tags.
func (s *sentCtx) staticFeatures(dst []uint64, i int) []uint64 {
	dst = s.baseFeatures(dst, i)
	if s.stage2 {
		dst = s.stage2Features(dst, i)
	}
	return dst
}

// stage2Features appends the features built from the first stage's tags of the document.
func (s *sentCtx) stage2Features(dst []uint64, i int) []uint64 {
	a := &s.as[i]
	caps := uint64(0)
	if s.caps {
		caps = 1
	}
	dst = append(dst,
		mix(tS1, uint64(a.s1)),
		mix(mix(mix(tS1Ctx, s.s1At(i-1)), uint64(a.s1)), s.s1At(i+1)),
		mix(mix(tDocTypes, uint64(a.docTypes)), uint64(a.s1)),
		mix(mix(tDocTypesCaps, uint64(a.docTypes)), caps),
		mix(mix(tS1Low, uint64(a.s1)), a.lower),
	)
	for bits := a.docEnt; bits != 0; bits &= bits - 1 {
		dst = append(dst, mix(tDocEnt, uint64(bitsTrailing(uint32(bits)))))
	}
	return dst
}

// baseFeatures appends the features of token i shared by both stages: those of the word
// itself, then those of its context.
func (s *sentCtx) baseFeatures(dst []uint64, i int) []uint64 {
	return s.contextFeatures(wordFeatures(dst, &s.as[i], s.caps), i)
}

// wordFeatures appends the features that depend only on the word (and on whether its sentence
// is in capitals): the same for every occurrence of a word, so that decodeSentence can score
// them once per word (see wordCache).
func wordFeatures(dst []uint64, a *attrs, capsSent bool) []uint64 {
	caps := uint64(0)
	if capsSent {
		caps = 1
	}
	dst = append(dst,
		mix(tBias, 0),
		mix(tWord, a.word),
		mix(tLower, a.lower),
		mix(tShort, a.short),
		mix(mix(tCapsSent, caps), a.short),
		mix(mix(tFlags, uint64(a.flags)), caps),
	)
	for k := 1; k < 4; k++ {
		if a.pre[k] != 0 {
			dst = append(dst, mix(tPre1+uint64(k), a.pre[k]))
		}
		if a.suf[k] != 0 {
			dst = append(dst, mix(tSuf1+uint64(k), a.suf[k]))
		}
	}
	if a.orgKey {
		dst = append(dst, mix(tOrgKeyP1, 2))
	}
	for _, n := range clusterPrefixes {
		if p, ok := clusterPrefix(a.clus, n); ok {
			dst = append(dst, mix(mix(tClus, uint64(n)), uint64(p)))
		}
	}
	return dst
}

// contextFeatures appends the features of token i that depend on its neighbours or position.
// Every feature here costs a lookup per token in both stages, so weak ones go: the neighbours'
// shapes on their own (tShortM1, tShortP1; tShort3 keeps them in context) were dropped at no
// cost on valid.txt (3 seeds: text path F1 the same, unseen entities +0.6), two lookups fewer.
// (Dropping the two-word windows tCtxL2/tCtxR2 too cost 0.1-0.3 text F1 and 0.3-0.5 on unseen
// entities in two 3- and 2-seed runs, and their lookups are mostly filter misses: kept.)
func (s *sentCtx) contextFeatures(dst []uint64, i int) []uint64 {
	a := &s.as[i]
	caps := uint64(0)
	if s.caps {
		caps = 1
	}
	dst = append(dst,
		mix(tLowM1, s.lowerAt(i-1)),
		mix(tLowP1, s.lowerAt(i+1)),
		mix(tLowM2, s.lowerAt(i-2)),
		mix(tLowP2, s.lowerAt(i+2)),
		mix(mix(mix(tShort3, s.shortAt(i-1)), a.short), s.shortAt(i+1)),
		mix(mix(tBiM1, s.lowerAt(i-1)), a.lower),
		mix(mix(tBiP1, a.lower), s.lowerAt(i+1)),
		mix(mix(tCtxL2, s.lowerAt(i-2)), s.lowerAt(i-1)),
		mix(mix(tCtxR2, s.lowerAt(i+1)), s.lowerAt(i+2)),
	)
	if i == 0 {
		dst = append(dst, mix(tStart, a.short))
	}
	for _, n := range contextClusterPrefixes {
		if p, ok := clusterPrefix(s.clusAt(i-1), n); ok {
			dst = append(dst, mix(mix(tClusM1, uint64(n)), uint64(p)))
		}
		if p, ok := clusterPrefix(s.clusAt(i+1), n); ok {
			dst = append(dst, mix(mix(tClusP1, uint64(n)), uint64(p)))
		}
	}
	dst = appendBits(dst, tGazM1, s.gazAt(i-1))
	dst = appendGazPos(dst, a)
	dst = appendBits(dst, tGazP1, s.gazAt(i+1))
	if s.orgKeyAt(i + 1) {
		dst = append(dst, mix(tOrgKeyP1, 1))
	}
	if s.orgKeyAt(i + 2) {
		dst = append(dst, mix(tOrgKeyP2, 1))
	}
	if a.lowKnown && a.flags&fInitCap != 0 {
		start := uint64(0)
		if i == 0 {
			start = 1
		}
		dst = append(dst, mix(mix(tLowKnown, start), caps))
	}
	return dst
}

// Where a token lies in the gazetteer matches of one category (appendGazPos): bits of a code.
const (
	gazPosFirst  = 1 // first token of a match (B, or U with gazPosLast)
	gazPosInside = 2 // a later token of a match (I, or L with gazPosLast)
	gazPosLast   = 4 // last token of a match
)

// appendGazPos appends one feature per gazetteer category of a token, naming the category and
// the token's place in its matches: Ratinov and Roth's (2009) BILOU encoding of dictionary
// matches. A one-word match ("Jordan" as a surname) is weaker evidence than the last word of a
// longer one ("Salt Lake City"), which first/inside bits alone do not tell apart. Measured on
// valid.txt (3 seeds) against one feature per first/inside bit: text path +0.26 F1, valid
// entities unseen in train +0.5, with at most as many lookups.
func appendGazPos(dst []uint64, a *attrs) []uint64 {
	first, inside, last := a.gaz&(1<<gazInside-1), a.gaz>>gazInside, a.gazEnd
	for cats := first | inside | last; cats != 0; cats &= cats - 1 {
		c := bitsTrailing(cats)
		m := uint32(1) << c
		code := uint64(0)
		if first&m != 0 {
			code |= gazPosFirst
		}
		if inside&m != 0 {
			code |= gazPosInside
		}
		if last&m != 0 {
			code |= gazPosLast
		}
		dst = append(dst, mix(mix(tGazPos, uint64(c)), code))
	}
	return dst
}

func appendBits(dst []uint64, t uint64, bits uint32) []uint64 {
	for bits != 0 {
		b := uint64(bitsTrailing(bits))
		dst = append(dst, mix(t, b))
		bits &= bits - 1
	}
	return dst
}

func bitsTrailing(x uint32) int {
	n := 0
	for x&1 == 0 {
		x >>= 1
		n++
	}
	return n
}

// dynamicFeatures appends the features that depend on the previous predicted tags and on the
// document history (types earlier predicted for the same word in this document).
func dynamicFeatures(dst []uint64, a *attrs, p1, p2 int, hist, histPrev uint8, caps bool) []uint64 {
	dst = append(dst,
		mix(tPrev, uint64(p1)),
		mix(mix(tPrev2, uint64(p1)), uint64(p2)),
		mix(mix(tPrevShort, uint64(p1)), a.short),
		mix(mix(tPrevLow, uint64(p1)), a.lower),
	)
	if a.flags&(fInitCap|fAllCaps) != 0 && a.flags&fHasLetter != 0 {
		dst = append(dst, mix(tHist, uint64(hist)))
		c := uint64(0)
		if caps {
			c = 1
		}
		dst = append(dst, mix(mix(tHistCaps, uint64(hist)), c))
		dst = append(dst, mix(mix(tHistPrev, uint64(hist)), uint64(histPrev)))
	}
	return dst
}

// docScratch holds the maps docEvidence reuses between calls.
type docScratch struct {
	types   map[uint64]uint8
	phrases map[uint64]uint8
}

// docEvidence copies first-stage tags into the attributes of a document and adds what the first
// stage found elsewhere in it: the types given to the same word, and whether the token lies in a
// string the first stage tagged as an entity somewhere (document-level consistency: a name
// recognised once is evidence for its other occurrences, including in ALL-CAPS headlines).
func docEvidence(sents [][]attrs, s1 [][]int, sc *docScratch) {
	if sc.types == nil {
		sc.types, sc.phrases = map[uint64]uint8{}, map[uint64]uint8{}
	}
	clear(sc.types)
	clear(sc.phrases)
	maxLen := 0
	for si, as := range sents {
		tags := s1[si]
		for i := range as {
			as[i].s1 = uint8(tags[i])
			if tags[i] != 0 && as[i].flags&(fInitCap|fAllCaps) != 0 {
				sc.types[as[i].lower] |= typeBit(iobType(tags[i]))
			}
		}
		entitySpans(tags[:len(as)], func(start, end, typ int) {
			if end-start > 6 {
				return
			}
			h := uint64(fnvOffset)
			for k := start; k < end; k++ {
				h = mix(h, as[k].lower)
			}
			sc.phrases[h] |= 1 << (typ - 1)
			maxLen = max(maxLen, end-start)
		})
	}
	for _, as := range sents {
		for i := range as {
			as[i].docTypes = 0
			as[i].docEnt = 0
		}
		for i := range as {
			if as[i].flags&(fInitCap|fAllCaps) != 0 {
				as[i].docTypes = sc.types[as[i].lower]
			}
		}
		if len(sc.phrases) == 0 {
			continue
		}
		for i := range as {
			if as[i].flags&(fInitCap|fAllCaps|fMixed) == 0 {
				continue
			}
			h := uint64(fnvOffset)
			for j := i; j < len(as) && j-i < maxLen; j++ {
				h = mix(h, as[j].lower)
				bits, ok := sc.phrases[h]
				if !ok {
					continue
				}
				as[i].docEnt |= uint16(bits)
				for k := i + 1; k <= j; k++ {
					as[k].docEnt |= uint16(bits) << 4
				}
			}
		}
	}
}
