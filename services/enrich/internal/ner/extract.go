package ner

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/newsflow/newsflow/pkg/article"
)

var typeNames = [5]string{"", article.TypePerson, article.TypeOrg, article.TypeLoc, article.TypeMisc}

// rawSent is one sentence of raw text: its field (0 title, 1 body) and tokens.
type rawSent struct {
	field int
	toks  []token
}

// span is one entity mention found by the tagger: tokens [start, end) of sentence sent.
type span struct {
	sent, start, end, typ int
}

// Extract returns the entities of an article, one per distinct entity with all its mentions
// (byte offsets into title or body). The body is tagged before the title, so that a headline can
// lean on what the body says; a title-case headline ("Imperialism Hits The Rocks") keeps only the
// names the body confirms or the lists know, because capitals carry no information there. After
// tagging, names found once are propagated to their other occurrences, an acronym defined in
// parentheses is linked to its expansion, and shorter mentions join the full name they abbreviate
// (a lone surname, a company without its legal form).
func (r *Recognizer) Extract(title, body string) []article.Entity {
	texts := [2]string{title, body}
	var sents []rawSent
	for _, t := range tokenize(body, nil) {
		sents = append(sents, rawSent{field: 1, toks: t})
	}
	nBody := len(sents)
	titleSents := tokenize(title, nil)
	titleCase := isTitleCase(titleSents) || isAllCaps(titleSents)
	for _, t := range titleSents {
		sents = append(sents, rawSent{field: 0, toks: t})
	}
	if len(sents) == 0 {
		return nil
	}
	doc := make([][]string, len(sents))
	for i, s := range sents {
		words := make([]string, len(s.toks))
		for j, t := range s.toks {
			words[j] = t.text
		}
		doc[i] = words
	}
	b := r.getBuf()
	defer r.putBuf(b)
	r.tagDoc(doc, b)
	tags := b.tags[:len(doc)]

	aliases := r.linkAcronyms(doc, tags)
	strong := r.refine(doc, tags)
	r.propagate(doc, tags)

	var spans []span
	for si := range doc {
		entitySpans(tags[si], func(start, end, typ int) {
			spans = append(spans, span{si, start, end, typ})
		})
	}
	if titleCase {
		spans = r.filterTitle(spans, doc, nBody)
	}
	return r.group(spans, sents, doc, texts, aliases, strong)
}

// isTitleCase reports whether a headline capitalises (nearly) every longer word, as in
// "As Imperialism Hits The Rocks". ALL-CAPS headlines are not title case: the model was trained
// on those.
func isTitleCase(sents [][]token) bool {
	words, upper, allCaps := 0, 0, 0
	for _, s := range sents {
		for _, t := range s {
			if utf8.RuneCountInString(t.text) < 4 || !startsLetter(t.text) {
				continue
			}
			words++
			if startsUpper(t.text) {
				upper++
				if strings.ToUpper(t.text) == t.text {
					allCaps++
				}
			}
		}
	}
	return words >= 3 && upper*10 >= words*8 && allCaps*2 < words
}

// isAllCaps reports whether a headline is written in capitals ("BANK OF JAPAN CUTS QTR
// FORECAST", as wire services did). Capitals carry no information there either: on Reuters the
// model read "BILL", "QTR" and "INC" in such headlines as names. Like a title-case headline, it
// keeps only what the body confirms.
func isAllCaps(sents [][]token) bool {
	words, caps := 0, 0
	for _, s := range sents {
		for _, t := range s {
			if utf8.RuneCountInString(t.text) < 2 || !startsLetter(t.text) {
				continue
			}
			words++
			if strings.ToUpper(t.text) == t.text {
				caps++
			}
		}
	}
	return words >= 2 && caps*10 >= words*9
}

func startsLetter(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return unicode.IsLetter(r)
}

// key normalises an entity's tokens for comparison: lower case, hyphens as spaces.
func key(words []string) string {
	var sb strings.Builder
	for i, w := range words {
		if i > 0 {
			sb.WriteByte(' ')
		}
		for _, r := range w {
			if r == '-' {
				r = ' '
			}
			sb.WriteRune(unicode.ToLower(r))
		}
	}
	return sb.String()
}

// keyHash is a hash of key(words), computed without building the string.
func keyHash(words []string) uint64 {
	h := uint64(fnvOffset)
	for i, w := range words {
		if i > 0 {
			h = (h ^ ' ') * fnvPrime
		}
		for _, r := range w {
			if r == '-' {
				r = ' '
			} else if r < utf8.RuneSelf {
				if 'A' <= r && r <= 'Z' {
					r += 'a' - 'A'
				}
			} else {
				r = unicode.ToLower(r)
			}
			h = (h ^ uint64(r)) * fnvPrime
		}
	}
	return h
}

// filterTitle drops title mentions the body does not confirm (the same name, or a token of a
// longer body name), unless the lists know the name as one type, which it then takes.
func (r *Recognizer) filterTitle(spans []span, doc [][]string, nBody int) []span {
	known := map[string]bool{}
	for _, sp := range spans {
		if sp.sent >= nBody {
			continue
		}
		known[key(doc[sp.sent][sp.start:sp.end])] = true
		for _, w := range doc[sp.sent][sp.start:sp.end] {
			known[key([]string{w})] = true
		}
	}
	out := spans[:0]
	for _, sp := range spans {
		words := doc[sp.sent][sp.start:sp.end]
		if sp.sent < nBody || known[key(words)] {
			out = append(out, sp)
		} else if lt := r.listType(words); lt != 0 {
			sp.typ = lt // the tagger had no case to read the type from; the lists know the name
			out = append(out, sp)
		}
	}
	return out
}

// knownNameBits are the gazetteer categories that hold whole names: the curated places,
// nationalities and organisations, and the names of the training data. Not given names,
// surnames or the generated place lists: alone, many of those are common words ("Bill").
const knownNameBits = 1<<gazHandLoc | 1<<gazHandMisc | 1<<gazHandOrg |
	1<<gazTrainPer | 1<<gazTrainOrg | 1<<gazTrainLoc | 1<<gazTrainMisc

// placeBits and nonPlaceBits split the whole-name categories into places and nationalities,
// and the others.
const (
	placeBits    = 1<<gazHandLoc | 1<<gazHandMisc | 1<<gazTrainLoc | 1<<gazTrainMisc
	nonPlaceBits = knownNameBits &^ placeBits
)

// nameBits returns the gazetteer categories of words as a whole phrase, from the lists and
// from the training data's names.
func (r *Recognizer) nameBits(words []string) uint32 {
	h := phraseHash(words)
	return r.gaz.phrases[h] | r.gaz.train[h]
}

// listType returns the only type the lists give words as a whole name (curated lists or the
// training data's names), or 0.
func (r *Recognizer) listType(words []string) int {
	bits := r.nameBits(words)
	typ := 0
	for t, mask := range [5]uint32{1: 1 << gazTrainPer, 2: 1<<gazHandOrg | 1<<gazTrainOrg,
		3: 1<<gazHandLoc | 1<<gazTrainLoc, 4: 1<<gazHandMisc | 1<<gazTrainMisc} {
		if bits&mask != 0 {
			if typ != 0 {
				return 0
			}
			typ = t
		}
	}
	return typ
}

// corpSuffix words are the legal form of a company; alone they name nothing.
var corpSuffix = map[string]bool{"corp": true, "corporation": true, "inc": true, "incorporated": true, "co": true,
	"ltd": true, "plc": true, "llc": true, "ag": true, "nv": true, "gmbh": true, "bhd": true, "spa": true, "cos": true}

// legalForm words end a company's name (corpSuffix and the forms that are also common words or
// abbreviations alone: "SA", "AB").
var legalForm = func() map[string]bool {
	m := map[string]bool{"sa": true, "bv": true, "ab": true, "asa": true, "oyj": true, "pte": true, "srl": true,
		"sarl": true, "kgaa": true, "limited": true, "s.a": true, "n.v": true}
	for w := range corpSuffix {
		m[w] = true
	}
	return m
}()

// isLegalForm reports whether w is a capitalised legal form ("Inc", "Corp.", "SA").
func isLegalForm(w string) bool {
	return startsUpper(w) && legalForm[strings.ToLower(strings.TrimSuffix(w, "."))]
}

// endFiller words never end a name, whatever their case ("US AND UK-backed").
var endFiller = map[string]bool{"and": true, "of": true, "the": true, "for": true, "in": true, "on": true, "at": true, "to": true, "or": true}

var acronymFiller = map[string]bool{"of": true, "for": true, "the": true, "and": true, "on": true, "in": true, "&": true, "de": true, "du": true, "des": true}

// linkAcronyms finds "Full Name (FN)" and tags Full Name as one entity, FN with the same type,
// and returns acronym key → full-name key. It also tags later bare uses of the acronym.
func (r *Recognizer) linkAcronyms(doc [][]string, tags [][]int) map[string]string {
	var aliases map[string]string
	types := map[string]int{}
	for si, words := range doc {
		for j := 1; j+2 < len(words); j++ {
			if words[j] != "(" || words[j+2] != ")" {
				continue
			}
			acr := words[j+1]
			if len(acr) < 2 || len(acr) > 8 || !isUpperASCII(acr) {
				continue
			}
			pos := len(acr) - 1
			k := j - 1
			start := -1
			for ; k >= 0 && pos >= 0; k-- {
				w := words[k]
				switch {
				case w != "" && w[0] == acr[pos] && startsUpper(w):
					pos--
					if pos < 0 {
						start = k
					}
				case acronymFiller[strings.ToLower(w)] && !startsUpper(w):
				default:
					pos = -2
				}
			}
			if start < 0 || j-start < 2 {
				continue
			}
			var counts [5]int
			for _, t := range tags[si][start:j] {
				counts[iobType(t)]++
			}
			counts[iobType(tags[si][j+1])] += 2
			typ := 2 // ORG unless the tagger says otherwise
			best := 0
			for t := 1; t <= 4; t++ {
				if counts[t] > best {
					best, typ = counts[t], t
				}
			}
			for _, w := range words[start:j] {
				if r.gaz.orgKeys[hashLower(w)] && startsUpper(w) {
					typ = 2 // "Council", "Observatory", "Party": an organisation whatever the tagger thought
				}
			}
			bTag := 2*typ - 1
			tags[si][start] = bTag
			for k := start + 1; k < j; k++ {
				tags[si][k] = bTag + 1
			}
			tags[si][j+1] = bTag
			if aliases == nil {
				aliases = map[string]string{}
			}
			aliases[strings.ToLower(acr)] = key(words[start:j])
			types[acr] = typ
		}
	}
	if len(types) > 0 {
		for si, words := range doc {
			for j, w := range words {
				if typ, ok := types[w]; ok && tags[si][j] == 0 {
					tags[si][j] = 2*typ - 1
				}
			}
		}
	}
	return aliases
}

func isUpperASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// handType returns the only entity type (1..4) the hand-curated lists give a phrase, or 0.
func (r *Recognizer) handType(words []string) int {
	bits := r.gaz.hand[phraseHash(words)]
	switch bits & (1<<gazHandLoc | 1<<gazHandMisc | 1<<gazHandOrg | 1<<gazHandPer) {
	case 1 << gazHandPer:
		return 1
	case 1 << gazHandLoc:
		return 3
	case 1 << gazHandOrg:
		return 2
	case 1 << gazHandMisc:
		return 4
	}
	return 0
}

// placeBefore and placeAfter are lower-case words that make the name next to them a place:
// "the town of Morek", "Idlib province"; placeEnd ends names of places ("Hama Province").
// vesselBefore are words that introduce a ship's name ("the tanker Stena Impero"), which CoNLL
// types MISC.
var (
	placeBefore = map[string]bool{"town": true, "city": true, "village": true, "province": true, "region": true,
		"district": true, "capital": true, "port": true, "suburb": true, "county": true, "island": true, "outskirts": true}
	placeAfter = map[string]bool{"province": true, "region": true, "district": true, "county": true, "governorate": true}
	placeEnd   = map[string]bool{"province": true, "region": true, "district": true, "county": true, "governorate": true,
		"island": true, "islands": true, "valley": true, "river": true, "mountains": true, "street": true, "square": true,
		"city": true, "bay": true, "gulf": true, "sea": true, "lake": true, "peninsula": true, "desert": true, "strait": true}
	orgAfter     = map[string]bool{"newspaper": true, "daily": true, "militia": true, "company": true, "firm": true, "agency": true}
	vesselBefore = map[string]bool{"ship": true, "vessel": true, "tanker": true, "supertanker": true, "freighter": true,
		"ferry": true, "yacht": true, "trawler": true, "frigate": true, "destroyer": true, "cruiser": true, "submarine": true}
)

// contextType returns the type that the words around a span impose, or 0. typ is the tagger's
// type, ht the hand lists' (0 if none); they are evidence the context must not overrule where
// the context is ambiguous: a nationality or a listed place before "county" or "firm" is an
// adjective ("English county cricket", "a U.S. firm"), and a name ending in "City" or "County"
// that the tagger read as an organisation is often a club ("Manchester City", "Notts County"),
// where one ending in "Province" is not.
func contextType(words []string, start, end, typ, ht int) int {
	if start >= 1 && vesselBefore[words[start-1]] || start >= 2 && words[start-1] == "," && vesselBefore[words[start-2]] {
		return 4 // "the freed supertanker, Adrian Darya 1"
	}
	if ht == 4 {
		return 0
	}
	if start >= 1 && placeBefore[words[start-1]] {
		return 3
	}
	if start >= 2 && words[start-1] == "of" && placeBefore[words[start-2]] {
		return 3
	}
	if end < len(words) && placeAfter[words[end]] {
		return 3
	}
	if last := strings.ToLower(words[end-1]); end-start >= 2 && startsUpper(words[end-1]) && placeEnd[last] &&
		(typ != 2 || last != "city" && last != "county") {
		return 3 // "Hama Province", "Tiananmen Square"
	}
	if end < len(words) && orgAfter[words[end]] && ht != 3 {
		return 2
	}
	return 0
}

// refine applies rules that the sequence model gets wrong on modern text: a span does not end
// with a lower-case word or a conjunction ("Treasury officials", "US AND"); two listed places side
// by side, or joined by "and", are two places ("the United States Iran will", "US AND UK"); a name followed by a legal form is a
// company ("Acme Corp"); a name in a telling context takes its type ("the town of Khan
// Shaykhun"); a lone capitalised common word ("Government") is dropped. The curated lists are
// evidence, not verdicts: the tagger sees them as features and has weighed them against the
// context (a city named in sports results is a team, "Jordan" may be a person), so a list type
// only replaces MISC, the tagger's fallback for a name it cannot place ("the Taliban"). It
// returns the types imposed by the context, by entity key, which then hold for every mention of
// the entity.
func (r *Recognizer) refine(doc [][]string, tags [][]int) map[string]int {
	strong := map[string]int{}
	for si, words := range doc {
		t := tags[si]
		absorbed := -1 // a legal form joined to the name before it, which entitySpans still reports
		entitySpans(t, func(start, end, typ int) {
			if start == absorbed {
				return
			}
			for end-start >= 2 && (!hasLetterOrDigit(words[start]) || endFiller[words[start]]) {
				t[start] = 0
				start++
				t[start] = 2*typ - 1
			}
			if end-start >= 2 && (words[start] == "The" || words[start] == "the") && r.handType(words[start+1:end]) == 4 {
				t[start] = 0 // "The Syrian army": the nationality alone
				start++
				t[start] = 2*typ - 1
			}
			for end-1 > start && (isLowerWord(words[end-1]) && !strings.ContainsRune(words[end-1], '-') ||
				endFiller[strings.ToLower(words[end-1])] || !hasLetterOrDigit(words[end-1])) {
				end--
				t[end] = 0
			}
			for k := start + 1; k+1 < end; k++ {
				if strings.EqualFold(words[k], "and") && r.handType(words[start:k]) == 3 && r.handType(words[k+1:end]) == 3 {
					for j := start; j < end; j++ { // "US AND UK": two places
						t[j] = 6 // I-LOC
					}
					t[start], t[k], t[k+1] = 5, 0, 5
					return
				}
			}
			if typ == 3 && end-start >= 2 && r.handType(words[start:end]) == 0 {
				for k := start + 1; k < end; k++ {
					if r.handType(words[start:k]) == 3 && r.handType(words[k:end]) == 3 {
						t[k] = 5 // B-LOC
						break
					}
				}
			}
			// A legal form makes a company ("Drexel Burnham Lambert Inc"), also where the tagger left
			// it out of the name, or made a name of it alone.
			legal := end-start >= 2 && isLegalForm(words[end-1])
			if !legal && end < len(words) && isLegalForm(words[end]) && !iobInside(t[end]) {
				if end+1 < len(words) && iobInside(t[end+1]) {
					t[end+1] = 2*iobType(t[end+1]) - 1 // what the tagger ran on past the legal form is a name of its own
				}
				t[end] = 2 * typ
				absorbed = end
				end++
				legal = true
			}
			ht := r.handType(words[start:end])
			ct := contextType(words, start, end, typ, ht)
			if ct == 0 && typ == 4 && ht == 2 {
				ct = 2 // MISC is the tagger's fallback for a name it cannot place; the list knows it
			}
			if legal {
				ct = 2
			}
			ht = ct
			if ht != 0 {
				strong[key(words[start:end])] = ht
				t[start] = 2*ht - 1
				for k := start + 1; k < end; k++ {
					t[k] = 2 * ht
				}
				return
			}
			if end-start == 1 && r.lowKnown[hashLower(words[start])] && r.gaz.hand[phraseHash(words[start:end])] == 0 &&
				strings.ToUpper(words[start]) != words[start] {
				t[start] = 0
			}
			if end-start == 1 && corpSuffix[strings.ToLower(strings.TrimSuffix(words[start], "."))] {
				t[start] = 0 // "Corp" split off "Acme Corp" names nobody
			}
		})
	}
	return strong
}

// maxPropagate is the longest name (in tokens) propagated to its other occurrences.
const maxPropagate = 6

// retaggable reports whether tokens [i, j) can become one name: every name already there lies
// inside them (a longer known name wins over the pieces the tagger made of it, as "Khan" and
// "Shaykhun" for "Khan Shaykhun"), and none continues past them.
func retaggable(t []int, i, j int) bool {
	return !iobInside(t[i]) && (j >= len(t) || !iobInside(t[j]))
}

// spanEnd returns the end of the name starting at token i.
func spanEnd(t []int, i int) int {
	j := i + 1
	for j < len(t) && iobInside(t[j]) && iobType(t[j]) == iobType(t[i]) {
		j++
	}
	return j
}

// propagate tags untagged occurrences of names tagged elsewhere in the article (document-level
// consistency: a name seen once is recognised when repeated), and joins pieces of a longer name
// found elsewhere. Single common words ("The") are
// not propagated: only capitalised tokens whose lower-case form is not a common word.
func (r *Recognizer) propagate(doc [][]string, tags [][]int) {
	known := map[uint64][5]int{}
	for si, words := range doc {
		entitySpans(tags[si], func(start, end, typ int) {
			if end-start > maxPropagate {
				return
			}
			k := keyHash(words[start:end])
			c := known[k]
			c[typ]++
			known[k] = c
		})
	}
	if len(known) == 0 {
		return
	}
	for si, words := range doc {
		t := tags[si]
		for i := 0; i < len(words); i++ {
			if iobInside(t[i]) || !startsUpper(words[i]) {
				continue
			}
			for n := min(maxPropagate, len(words)-i); n >= 1; n-- {
				if !startsUpper(words[i+n-1]) || !retaggable(t, i, i+n) {
					continue
				}
				if n == 1 && (t[i] != 0 || r.lowKnown[hashLower(words[i])]) {
					continue
				}
				if n > 1 && t[i] != 0 && spanEnd(t, i) == i+n {
					continue // already this very span
				}
				c, ok := known[keyHash(words[i:i+n])]
				if !ok {
					continue
				}
				typ, best := 0, 0
				for ty := 1; ty <= 4; ty++ {
					if c[ty] > best {
						typ, best = ty, c[ty]
					}
				}
				t[i] = 2*typ - 1
				for k := i + 1; k < i+n; k++ {
					t[k] = 2 * typ
				}
				i += n - 1
				break
			}
		}
	}
}

// entityAcc collects the mentions of one distinct entity.
type entityAcc struct {
	key       string
	names     map[string]int
	nameOrder []string
	acrName   string
	types     [5]int
	mentions  []article.Mention
	head      int // the type a lone first word of this multi-word name takes (mergeMentions)
}

// name is the most frequent surface form (the first seen on ties), the acronym if that is all
// the article uses.
func (e *entityAcc) name() string {
	best, n := e.acrName, 0
	for _, s := range e.nameOrder {
		if c := e.names[s]; c > n {
			best, n = s, c
		}
	}
	return best
}

func (e *entityAcc) typ() int {
	typ, best := 0, 0
	for t := 1; t <= 4; t++ {
		if e.types[t] > best {
			typ, best = t, e.types[t]
		}
	}
	return typ
}

// group turns spans into entities: one per normalised name, acronyms merged into their expansion,
// shorter mentions merged into the full name they abbreviate (mergeMentions).
func (r *Recognizer) group(spans []span, sents []rawSent, doc [][]string, texts [2]string, aliases map[string]string, strong map[string]int) []article.Entity {
	// Title mentions first, then body, each in text order.
	ordered := make([]span, 0, len(spans))
	for _, f := range []int{0, 1} {
		for _, sp := range spans {
			if sents[sp.sent].field == f {
				ordered = append(ordered, sp)
			}
		}
	}
	byKey := map[string]*entityAcc{}
	var accs []*entityAcc
	for _, sp := range ordered {
		toks := sents[sp.sent].toks
		m := article.Mention{Field: article.FieldBody, Start: toks[sp.start].start, End: toks[sp.end-1].end}
		if sents[sp.sent].field == 0 {
			m.Field = article.FieldTitle
		}
		surface := texts[sents[sp.sent].field][m.Start:m.End]
		if strings.ContainsAny(surface, "\n\r\t  ") {
			surface = strings.Join(strings.Fields(surface), " ") // a name broken across lines
		}
		if !hasLetter(surface) {
			continue
		}
		k := key(doc[sp.sent][sp.start:sp.end])
		if full, ok := aliases[k]; ok {
			k = full
		}
		e := byKey[k]
		if e == nil {
			e = &entityAcc{key: k, names: map[string]int{}}
			byKey[k] = e
			accs = append(accs, e)
		}
		if _, isAcr := aliases[key(doc[sp.sent][sp.start:sp.end])]; isAcr {
			e.acrName = surface
		} else {
			if e.names[surface] == 0 {
				e.nameOrder = append(e.nameOrder, surface)
			}
			e.names[surface]++
		}
		e.types[sp.typ]++
		e.mentions = append(e.mentions, m)
	}
	merged := r.mergeMentions(accs, byKey, strong)
	out := make([]article.Entity, 0, len(accs))
	for _, e := range accs {
		if merged[e] {
			continue
		}
		sortMentions(e.mentions)
		typ := e.typ()
		if st := strong[e.key]; st != 0 {
			typ = st
		}
		out = append(out, article.Entity{Name: e.name(), Type: typeNames[typ], Mentions: e.mentions})
	}
	return out
}

// mergeMentions applies document-level consistency: a shorter mention of a name takes the
// entity (and so the type) of the full name the article uses, whatever the tagger read in it.
//   - A company's legal form ("Drexel Burnham Lambert Inc") makes the name an organisation in
//     every mention, also without it ("Drexel Burnham Lambert"): the tagger reads many company
//     names as people.
//   - A lone word that begins exactly one multi-word organisation of the article ("Drexel") is
//     that organisation, unless the lists know it as a place or nationality ("U.K." beside
//     "U.K. Treasury"); one that begins one place named by its context ("Hama" beside "Hama
//     Province") is a place, unless the lists know it as another kind of name.
//   - A lone surname is the one person of the article whose full name ends with it ("Trump"
//     after "Donald Trump"), even where the tagger typed it otherwise, unless the lists know the
//     word as a place or nationality.
//
// byKey indexes accs by key. It returns the entities merged away; a company's type is recorded
// in strong.
func (r *Recognizer) mergeMentions(accs []*entityAcc, byKey map[string]*entityAcc, strong map[string]int) map[*entityAcc]bool {
	merged := map[*entityAcc]bool{}
	into := func(f, e *entityAcc) { // the full name's type stands: the short form is what was unsure
		f.mentions = append(f.mentions, e.mentions...)
		merged[e] = true
	}
	// Legal forms: "x y inc" is an organisation, and so is "x y".
	for _, e := range accs {
		sp := strings.LastIndexByte(e.key, ' ')
		if sp < 0 || !legalForm[strings.TrimSuffix(e.key[sp+1:], ".")] {
			continue
		}
		strong[e.key] = 2
		if short := byKey[e.key[:sp]]; short != nil && short != e && !merged[short] {
			into(e, short)
		}
	}
	firstOf := map[string][]*entityAcc{} // first word → multi-word entities that begin with it
	lastOf := map[string][]*entityAcc{}  // last word → multi-word persons that end with it
	for _, e := range accs {
		sp := strings.IndexByte(e.key, ' ')
		if sp < 0 || merged[e] {
			continue
		}
		typ := e.typ()
		if st := strong[e.key]; st != 0 {
			typ = st
		}
		firstOf[e.key[:sp]] = append(firstOf[e.key[:sp]], e)
		if typ == 1 {
			last := e.key[strings.LastIndexByte(e.key, ' ')+1:]
			lastOf[last] = append(lastOf[last], e)
		}
		if typ == 2 || typ == 3 && strong[e.key] == 3 {
			e.head = typ // an organisation, or a place its context names ("Hama Province")
		}
	}
	for _, e := range accs {
		if strings.Contains(e.key, " ") || merged[e] || strong[e.key] != 0 {
			continue
		}
		known := r.nameBits([]string{e.key})
		place := known&placeBits != 0 // "U.K." before "U.K. Treasury" is a place, not the Treasury
		if full := lastOf[e.key]; len(full) == 1 && (e.typ() == 1 || !place) {
			into(full[0], e)
			continue
		}
		if full := firstOf[e.key]; len(full) == 1 && (full[0].head == 2 && !place || full[0].head == 3 && known&nonPlaceBits == 0) {
			if full[0].head == 3 {
				strong[e.key] = 3 // "Hama" is a place, but not "Hama Province" itself
			} else {
				into(full[0], e)
			}
		}
	}
	return merged
}

func hasLetterOrDigit(s string) bool {
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return true
		}
	}
	return false
}

func hasLetter(s string) bool {
	for _, r := range s {
		if unicode.IsLetter(r) {
			return true
		}
	}
	return false
}

// sortMentions orders mentions title first, then by offset (insertion sort: lists are short).
func sortMentions(ms []article.Mention) {
	less := func(a, b article.Mention) bool {
		if a.Field != b.Field {
			return a.Field == article.FieldTitle
		}
		return a.Start < b.Start
	}
	for i := 1; i < len(ms); i++ {
		for j := i; j > 0 && less(ms[j], ms[j-1]); j-- {
			ms[j], ms[j-1] = ms[j-1], ms[j]
		}
	}
}
