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
// names the body confirms, because capitals carry no information there. After tagging, names
// found once are propagated to their other occurrences, an acronym defined in parentheses is
// linked to its expansion, and a lone surname is merged with the full name it abbreviates.
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
		spans = filterTitle(spans, doc, nBody)
	}
	return group(spans, sents, doc, texts, aliases, strong)
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

// filterTitle drops title mentions the body does not confirm: the same name, or a token of a
// longer body name.
func filterTitle(spans []span, doc [][]string, nBody int) []span {
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
		if sp.sent < nBody || known[key(doc[sp.sent][sp.start:sp.end])] {
			out = append(out, sp)
		}
	}
	return out
}

// corpSuffix words are the legal form of a company; alone they name nothing.
var corpSuffix = map[string]bool{"corp": true, "corporation": true, "inc": true, "incorporated": true, "co": true,
	"ltd": true, "plc": true, "llc": true, "ag": true, "nv": true, "gmbh": true, "bhd": true, "spa": true, "cos": true}

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
var (
	placeBefore = map[string]bool{"town": true, "city": true, "village": true, "province": true, "region": true,
		"district": true, "capital": true, "port": true, "suburb": true, "county": true, "island": true, "outskirts": true}
	placeAfter = map[string]bool{"province": true, "region": true, "district": true, "county": true, "governorate": true}
	placeEnd   = map[string]bool{"province": true, "region": true, "district": true, "county": true, "governorate": true,
		"island": true, "islands": true, "valley": true, "river": true, "mountains": true, "street": true, "square": true,
		"city": true, "bay": true, "gulf": true, "sea": true, "lake": true, "peninsula": true, "desert": true, "strait": true}
	orgAfter = map[string]bool{"newspaper": true, "daily": true, "militia": true, "company": true, "firm": true, "agency": true}
)

// contextType returns the type that the words around a span impose, or 0.
func contextType(words []string, start, end, typ int) int {
	if start >= 1 && placeBefore[words[start-1]] {
		return 3
	}
	if start >= 2 && words[start-1] == "of" && placeBefore[words[start-2]] {
		return 3
	}
	if end < len(words) && placeAfter[words[end]] {
		return 3
	}
	if end-start >= 2 && startsUpper(words[end-1]) && placeEnd[strings.ToLower(words[end-1])] {
		return 3 // "Hama Province", "Tiananmen Square"
	}
	if end < len(words) && orgAfter[words[end]] && typ != 4 {
		return 2
	}
	return 0
}

// refine applies rules that the sequence model gets wrong on modern text: a span does not end
// with a lower-case word or a conjunction ("Treasury officials", "US AND"); two listed places side by side are two places
// ("the United States Iran will"); a name on the curated lists takes the list's type ("Taliban"),
// as does a name in a telling context ("the town of Khan Shaykhun"); a lone capitalised common
// word ("Government") is dropped. It returns the types so imposed, by entity key, which then
// hold for every mention of the entity.
func (r *Recognizer) refine(doc [][]string, tags [][]int) map[string]int {
	strong := map[string]int{}
	for si, words := range doc {
		t := tags[si]
		entitySpans(t, func(start, end, typ int) {
			for end-start >= 2 && !hasLetterOrDigit(words[start]) {
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
			if typ == 3 && end-start >= 2 && r.handType(words[start:end]) == 0 {
				for k := start + 1; k < end; k++ {
					if r.handType(words[start:k]) == 3 && r.handType(words[k:end]) == 3 {
						t[k] = 5 // B-LOC
						break
					}
				}
			}
			ht := r.handType(words[start:end])
			if ht == 0 {
				ht = contextType(words, start, end, typ)
			}
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
// a lone surname merged into the one full name of a person that ends with it.
func group(spans []span, sents []rawSent, doc [][]string, texts [2]string, aliases map[string]string, strong map[string]int) []article.Entity {
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
	// Merge a lone surname into the unique full person name that ends with it.
	lastOf := map[string][]*entityAcc{}
	for _, e := range accs {
		if e.typ() == 1 && strings.Contains(e.key, " ") {
			last := e.key[strings.LastIndexByte(e.key, ' ')+1:]
			lastOf[last] = append(lastOf[last], e)
		}
	}
	merged := map[*entityAcc]bool{}
	for _, e := range accs {
		if strings.Contains(e.key, " ") || e.typ() != 1 {
			continue
		}
		if full := lastOf[e.key]; len(full) == 1 {
			f := full[0]
			f.mentions = append(f.mentions, e.mentions...)
			for t := range e.types {
				f.types[t] += e.types[t]
			}
			merged[e] = true
		}
	}
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
