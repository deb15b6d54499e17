package dates

import "unicode/utf8"

// Token kinds.
const (
	kWord  uint8 = iota + 1 // ASCII letters
	kNum                    // ASCII digits
	kPunct                  // one ASCII symbol
	kOther                  // one non-ASCII rune (or an invalid byte)
)

// tok is one token. It is kept small because the scanner makes one per word.
type tok struct {
	s, e  int32 // byte offsets, end exclusive
	num   int32 // digits: value (capped); kOther: the rune; kPunct: the byte
	kind  uint8
	class uint8
	val   int8
	flags uint16
	nd    uint8 // number of digits
	cap   bool  // word starts with an upper-case letter
	nl    bool  // a paragraph break comes before it
}

// maxLen bounds the text the scanner looks at so offsets fit in int32.
const maxLen = 1<<31 - 1

// scan splits text into tokens in one pass, appending to toks.
func scan(text string, toks []tok) []tok {
	if len(text) > maxLen {
		text = text[:maxLen]
	}
	nl := false
	n := len(text)
	for i := 0; i < n; {
		c := text[i]
		switch {
		case c == '\n':
			// a paragraph break: a blank line or an indented line; news wires
			// hard-wrap sentences, so a single line break is only a space
			j := i + 1
			for j < n && (text[j] == ' ' || text[j] == '\t' || text[j] == '\r') {
				j++
			}
			if j == n || text[j] == '\n' || j-i > 2 {
				nl = true
			}
			i = j
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			i++
		case isLetter(c):
			j := i + 1
			for j < n && isLetter(text[j]) {
				j++
			}
			l := lookup(text[i:j])
			toks = append(toks, tok{s: int32(i), e: int32(j), kind: kWord, class: l.class, val: l.val,
				flags: l.flags, cap: c <= 'Z', nl: nl})
			nl = false
			i = j
		case '0' <= c && c <= '9':
			j := i
			var v int32
			for j < n && '0' <= text[j] && text[j] <= '9' {
				if v < 100000000 {
					v = v*10 + int32(text[j]-'0')
				}
				j++
			}
			nd := j - i
			if nd > 255 {
				nd = 255
			}
			toks = append(toks, tok{s: int32(i), e: int32(j), kind: kNum, num: v, nd: uint8(nd), nl: nl})
			nl = false
			i = j
		case c < utf8.RuneSelf:
			toks = append(toks, tok{s: int32(i), e: int32(i + 1), kind: kPunct, num: int32(c), nl: nl})
			nl = false
			i++
		default:
			r, size := utf8.DecodeRuneInString(text[i:])
			switch r {
			case 0xA0, 0x2009, 0x202F: // no-break and thin spaces
			case 0x2028, 0x2029:
				nl = true
			default:
				toks = append(toks, tok{s: int32(i), e: int32(i + size), kind: kOther, num: r, nl: nl})
				nl = false
			}
			i += size
		}
	}
	return toks
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
