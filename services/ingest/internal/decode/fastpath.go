package decode

import (
	"bytes"
	"encoding/binary"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// decodeObjectFast decodes, in one pass over the bytes, what nearly every item is: a JSON object
// in valid UTF-8 whose fields have the right types. It declines (false) everything else, and the
// field-by-field decoder then finds and names the fault, or accepts what only it can: invalid
// UTF-8 anywhere (which encoding/json would silently replace), a wrong type, not an object, a
// key written with escapes, a field named twice (where a struct and a map disagree on which
// value wins when the second is null), a key that matches a field only when case is ignored
// (encoding/json's struct decoding would take "Title" for "title"; the field-by-field decoder
// does not), a lone UTF-16 surrogate escape, nesting deeper than maxFastDepth.
//
// It is a hand-written scanner rather than json.Unmarshal into a struct because decoding was a
// third of ingest's CPU time, and encoding/json reads every item twice (checkValid, then the
// decode) after a third pass for UTF-8. It validates the whole item as JSON (RFC 8259), so that
// it accepts nothing the field-by-field decoder would reject, and gives the same Raw for every
// item it accepts; FuzzFastPath checks both.
func decodeObjectFast(b []byte) (Raw, bool) {
	t := bytes.Trim(b, " \t\r\n") // JSON's white space only: "\v" around an item is an error
	if len(t) == 0 || t[0] != '{' {
		return Raw{}, false
	}
	p := fastParser{buf: t}
	r, ok := p.object()
	if !ok || p.i != len(t) {
		return Raw{}, false
	}
	return r, true
}

// maxFastDepth bounds the nesting the fast path follows in fields it ignores; deeper items go
// to the field-by-field decoder (encoding/json's own limit is 10,000).
const maxFastDepth = 64

// fastParser reads one item. Each field it returns is a string of its own (not a substring of
// one copy of the whole item), so that an article held until Kafka acknowledges it does not
// also hold the fields ingest ignores.
type fastParser struct {
	buf []byte
	i   int
}

// Field bits of fastParser.object's seen set.
const (
	fTitle = 1 << iota
	fBody
	fSource
	fURL
	fLanguage
	fPublishedAt
	fAuthors
)

// fastFields are the keys decodeObjectFast decodes, with their bits.
var fastFields = []struct {
	name string
	bit  int
}{{"title", fTitle}, {"body", fBody}, {"source", fSource}, {"url", fURL}, {"language", fLanguage},
	{"published_at", fPublishedAt}, {"authors", fAuthors}}

func (p *fastParser) ws() {
	for p.i < len(p.buf) {
		switch p.buf[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// object reads the top-level object at p.i (a '{').
func (p *fastParser) object() (Raw, bool) {
	var r Raw
	seen := 0
	p.i++ // '{'
	p.ws()
	if p.i < len(p.buf) && p.buf[p.i] == '}' {
		p.i++
		return r, true
	}
	for {
		if p.i >= len(p.buf) || p.buf[p.i] != '"' {
			return r, false
		}
		start := p.i + 1
		if !p.skipString() {
			return r, false
		}
		key := p.buf[start : p.i-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			return r, false // an escaped key: its text cannot be compared here
		}
		bit := 0
		for _, f := range fastFields {
			if len(key) == len(f.name) && bytes.EqualFold(key, []byte(f.name)) {
				if string(key) != f.name || seen&f.bit != 0 {
					return r, false
				}
				bit = f.bit
				break
			}
		}
		seen |= bit
		p.ws()
		if p.i >= len(p.buf) || p.buf[p.i] != ':' {
			return r, false
		}
		p.i++
		p.ws()
		var ok bool
		switch bit {
		case 0:
			ok = p.skipValue(1)
		case fTitle:
			r.Title, ok = p.stringOrNull()
		case fBody:
			r.Body, ok = p.stringOrNull()
		case fSource:
			r.Source, ok = p.stringOrNull()
		case fURL:
			r.URL, ok = p.stringOrNull()
		case fLanguage:
			r.Language, ok = p.stringOrNull()
		case fPublishedAt:
			r.PublishedAt, ok = p.stringOrNull()
		case fAuthors:
			r.Authors, ok = p.authors()
		}
		if !ok {
			return r, false
		}
		if more, ok := p.next('}'); !more {
			return r, ok
		}
	}
}

// next reads what follows a member or an element, after white space: a ',' (more follows: more
// and ok) or close (the end: ok only). Anything else is not JSON (neither).
func (p *fastParser) next(close byte) (more, ok bool) {
	p.ws()
	if p.i >= len(p.buf) {
		return false, false
	}
	switch p.buf[p.i] {
	case ',':
		p.i++
		p.ws()
		return true, true
	case close:
		p.i++
		return false, true
	}
	return false, false
}

// stringOrNull reads a string field; null leaves it empty, as encoding/json does.
func (p *fastParser) stringOrNull() (string, bool) {
	if p.i < len(p.buf) && p.buf[p.i] == '"' {
		return p.string()
	}
	return "", p.literal("null")
}

// authors reads the authors field: null, one string, or an array of strings (an empty array is
// an empty, non-nil slice, as encoding/json makes it). A null inside the array is declined.
func (p *fastParser) authors() ([]string, bool) {
	if p.i >= len(p.buf) {
		return nil, false
	}
	switch p.buf[p.i] {
	case '"':
		s, ok := p.string()
		return []string{s}, ok
	case 'n':
		return nil, p.literal("null")
	case '[':
	default:
		return nil, false
	}
	p.i++
	p.ws()
	out := []string{}
	if p.i < len(p.buf) && p.buf[p.i] == ']' {
		p.i++
		return out, true
	}
	for {
		if p.i >= len(p.buf) || p.buf[p.i] != '"' {
			return nil, false
		}
		s, ok := p.string()
		if !ok {
			return nil, false
		}
		out = append(out, s)
		if more, ok := p.next(']'); !more {
			if !ok {
				return nil, false
			}
			return out, true
		}
	}
}

// literal reads the bytes of lit (true, false, null).
func (p *fastParser) literal(lit string) bool {
	if len(p.buf)-p.i < len(lit) || string(p.buf[p.i:p.i+len(lit)]) != lit {
		return false
	}
	p.i += len(lit)
	return true
}

// skipString moves past the string at p.i (a '"') and reports whether it is valid: no control
// characters, valid escapes, valid UTF-8, and no \u escape encoding.Unmarshal would replace
// (a lone surrogate).
func (p *fastParser) skipString() bool {
	_, _, ok := p.scanString()
	return ok
}

// scanString moves past the string at p.i (a '"'), validating it as skipString does, and
// returns its contents' bounds in buf (without the quotes) and whether it has escapes.
func (p *fastParser) scanString() (start int, esc bool, ok bool) {
	p.i++
	start = p.i
	for p.i < len(p.buf) {
		// Eight bytes at a time past plain ASCII text, which is most of an article.
		for p.i+8 <= len(p.buf) && plain8(p.buf[p.i:p.i+8]) {
			p.i += 8
		}
		if p.i >= len(p.buf) {
			break
		}
		c := p.buf[p.i]
		switch {
		case c == '"':
			p.i++
			return start, esc, true
		case c == '\\':
			esc = true
			n, valid := escapeLen(p.buf[p.i:])
			if !valid {
				return start, esc, false
			}
			p.i += n
		case c < 0x20:
			return start, esc, false
		case c < utf8.RuneSelf:
			p.i++
		default:
			r, n := utf8.DecodeRune(p.buf[p.i:])
			if r == utf8.RuneError && n <= 1 {
				return start, esc, false
			}
			p.i += n
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

// string reads the string at p.i (a '"').
func (p *fastParser) string() (string, bool) {
	start, esc, ok := p.scanString()
	if !ok {
		return "", false
	}
	raw := p.buf[start : p.i-1]
	if !esc {
		return string(raw), true
	}
	return unescape(raw), true
}

// unescape decodes the escapes of raw, which scanString has validated. A strings.Builder hands
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

// plain8 reports whether the eight bytes of b are all ASCII that a JSON string holds as they
// are (no control character, '"' or '\\'), testing them as one word: a byte below 0x20 makes
// x-0x20 borrow into its high bit, a byte equal to c makes x^c zero, and so on. It may not say
// which byte, and need not: the caller then looks at them one by one.
func plain8(b []byte) bool {
	x := binary.LittleEndian.Uint64(b)
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	q := x ^ (lo * '"')
	s := x ^ (lo * '\\')
	return ((x-lo*0x20)&^x|(q-lo)&^q|(s-lo)&^s|x)&hi == 0
}

// skipValue moves past any JSON value at p.i, validating it; depth counts the enclosing
// objects and arrays.
func (p *fastParser) skipValue(depth int) bool {
	if p.i >= len(p.buf) || depth > maxFastDepth {
		return false
	}
	switch c := p.buf[p.i]; {
	case c == '"':
		return p.skipString()
	case c == '{':
		p.i++
		p.ws()
		if p.i < len(p.buf) && p.buf[p.i] == '}' {
			p.i++
			return true
		}
		for {
			if p.i >= len(p.buf) || p.buf[p.i] != '"' || !p.skipString() {
				return false
			}
			p.ws()
			if p.i >= len(p.buf) || p.buf[p.i] != ':' {
				return false
			}
			p.i++
			p.ws()
			if !p.skipValue(depth + 1) {
				return false
			}
			if more, ok := p.next('}'); !more {
				return ok
			}
		}
	case c == '[':
		p.i++
		p.ws()
		if p.i < len(p.buf) && p.buf[p.i] == ']' {
			p.i++
			return true
		}
		for {
			if !p.skipValue(depth + 1) {
				return false
			}
			if more, ok := p.next(']'); !more {
				return ok
			}
		}
	case c == 't':
		return p.literal("true")
	case c == 'f':
		return p.literal("false")
	case c == 'n':
		return p.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		return p.number()
	}
	return false
}

// number moves past a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *fastParser) number() bool {
	digits := func() int {
		n := 0
		for p.i < len(p.buf) && '0' <= p.buf[p.i] && p.buf[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.buf[p.i] == '-' {
		p.i++
	}
	if p.i >= len(p.buf) {
		return false
	}
	if p.buf[p.i] == '0' {
		p.i++
	} else if digits() == 0 {
		return false
	}
	if p.i < len(p.buf) && p.buf[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return false
		}
	}
	if p.i < len(p.buf) && (p.buf[p.i] == 'e' || p.buf[p.i] == 'E') {
		p.i++
		if p.i < len(p.buf) && (p.buf[p.i] == '+' || p.buf[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return false
		}
	}
	return true
}
