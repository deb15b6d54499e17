package ner

import (
	_ "embed"
	"strings"
)

// The hand-curated lists: countries, capitals and major cities, demonyms, well-known
// organisations, words that end organisation names, common given names, people in today's news. They help with names
// the 1996 training text never saw; keep them small and general.
//
//go:embed data/gazetteer.txt
var handGazetteer string

// Gazetteer categories. A token in a match of category c gets bit c, and bit c+gazInside when
// it is not the first token of the match.
const (
	gazHandLoc = iota
	gazHandMisc
	gazHandOrg
	gazHandFirst
	gazTrainPer
	gazTrainOrg
	gazTrainLoc
	gazTrainMisc
	gazHandPer
	gazInside = 9
)

// gazetteer maps the hash of a lowercased token sequence to its category bits.
type gazetteer struct {
	phrases map[uint64]uint32
	hand    map[uint64]uint32 // the hand-curated phrases only
	orgKeys map[uint64]bool
	maxLen  int
}

func newGazetteer() *gazetteer {
	return &gazetteer{phrases: map[uint64]uint32{}, hand: map[uint64]uint32{}, orgKeys: map[uint64]bool{}}
}

func phraseHash(tokens []string) uint64 {
	h := uint64(fnvOffset)
	for _, t := range tokens {
		h = mix(h, hashLower(t))
	}
	return h
}

func (g *gazetteer) add(tokens []string, cat int) {
	if len(tokens) == 0 || len(tokens) > 8 {
		return
	}
	g.phrases[phraseHash(tokens)] |= 1 << cat
	g.maxLen = max(g.maxLen, len(tokens))
}

// loadHand adds the embedded hand-curated lists.
func (g *gazetteer) loadHand() {
	for _, line := range strings.Split(handGazetteer, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		typ, phrase, ok := strings.Cut(line, "\t")
		if !ok {
			continue
		}
		toks := strings.Fields(phrase)
		if len(toks) == 0 {
			continue
		}
		switch typ {
		case "LOC", "MISC", "ORG", "FIRST", "PER":
			g.hand[phraseHash(toks)] |= 1 << map[string]int{"LOC": gazHandLoc, "MISC": gazHandMisc, "ORG": gazHandOrg, "FIRST": gazHandFirst, "PER": gazHandPer}[typ]
		}
		switch typ {
		case "LOC":
			g.add(toks, gazHandLoc)
		case "MISC":
			g.add(toks, gazHandMisc)
		case "ORG":
			g.add(toks, gazHandOrg)
		case "FIRST":
			g.add(toks, gazHandFirst)
		case "PER":
			g.add(toks, gazHandPer)
		case "ORGKEY":
			if len(toks) == 1 {
				g.orgKeys[hashLower(toks[0])] = true
			}
		}
	}
}

// mark sets the gazetteer bits of the tokens of one sentence. Matches start only at tokens with
// an upper-case letter or a digit first, so that common words do not fire the lists.
func (g *gazetteer) mark(as []attrs) {
	for i := range as {
		as[i].gaz = 0
		as[i].orgKey = g.orgKeys[as[i].lower] && as[i].flags&fInitCap != 0
	}
	if g == nil || len(g.phrases) == 0 {
		return
	}
	for i := range as {
		if as[i].flags&(fInitCap|fHasDigit|fMixed) == 0 {
			continue
		}
		h := uint64(fnvOffset)
		for j := i; j < len(as) && j-i < g.maxLen; j++ {
			h = mix(h, as[j].lower)
			cats, ok := g.phrases[h]
			if !ok {
				continue
			}
			as[i].gaz |= cats
			for k := i + 1; k <= j; k++ {
				as[k].gaz |= cats << gazInside
			}
		}
	}
}
