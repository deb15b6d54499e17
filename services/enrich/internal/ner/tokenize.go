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
	var cur []token
	flush := func() {
		if len(cur) > 0 {
			out = append(out, cur)
			cur = nil
		}
	}
	newlines := 0
	indent := false
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
		// A blank line or an indented new line starts a new paragraph, hence a new sentence.
		if newlines >= 2 || (newlines == 1 && indent) {
			flush()
		}
		newlines, indent = 0, false
		if isWordRune(r) {
			j := i + size
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
				w := s[i:j]
				if strings.IndexByte(w, '.') >= 0 || abbreviations[w] || (len(w) == 1 && w[0] >= 'A' && w[0] <= 'Z') ||
					len(w) > 1 && isUpperASCII(w) && abbreviations[w[:1]+strings.ToLower(w[1:])] {
					j++
				}
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
		if len(cur) >= maxSentence {
			flush()
			continue
		}
		// Sentence end: . ! ? or an ellipsis, followed by something that does not start lower case.
		last := cur[len(cur)-1].text
		if last == "." || last == "!" || last == "?" || last == "..." {
			k := i
			for k < len(s) {
				r2, sz2 := utf8.DecodeRuneInString(s[k:])
				if !unicode.IsSpace(r2) {
					break
				}
				k += sz2
			}
			if k > i || k >= len(s) {
				r2, _ := utf8.DecodeRuneInString(s[k:])
				if k >= len(s) || !unicode.IsLower(r2) {
					flush()
				}
			}
		}
	}
	flush()
	return out
}

// appendWord appends the word s[i:j], split where the recogniser needs the name part on its own:
// a possessive "'s" ("Syria’s" → "Syria", "’s") and lower-case hyphenated prefixes and suffixes of
// a capitalised core ("anti-Assad" → "anti", "-", "Assad"; "UK-backed" → "UK", "-", "backed").
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
		// Find the first and last capitalised parts.
		first, last := -1, -1
		pos := i
		for p := 0; ; p++ {
			k := strings.IndexByte(s[pos:j], '-')
			part := s[pos:j]
			if k >= 0 {
				part = s[pos : pos+k]
			}
			if startsUpper(part) {
				if first < 0 {
					first = pos
				}
				last = pos + len(part)
			}
			if k < 0 {
				break
			}
			pos += k + 1
		}
		if first >= 0 {
			coreStart, coreEnd := i, j
			if first > i {
				prefix := s[i : first-1]
				if !nameParticles[strings.ToLower(prefix)] && isLowerWord(prefix) {
					coreStart = first
				}
			}
			if last < j && isLowerWord(s[last+1:j]) {
				coreEnd = last
			}
			if coreStart != i || coreEnd != j {
				if coreStart != i {
					cur = append(cur, token{start: i, end: coreStart - 1, text: normWord(s[i : coreStart-1])},
						token{start: coreStart - 1, end: coreStart, text: "-"})
				}
				cur = append(cur, token{start: coreStart, end: coreEnd, text: normWord(s[coreStart:coreEnd])})
				if coreEnd != j {
					cur = append(cur, token{start: coreEnd, end: coreEnd + 1, text: "-"},
						token{start: coreEnd + 1, end: j, text: normWord(s[coreEnd+1 : j])})
				}
				return cur
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
