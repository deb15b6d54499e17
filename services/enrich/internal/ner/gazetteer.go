package ner

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"strings"
	"sync"
)

// The hand-curated lists: words that end organisation names, a few well-known organisations,
// nationalities, religions and events, given names. No people: names the 1996 training text
// never saw are left to the generated lists (below), the word clusters and the tagger.
//
//go:embed data/gazetteer.txt
var handGazetteer string

// Gazetteer categories. A token in a match of category c gets bit c, and bit c+gazInside when
// it is not the first token of the match; the last token of the match gets bit c of gazEnd.
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
	// The generated lists (data/gazetteer.gen.tsv.gz, built by make gazetteer from registry
	// data packages; see data/SOURCES.md).
	gazCountry // countries and continents
	gazRegion  // first-level administrative regions
	gazCity    // cities
	gazDemonym // nationalities and their plurals
	gazFirst   // given names
	gazLast    // surnames
	gazSuffix  // legal forms of companies (Inc, AG, S.A.)
	gazInside  = 16
)

// generated is the gazetteer built by `make gazetteer` (TYPE<TAB>phrase, '#' comments).
//
//go:embed data/gazetteer.gen.tsv.gz
var generatedGazetteer []byte

var generatedTypes = map[string]int{"LOC-country": gazCountry, "LOC-continent": gazCountry,
	"LOC-region": gazRegion, "LOC-city": gazCity, "DEMONYM": gazDemonym, "FIRST": gazFirst,
	"LAST": gazLast, "ORGSUFFIX": gazSuffix}

var (
	baseOnce sync.Once
	baseGaz  *gazetteer
)

// newBaseGazetteer returns a fresh gazetteer holding the hand-curated and the generated lists
// (decoded once per process: the generated file has some 240,000 phrases), for a recogniser or a
// training fold to add its training-data phrases to.
func newBaseGazetteer() *gazetteer {
	baseOnce.Do(func() {
		// The clusters decode beside the lists: together they are most of a cold start.
		type loaded struct {
			t   *clusterTable
			err error
		}
		ch := make(chan loaded, 1)
		go func() {
			t, err := loadClusters()
			ch <- loaded{t, err}
		}()
		baseGaz = newGazetteer()
		baseGaz.loadHand()
		err := baseGaz.loadGenerated()
		c := <-ch
		if err == nil {
			err = c.err
		}
		if err != nil {
			panic(err) // embedded at build time: a broken file is a build error
		}
		baseGaz.clusters = c.t
	})
	g := *baseGaz // the lists are shared, read-only; only the training phrases differ
	g.train, g.trainMax = nil, 0
	return &g
}

// loadGenerated adds the generated lists.
func (g *gazetteer) loadGenerated() error {
	zr, err := gzip.NewReader(bytes.NewReader(generatedGazetteer))
	if err != nil {
		return fmt.Errorf("reading the generated gazetteer: %w", err)
	}
	sc := bufio.NewScanner(zr)
	toks := make([]string, 0, 8)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		typ, phrase, ok := strings.Cut(line, "\t")
		cat, known := generatedTypes[typ]
		if !ok || !known {
			continue
		}
		toks = appendFields(toks[:0], phrase)
		g.add(toks, cat)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading the generated gazetteer: %w", err)
	}
	return nil
}

// appendFields is strings.Fields into a reused slice.
func appendFields(dst []string, s string) []string {
	for {
		s = strings.TrimLeft(s, " ")
		if s == "" {
			return dst
		}
		i := strings.IndexByte(s, ' ')
		if i < 0 {
			return append(dst, s)
		}
		dst = append(dst, s[:i])
		s = s[i:]
	}
}

// gazetteer maps the hash of a lowercased token sequence to its category bits. Both of its
// phrase maps also hold every proper prefix of a phrase, with no category bits (0) unless the
// prefix is a phrase itself: matching stops at the first sequence of tokens that is not in the
// map, which for most capitalised words is the first, so a token costs one lookup per list.
type gazetteer struct {
	phrases map[uint64]uint32
	hand    map[uint64]uint32 // the hand-curated phrases only
	orgKeys map[uint64]bool
	maxLen  int
	// train holds the phrases learnt from training data, and their prefixes (hashes only:
	// the model file stores no words).
	train    map[uint64]uint32
	trainMax int
	// clusters are the word clusters (clusters.go); they travel with the lists because every
	// sentence's preparation needs both.
	clusters *clusterTable
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
	addPhrase(g.phrases, tokens, 1<<cat)
	g.maxLen = max(g.maxLen, len(tokens))
}

// addPhrase adds the category bits cats to the phrase tokens in m, and its proper prefixes
// (with no bits of their own) so that matching can stop where no phrase continues.
func addPhrase(m map[uint64]uint32, tokens []string, cats uint32) {
	h := uint64(fnvOffset)
	for _, t := range tokens {
		h = mix(h, hashLower(t))
		m[h] |= 0 // a prefix, if it is not in m already
	}
	m[h] |= cats
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
		as[i].gazEnd = 0
		as[i].orgKey = g.orgKeys[as[i].lower] && as[i].flags&fInitCap != 0
	}
	if g == nil {
		return
	}
	markPhrases(as, g.phrases, g.maxLen)
	markPhrases(as, g.train, g.trainMax)
}

// markPhrases sets the bits of the phrases of m (with their prefixes, see gazetteer) that
// start at a capitalised token or a digit and are at most maxLen tokens long.
func markPhrases(as []attrs, m map[uint64]uint32, maxLen int) {
	if len(m) == 0 {
		return
	}
	for i := range as {
		if as[i].flags&(fInitCap|fHasDigit|fMixed) == 0 {
			continue
		}
		h := uint64(fnvOffset)
		for j := i; j < len(as) && j-i < maxLen; j++ {
			h = mix(h, as[j].lower)
			cats, ok := m[h]
			if !ok {
				break
			}
			if cats == 0 {
				continue
			}
			as[i].gaz |= cats
			for k := i + 1; k <= j; k++ {
				as[k].gaz |= cats << gazInside
			}
			as[j].gazEnd |= cats
		}
	}
}
