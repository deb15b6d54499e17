// Package jsonscan reads JSON in one pass, for the hand-written decoders on newsflow's hot
// paths: ingest's decoder of pushed articles and the index stage's decoder of enriched records.
// Both take the common case with it and leave everything else to a reflection-based decoder,
// so a Scanner only has to be exact about what it accepts: it validates what it reads as JSON
// (RFC 8259) and declines (false) anything encoding/json would read differently, such as
// invalid UTF-8, which encoding/json replaces, or a lone UTF-16 surrogate escape.
package jsonscan

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxDepth bounds the nesting SkipValue follows; deeper values are declined (encoding/json's
// own limit is 10,000).
const MaxDepth = 64

// Scanner reads the JSON in Buf from I. Each string it returns is a copy of its own (not a
// substring of one copy of the whole input), so that a field kept does not keep the rest.
type Scanner struct {
	Buf []byte
	I   int
}

// Peek returns the byte at I, or 0 at the end.
func (p *Scanner) Peek() byte {
	if p.I < len(p.Buf) {
		return p.Buf[p.I]
	}
	return 0
}

// Key reads an object member's name at I (a '"') and the ':' after it, and returns the name's
// bytes in Buf; a name written with escapes is declined, since its text cannot be compared
// without decoding it.
func (p *Scanner) Key() ([]byte, bool) {
	if p.Peek() != '"' {
		return nil, false
	}
	start := p.I + 1
	_, esc, ok := p.ScanString()
	if !ok || esc {
		return nil, false
	}
	key := p.Buf[start : p.I-1]
	p.WS()
	if p.Peek() != ':' {
		return nil, false
	}
	p.I++
	p.WS()
	return key, true
}

// Open moves past the '{' or '[' at I and white space, and reports whether the object or array
// is empty (then also past its close): the loop over its members or elements is then
// "for { read one; if more, ok := p.Next(close); !more { return ok } }".
func (p *Scanner) Open(open, close byte) (empty, ok bool) {
	if p.Peek() != open {
		return false, false
	}
	p.I++
	p.WS()
	if p.Peek() == close {
		p.I++
		return true, true
	}
	return false, true
}

// WS moves past JSON white space.
func (p *Scanner) WS() {
	for p.I < len(p.Buf) {
		switch p.Buf[p.I] {
		case ' ', '\t', '\n', '\r':
			p.I++
		default:
			return
		}
	}
}

// Next reads what follows a member or an element, after white space: a ',' (more follows: more
// and ok) or close (the end: ok only). Anything else is not JSON (neither).
func (p *Scanner) Next(close byte) (more, ok bool) {
	p.WS()
	if p.I >= len(p.Buf) {
		return false, false
	}
	switch p.Buf[p.I] {
	case ',':
		p.I++
		p.WS()
		return true, true
	case close:
		p.I++
		return false, true
	}
	return false, false
}

// StringOrNull reads a string field; null leaves it empty, as encoding/json does.
func (p *Scanner) StringOrNull() (string, bool) {
	if p.I < len(p.Buf) && p.Buf[p.I] == '"' {
		return p.String()
	}
	return "", p.Literal("null")
}

// Literal reads the bytes of lit (true, false, null).
func (p *Scanner) Literal(lit string) bool {
	if len(p.Buf)-p.I < len(lit) || string(p.Buf[p.I:p.I+len(lit)]) != lit {
		return false
	}
	p.I += len(lit)
	return true
}

// SkipString moves past the string at p.I (a '"') and reports whether it is valid: no control
// characters, valid escapes, valid UTF-8, and no \u escape encoding.Unmarshal would replace
// (a lone surrogate).
func (p *Scanner) SkipString() bool {
	_, _, ok := p.ScanString()
	return ok
}

// ScanString moves past the string at p.I (a '"'), validating it as SkipString does, and
// returns its contents' bounds in buf (without the quotes) and whether it has escapes.
func (p *Scanner) ScanString() (start int, esc bool, ok bool) {
	p.I++
	start = p.I
	for p.I < len(p.Buf) {
		// Eight bytes at a time past plain ASCII text, which is most of an article.
		for p.I+8 <= len(p.Buf) {
			n := PlainBytes(binary.LittleEndian.Uint64(p.Buf[p.I:]))
			p.I += n
			if n < 8 {
				break
			}
		}
		if p.I >= len(p.Buf) {
			break
		}
		c := p.Buf[p.I]
		switch {
		case c == '"':
			p.I++
			return start, esc, true
		case c == '\\':
			esc = true
			n, valid := escapeLen(p.Buf[p.I:])
			if !valid {
				return start, esc, false
			}
			p.I += n
		case c < 0x20:
			return start, esc, false
		case c < utf8.RuneSelf:
			p.I++
		default:
			r, n := utf8.DecodeRune(p.Buf[p.I:])
			if r == utf8.RuneError && n <= 1 {
				return start, esc, false
			}
			p.I += n
		}
	}
	return start, esc, false
}

// escapeLen returns the length of the escape at the start of b (a '\\') and whether it is one
// the fast path takes: the short forms, a \u escape of a code point that is not a surrogate, or
// a high surrogate escape followed by a low one (a pair).
func escapeLen(b []byte) (int, bool) {
	if len(b) < 2 {
		return 0, false
	}
	switch b[1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2, true
	case 'u':
		r := hex4(b[2:])
		switch {
		case r < 0:
			return 0, false
		case !utf16.IsSurrogate(r):
			return 6, true
		case r >= 0xdc00 || len(b) < 12 || b[6] != '\\' || b[7] != 'u':
			return 0, false // a lone or reversed surrogate: encoding/json makes it U+FFFD
		}
		if r2 := hex4(b[8:]); r2 < 0xdc00 || r2 > 0xdfff {
			return 0, false
		}
		return 12, true
	}
	return 0, false
}

// hex4 decodes four hex digits at the start of b, or returns -1.
func hex4(b []byte) rune {
	if len(b) < 4 {
		return -1
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// String reads the string at p.I (a '"').
func (p *Scanner) String() (string, bool) {
	start, esc, ok := p.ScanString()
	if !ok {
		return "", false
	}
	raw := p.Buf[start : p.I-1]
	if !esc {
		return string(raw), true
	}
	return unescape(raw), true
}

// unescape decodes the escapes of raw, which ScanString has validated. A strings.Builder hands
// over its bytes as the string without a copy.
func unescape(raw []byte) string {
	var out strings.Builder
	out.Grow(len(raw)) // the text is never longer than its escaped form
	for i := 0; i < len(raw); {
		j := bytes.IndexByte(raw[i:], '\\')
		if j < 0 {
			out.Write(raw[i:])
			break
		}
		out.Write(raw[i : i+j])
		i += j
		switch c := raw[i+1]; c {
		case 'b':
			out.WriteByte('\b')
		case 'f':
			out.WriteByte('\f')
		case 'n':
			out.WriteByte('\n')
		case 'r':
			out.WriteByte('\r')
		case 't':
			out.WriteByte('\t')
		case 'u':
			r := hex4(raw[i+2:])
			if utf16.IsSurrogate(r) {
				r = utf16.DecodeRune(r, hex4(raw[i+8:]))
				i += 6
			}
			out.WriteRune(r)
			i += 6
			continue
		default: // '"', '\\', '/'
			out.WriteByte(c)
		}
		i += 2
	}
	return out.String()
}

// PlainBytes returns how many of the eight bytes of x (little-endian), from the first, are
// ASCII that a JSON string holds as they are: no control character, '"' or '\\'. It tests them
// as one word: a byte below 0x20 makes x-0x20 borrow into its high bit, a byte equal to c makes
// x^c zero, and so on. A borrow can also flag a plain byte, but only above a special one, so the
// lowest flag is exact. Loops over text (ScanString here, article.AppendString, which escapes
// the bytes) jump to the next special byte with it rather than stepping byte by byte.
func PlainBytes(x uint64) int {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	q := x ^ (lo * '"')
	s := x ^ (lo * '\\')
	return bits.TrailingZeros64(((x-lo*0x20)&^x|(q-lo)&^q|(s-lo)&^s|x)&hi) >> 3
}

// Plain8 reports whether all eight bytes of x are plain (PlainBytes).
func Plain8(x uint64) bool { return PlainBytes(x) == 8 }

// SkipValue moves past any JSON value at p.I, validating it; depth counts the enclosing
// objects and arrays.
func (p *Scanner) SkipValue(depth int) bool {
	if p.I >= len(p.Buf) || depth > MaxDepth {
		return false
	}
	switch c := p.Buf[p.I]; {
	case c == '"':
		return p.SkipString()
	case c == '{':
		if empty, _ := p.Open('{', '}'); empty {
			return true
		}
		for {
			if p.I >= len(p.Buf) || p.Buf[p.I] != '"' || !p.SkipString() {
				return false
			}
			p.WS()
			if p.I >= len(p.Buf) || p.Buf[p.I] != ':' {
				return false
			}
			p.I++
			p.WS()
			if !p.SkipValue(depth + 1) {
				return false
			}
			if more, ok := p.Next('}'); !more {
				return ok
			}
		}
	case c == '[':
		if empty, _ := p.Open('[', ']'); empty {
			return true
		}
		for {
			if !p.SkipValue(depth + 1) {
				return false
			}
			if more, ok := p.Next(']'); !more {
				return ok
			}
		}
	case c == 't':
		return p.Literal("true")
	case c == 'f':
		return p.Literal("false")
	case c == 'n':
		return p.Literal("null")
	case c == '-' || '0' <= c && c <= '9':
		return p.Number()
	}
	return false
}

// Number moves past a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *Scanner) Number() bool {
	digits := func() int {
		n := 0
		for p.I < len(p.Buf) && '0' <= p.Buf[p.I] && p.Buf[p.I] <= '9' {
			p.I++
			n++
		}
		return n
	}
	if p.Buf[p.I] == '-' {
		p.I++
	}
	if p.I >= len(p.Buf) {
		return false
	}
	if p.Buf[p.I] == '0' {
		p.I++
	} else if digits() == 0 {
		return false
	}
	if p.I < len(p.Buf) && p.Buf[p.I] == '.' {
		p.I++
		if digits() == 0 {
			return false
		}
	}
	if p.I < len(p.Buf) && (p.Buf[p.I] == 'e' || p.Buf[p.I] == 'E') {
		p.I++
		if p.I < len(p.Buf) && (p.Buf[p.I] == '+' || p.Buf[p.I] == '-') {
			p.I++
		}
		if digits() == 0 {
			return false
		}
	}
	return true
}

// Array reads null (a nil slice) or an array whose elements elem reads, each into a zero T;
// an empty array is an empty, non-nil slice, as encoding/json makes it. A null element is
// declined (encoding/json would make it a zero element, or keep what was there).
func Array[T any](p *Scanner, elem func(*T) bool) ([]T, bool) {
	if p.Peek() == 'n' {
		return nil, p.Literal("null")
	}
	empty, ok := p.Open('[', ']')
	if !ok {
		return nil, false
	}
	out := []T{}
	if empty {
		return out, true
	}
	for {
		if p.Peek() == 'n' {
			return nil, false
		}
		var zero T
		out = append(out, zero) // elem reads into its place: a local it points to would escape
		if !elem(&out[len(out)-1]) {
			return nil, false
		}
		if more, ok := p.Next(']'); !more {
			if !ok {
				return nil, false
			}
			return out, true
		}
	}
}

// Strings reads null or an array of strings (Array). The strings of an array of at most
// maxShared strings without escapes share one copy, made by one allocation rather than one
// each: the similarity band keys are dozens of short strings per record.
func (p *Scanner) Strings() ([]string, bool) {
	start := p.I
	if out, ok, done := p.sharedStrings(); done {
		return out, ok
	}
	p.I = start
	return Array(p, func(s *string) bool {
		if p.Peek() != '"' {
			return false
		}
		var ok bool
		*s, ok = p.String()
		return ok
	})
}

const maxShared = 64

// sharedStrings is Strings for an array it can give one copy; done is false when it cannot
// (an escape, more than maxShared strings), and the caller reads the array again.
func (p *Scanner) sharedStrings() (out []string, ok, done bool) {
	var bounds [maxShared][2]int
	n, size, shared := 0, 0, true
	out, ok = Array(p, func(s *string) bool {
		if p.Peek() != '"' {
			return false
		}
		from, esc, ok := p.ScanString()
		if esc || n == maxShared {
			shared = false
			return false // stop here: the caller reads again
		}
		bounds[n] = [2]int{from, p.I - 1}
		n++
		size += p.I - 1 - from
		return ok
	})
	if !shared {
		return nil, false, false
	}
	if !ok || len(out) == 0 {
		return out, ok, true
	}
	var b strings.Builder
	b.Grow(size)
	for _, r := range bounds[:n] {
		b.Write(p.Buf[r[0]:r[1]])
	}
	all, at := b.String(), 0
	for i, r := range bounds[:n] {
		out[i] = all[at : at+r[1]-r[0]]
		at += r[1] - r[0]
	}
	return out, true, true
}
