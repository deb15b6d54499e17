package ner

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// token is one token of raw text: bytes [start, end) of the field, and the text the features see
// (typographic quotes and dashes mapped to the ASCII forms of the training data).
type token struct {
	start, end int
	text       string
}

// maxSentence bounds a sentence: text without punctuation is cut into pieces of this many tokens,
// so work stays linear whatever the input.
const maxSentence = 120

// abbreviations keep their final period, so that "Mr." or "Corp." do not end a sentence.
var abbreviations = map[string]bool{
	"Mr": true, "Mrs": true, "Ms": true, "Dr": true, "Prof": true, "St": true, "Jr": true, "Sr": true,
	"Inc": true, "Corp": true, "Co": true, "Ltd": true, "Bros": true, "Gen": true, "Sen": true,
	"Rep": true, "Gov": true, "Lt": true, "Col": true, "Capt": true, "Sgt": true, "Maj": true,
	"Adm": true, "Rev": true, "Hon": true, "vs": true, "No": true, "Jan": true, "Feb": true,
	"Mar": true, "Apr": true, "Jun": true, "Jul": true, "Aug": true, "Sep": true, "Sept": true,
	"Oct": true, "Nov": true, "Dec": true, "Mt": true, "Ft": true, "Ave": true, "etc": true,
	// US states as datelines and addresses write them ("St. Petersburg, Fla.", "Mo.-based").
	"Ala": true, "Ariz": true, "Ark": true, "Calif": true, "Colo": true, "Conn": true, "Del": true,
	"Fla": true, "Ga": true, "Ill": true, "Ind": true, "Kan": true, "Ky": true, "La": true, "Md": true,
	"Mass": true, "Mich": true, "Minn": true, "Miss": true, "Mo": true, "Mont": true, "Neb": true,
	"Nev": true, "Okla": true, "Ore": true, "Pa": true, "Tenn": true, "Tex": true, "Va": true,
	"Vt": true, "Wash": true, "Wis": true, "Wyo": true,
}

// nameParticles stay attached to the name that follows the hyphen ("al-Watan", "bin-Laden").
var nameParticles = map[string]bool{
	"al": true, "el": true, "ad": true, "as": true, "ash": true, "an": true, "ar": true,
	"az": true, "at": true, "bin": true, "ibn": true, "abu": true, "bint": true, "ben": true,
}

func isWordRune(r rune) bool {
	return r < utf8.RuneSelf && (('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9')) ||
		r >= utf8.RuneSelf && r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r))
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

// clitics are the contractions CoNLL-2003 (and the Penn Treebank) write as tokens of their own.
var clitics = map[string]bool{"s": true, "S": true, "m": true, "M": true, "d": true, "D": true,
	"ve": true, "VE": true, "ll": true, "LL": true, "re": true, "RE": true}

// cliticLen returns the byte length of a clitic written apart from its word ("'s", "’ve") that
// starts with the rune of size bytes at s[i], or 0 when there is none there.
func cliticLen(s string, i, size int) int {
	if r, _ := utf8.DecodeRuneInString(s[i:]); r != '\'' && r != '’' {
		return 0
	}
	j := i + size
	k := j
	for k < len(s) && k-j < 2 && ('a' <= s[k] && s[k] <= 'z' || 'A' <= s[k] && s[k] <= 'Z') {
		k++
	}
	if !clitics[s[j:k]] {
		return 0
	}
	if r, _ := utf8.DecodeRuneInString(s[k:]); k < len(s) && isWordRune(r) {
		return 0
	}
	return k - i
}

func isJoiner(r rune) bool {
	return r == '.' || r == '-' || r == '\'' || r == '’' || r == '&' || r == '\u2010' || r == '\u2011'
}

// tokenize splits text into sentences of tokens, keeping byte offsets. It never panics: invalid
// UTF-8 bytes are treated as separators.
func tokenize(s string, out [][]token) [][]token {
	// The sentences share one backing array, each capped where it ends so that nothing appended
	// later runs into the next; one that outgrows it moves to its own. Growing every sentence
	// from nil was a fifth of the bytes enrich allocates per article. A token takes five bytes
	// of news text or more, with its space.
	cur := make([]token, 0, len(s)/4+16)
	flush := func() {
		if len(cur) > 0 {
			out = append(out, cur[:len(cur):len(cur)])
			cur = cur[len(cur):]
		}
	}
	newlines := 0
	indent := false
	quotes := 0 // straight double quotes seen in this paragraph: an odd count means one is open
	lineParagraphs := !hardWrapped(s)
	i := 0
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError || unicode.IsSpace(r) || unicode.IsControl(r):
			if r == '\n' {
				newlines++
				indent = false
			} else if newlines > 0 && (r == ' ' || r == '\t') {
				indent = true
			}
			i += size
			continue
		}
		// A blank line or an indented new line starts a new paragraph, hence a new sentence; so
		// does any line break in text written one paragraph a line.
		if newlines >= 2 || (newlines == 1 && (indent || lineParagraphs)) {
			flush()
			quotes = 0
		}
		newlines, indent = 0, false
		if isWordRune(r) {
			j, seg := i+size, i
		word:
			for j < len(s) {
				r2, sz2 := utf8.DecodeRuneInString(s[j:])
				if isWordRune(r2) {
					j += sz2
					continue
				}
				if isJoiner(r2) && j+sz2 < len(s) {
					r3, _ := utf8.DecodeRuneInString(s[j+sz2:])
					if isWordRune(r3) {
						j += sz2
						continue
					}
				}
				// A thousands separator keeps a number whole ("1,000", "5,616.21"), as in the
				// training data.
				if r2 == ',' && j+1 < len(s) && isDigit(s[j-1]) && isDigit(s[j+1]) {
					j++
					continue
				}
				break
			}
			// A currency written with its country's letters is one token ("C$", "US$", "HK$"),
			// as in the training data, where it is a name (MISC).
			if j < len(s) && s[j] == '$' && j-i <= 3 && isUpperASCII(s[i:j]) {
				j++
			}
			// Keep the period of abbreviations and initials ("U.S.", "Mr.", "J."), in capitals
			// too ("ST. LOUIS" in a dateline is one place, not two sentences).
			if j < len(s) && s[j] == '.' {
				w := s[seg:j]
				if strings.IndexByte(w, '.') >= 0 || abbreviations[w] || (len(w) == 1 && w[0] >= 'A' && w[0] <= 'Z') ||
					len(w) > 1 && isUpperASCII(w) && abbreviations[w[:1]+strings.ToLower(w[1:])] {
					j++
					// A compound goes on after the period ("U.S.-led", "Mo.-based"): one
					// token, as in the training data.
					if j+1 < len(s) && s[j] == '-' {
						if r3, sz3 := utf8.DecodeRuneInString(s[j+1:]); isWordRune(r3) {
							seg = j + 1
							j += 1 + sz3
							goto word
						}
					}
				}
			}
			if isListNumber(s, i, j, cur) {
				// A list's number ("... 66 2. Nick Faldo ( Britain ) 66"): one token that
				// starts an item, not a number ending a sentence.
				flush()
				j++
			}
			cur = appendWord(cur, s, i, j)
			i = j
		} else if n := cliticLen(s, i, size); n > 0 {
			// A clitic written apart ("Magna 's", "I 'm", as in CoNLL's own text) is one token,
			// as when it is attached: "'" then "s" are not what the model was trained on.
			cur = append(cur, token{start: i, end: i + n, text: "'" + s[i+size:i+n]})
			i += n
		} else {
			j := i + size
			if r == '.' {
				for j < len(s) && s[j] == '.' {
					j++
				}
			}
			cur = append(cur, token{start: i, end: j, text: normPunct(s[i:j])})
			i = j
		}
		last := cur[len(cur)-1].text
		if last == "\"" {
			quotes++
		}
		if len(cur) >= maxSentence {
			flush()
			continue
		}
		k := skipSpace(s, i)
		switch {
		case last == "." || last == "!" || last == "?" || last == "...":
			// Sentence end: . ! ? or an ellipsis, followed by something that does not start
			// lower case. A closing quote after it belongs to the sentence it closes, as in
			// the training data (`he said . "`), and the sentence ends after the quote.
			if q, text := closingQuote(s, k, quotes); q > 0 {
				cur = append(cur, token{start: k, end: k + q, text: text})
				if text == "\"" {
					quotes++
				}
				i = k + q
				k = skipSpace(s, i)
			}
			if k > i || k >= len(s) {
				r2, _ := utf8.DecodeRuneInString(s[k:])
				if k >= len(s) || !unicode.IsLower(r2) {
					flush()
				}
			}
		case k > i && k < len(s) && startsUpper(s[k:]) && isDate(cur):
			// A dateline ("WARSAW 1996-08-30 The National Bank ...", "LONDON, Aug 30 The ..."):
			// the place in capitals and the date are a sentence of their own, so that the next
			// word is read as a sentence start. A byline before it ("Larry Fine NEW YORK
			// 1996-08-30") is one too.
			if start, ok := datelineHead(cur[:len(cur)-dateLen(cur)]); ok {
				splitByline(&out, &cur, start)
				flush()
			}
		case k > i && k < len(s) && startsUpper(s[k:]) && len(cur) >= 2 && isNumber(last) && isNumber(cur[len(cur)-2].text):
			// A table written on one line ("Alloa 3 1 1 1 3 3 4 Queen 's Park 3 1 ..."): a
			// capitalised word after a run of numbers starts the next row.
			flush()
		}
	}
	flush()
	return out
}

// appendWord appends the word s[i:j], split where the recogniser needs the name part on its own:
// a possessive "'s" ("Syria’s" → "Syria", "’s") and a lower-case hyphenated prefix of a
// capitalised core ("anti-Assad" → "anti", "-", "Assad"), so that the name inside is found. A
// lower-case suffix stays on its word ("UK-backed", "U.S.-led", "Bergamo-based"): CoNLL-2003
// writes such a compound as one token and tags it MISC as a whole (89 times in train, against 57
// times O, mostly capitalised sentence starts such as "A-rated"), so the model knows it whole;
// splitting it lost 0.4 F1 on valid through the text path.
func appendWord(cur []token, s string, i, j int) []token {
	w := s[i:j]
	// Possessive.
	if n := len(w); n > 2 && (strings.HasSuffix(w, "'s") || strings.HasSuffix(w, "'S")) {
		cur = appendWord(cur, s, i, j-2)
		return append(cur, token{start: j - 2, end: j, text: w[n-2:]})
	}
	if n := len(w); n > 4 && (strings.HasSuffix(w, "’s") || strings.HasSuffix(w, "’S")) {
		cur = appendWord(cur, s, i, j-4)
		return append(cur, token{start: j - 4, end: j, text: "'s"})
	}
	if strings.IndexByte(w, '-') > 0 {
		// Find the first capitalised part.
		first := -1
		for pos := i; first < 0; {
			k := strings.IndexByte(s[pos:j], '-')
			part := s[pos:j]
			if k >= 0 {
				part = s[pos : pos+k]
			}
			if startsUpper(part) {
				first = pos
			}
			if k < 0 {
				break
			}
			pos += k + 1
		}
		if first > i {
			if prefix := s[i : first-1]; !nameParticles[strings.ToLower(prefix)] && isLowerWord(prefix) {
				cur = append(cur, token{start: i, end: first - 1, text: normWord(prefix)},
					token{start: first - 1, end: first, text: "-"})
				return append(cur, token{start: first, end: j, text: normWord(s[first:j])})
			}
		}
	}
	return append(cur, token{start: i, end: j, text: normWord(w)})
}

func startsUpper(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return unicode.IsUpper(r)
}

// isLowerWord reports whether s has letters and none of them is upper case ("backed", "anti-").
func isLowerWord(s string) bool {
	letters := false
	for _, r := range s {
		if unicode.IsUpper(r) {
			return false
		}
		if unicode.IsLetter(r) {
			letters = true
		}
	}
	return letters
}

// normWord maps typographic apostrophes and hyphens inside a word to ASCII; it allocates only
// when the word has such a character.
func normWord(w string) string {
	for k := 0; k < len(w); k++ {
		if w[k] >= utf8.RuneSelf {
			if strings.ContainsRune(w, '’') || strings.ContainsRune(w, '‘') || strings.ContainsRune(w, '\u2010') || strings.ContainsRune(w, '\u2011') {
				return wordReplacer.Replace(w)
			}
			return w
		}
	}
	return w
}

var wordReplacer = strings.NewReplacer("’", "'", "‘", "'", "\u2010", "-", "\u2011", "-")

// normPunct maps one punctuation token to the form the training data uses.
func normPunct(p string) string {
	switch p {
	case "’", "‘", "‚", "′":
		return "'"
	case "“", "”", "„", "«", "»", "″":
		return "\""
	case "–", "—", "‒", "―", "−":
		return "-"
	case "…":
		return "..."
	}
	return p
}

// wrapWidth is the longest line of hard-wrapped text: Reuters-21578 and e-mail wrap at 70 to 80
// characters, so a longer line means the text is written one paragraph a line.
const wrapWidth = 100

// hardWrapped reports whether s may be wrapped at a fixed width, so that a single line break is
// no paragraph end ("Drexel Burnham\nLambert" is one name): fewer than a quarter of its lines are
// longer than wrapWidth bytes (one long line, a URL say, does not make wrapped text otherwise).
func hardWrapped(s string) bool {
	lines, long := 0, 0
	for len(s) > 0 {
		k := strings.IndexByte(s, '\n')
		if k < 0 {
			k = len(s)
		}
		if k > 0 {
			lines++
			if k > wrapWidth {
				long++
			}
		}
		s = s[min(k+1, len(s)):]
	}
	return long*4 < lines
}

// skipSpace returns the offset of the first non-space rune of s at or after i.
func skipSpace(s string, i int) int {
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if !unicode.IsSpace(r) {
			break
		}
		i += size
	}
	return i
}

// closingQuote returns the byte length and training-data form of a closing quote at s[k:], or
// 0. A typographic quote says which it is (”, ’); a straight double quote closes when an odd
// number of them came before it in the paragraph. The quote must end a word: space or the end of
// the text follows it.
func closingQuote(s string, k, quotes int) (int, string) {
	if k >= len(s) {
		return 0, ""
	}
	r, size := utf8.DecodeRuneInString(s[k:])
	text := "\""
	switch {
	case r == '”' || r == '"' && quotes%2 == 1:
	case r == '’':
		text = "'"
	default:
		return 0, ""
	}
	if next, _ := utf8.DecodeRuneInString(s[k+size:]); k+size < len(s) && !unicode.IsSpace(next) {
		return 0, ""
	}
	return size, text
}

// months are the month names and abbreviations a dateline's date uses ("Aug 30", "Sept. 3").
var months = map[string]bool{
	"Jan": true, "Feb": true, "Mar": true, "Apr": true, "May": true, "Jun": true, "Jul": true,
	"Aug": true, "Sep": true, "Sept": true, "Oct": true, "Nov": true, "Dec": true,
	"January": true, "February": true, "March": true, "April": true, "June": true, "July": true,
	"August": true, "September": true, "October": true, "November": true, "December": true,
}

// isISODate reports whether w is written 1996-08-30.
func isISODate(w string) bool {
	if len(w) != 10 || w[4] != '-' || w[7] != '-' {
		return false
	}
	for k := 0; k < len(w); k++ {
		if k != 4 && k != 7 && !isDigit(w[k]) {
			return false
		}
	}
	return true
}

// dateLen returns how many tokens at the end of toks are a date: 1 for "1996-08-30", 2 for
// "Aug 30" or "Aug. 30", 0 for none.
func dateLen(toks []token) int {
	n := len(toks)
	if n == 0 {
		return 0
	}
	w := toks[n-1].text
	if isISODate(w) {
		return 1
	}
	if n >= 2 && (len(w) == 1 || len(w) == 2) && isDigit(w[0]) && isDigit(w[len(w)-1]) &&
		months[strings.TrimSuffix(toks[n-2].text, ".")] {
		return 2
	}
	return 0
}

func isDate(toks []token) bool { return dateLen(toks) > 0 }

// isCapsWord reports whether w is a word in capitals ("WARSAW", "ST.", "U.S."), not a single
// letter.
func isCapsWord(w string) bool {
	letters := 0
	for _, r := range w {
		switch {
		case unicode.IsLower(r):
			return false
		case unicode.IsLetter(r):
			letters++
		case r == '.' || r == '-' || r == '\'':
		default:
			return false
		}
	}
	return letters >= 2 || letters == 1 && strings.HasSuffix(w, ".")
}

// datelineHead reports whether toks end with the place of a dateline: a run of words in capitals,
// then optionally a comma and a region in title case ("CHISINAU , Moldova", "ARLINGTON, Texas"),
// then optionally a comma (before the date that follows). It returns where the place starts.
func datelineHead(toks []token) (int, bool) {
	j := len(toks) - 1
	if j >= 0 && toks[j].text == "," {
		j--
	}
	r := j
	for r >= 0 && startsUpper(toks[r].text) && !isCapsWord(toks[r].text) {
		r--
	}
	if r < j {
		if r < 0 || toks[r].text != "," {
			return 0, false
		}
		j = r - 1
	}
	e := j
	for j >= 0 && isCapsWord(toks[j].text) {
		j--
	}
	if j == e {
		return 0, false
	}
	return j + 1, true
}

// splitByline makes the words before a dateline's place a sentence of their own when they are
// all capitalised, as a byline is ("Larry Fine NEW YORK 1996-08-30").
func splitByline(out *[][]token, cur *[]token, start int) {
	if start == 0 {
		return
	}
	for _, t := range (*cur)[:start] {
		if !startsUpper(t.text) {
			return
		}
	}
	*out = append(*out, (*cur)[:start:start])
	*cur = (*cur)[start:]
}

// isListNumber reports whether the number s[i:j] is an item number of a list written on one
// line ("... 65 2. Nick Faldo"): one or two digits, a period and a capitalised word follow, and
// the sentence so far ends with a number or a closing parenthesis, as a list item's result does
// ("won 2. He" in prose ends with a word).
func isListNumber(s string, i, j int, cur []token) bool {
	if j-i > 2 || !isDigit(s[i]) || !isDigit(s[j-1]) || j+2 >= len(s) || s[j] != '.' || s[j+1] != ' ' || !startsUpper(s[j+2:]) {
		return false
	}
	if len(cur) == 0 {
		return false
	}
	p := cur[len(cur)-1].text
	return p == ")" || isDigit(p[len(p)-1]) && isDigit(p[0])
}

// isNumber reports whether w is a number as tables write them ("3", "5,616.21", "4:08.22",
// "6-2", "1/2").
func isNumber(w string) bool {
	if w == "" || !isDigit(w[0]) {
		return false
	}
	for k := 0; k < len(w); k++ {
		if !isDigit(w[k]) && w[k] != '.' && w[k] != ',' && w[k] != ':' && w[k] != '/' && w[k] != '-' {
			return false
		}
	}
	return true
}
