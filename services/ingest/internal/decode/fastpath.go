package decode

import (
	"bytes"

	"github.com/newsflow/newsflow/pkg/jsonscan"
)

// decodeObjectFast decodes, in one pass over the bytes, what nearly every item is: a JSON object
// in valid UTF-8 whose fields have the right types. It declines (false) everything else, and the
// field-by-field decoder then finds and names the fault, or accepts what only it can: invalid
// UTF-8 anywhere (which encoding/json would silently replace), a wrong type, not an object, a
// key written with escapes, a field named twice (where a struct and a map disagree on which
// value wins when the second is null), a key that matches a field only when case is ignored
// (encoding/json's struct decoding would take "Title" for "title"; the field-by-field decoder
// does not), a lone UTF-16 surrogate escape, nesting deeper than jsonscan.MaxDepth.
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
	p := fastParser{jsonscan.Scanner{Buf: t}}
	r, ok := p.object()
	if !ok || p.I != len(t) {
		return Raw{}, false
	}
	return r, true
}

// fastParser reads one item (jsonscan.Scanner: each field a string of its own, so that an
// article held until Kafka acknowledges it does not also hold the fields ingest ignores).
type fastParser struct{ jsonscan.Scanner }

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

// object reads the top-level object at p.I (a '{').
func (p *fastParser) object() (Raw, bool) {
	var r Raw
	seen := 0
	if empty, ok := p.Open('{', '}'); empty || !ok {
		return r, ok
	}
	for {
		key, ok := p.Key()
		if !ok {
			return r, false // not a name, or one written with escapes
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
		switch bit {
		case 0:
			ok = p.SkipValue(1)
		case fTitle:
			r.Title, ok = p.StringOrNull()
		case fBody:
			r.Body, ok = p.StringOrNull()
		case fSource:
			r.Source, ok = p.StringOrNull()
		case fURL:
			r.URL, ok = p.StringOrNull()
		case fLanguage:
			r.Language, ok = p.StringOrNull()
		case fPublishedAt:
			r.PublishedAt, ok = p.StringOrNull()
		case fAuthors:
			r.Authors, ok = p.authors()
		}
		if !ok {
			return r, false
		}
		if more, ok := p.Next('}'); !more {
			return r, ok
		}
	}
}

// authors reads the authors field: null, one string, or an array of strings (an empty array is
// an empty, non-nil slice, as encoding/json makes it). A null inside the array is declined.
func (p *fastParser) authors() ([]string, bool) {
	if p.Peek() == '"' {
		s, ok := p.String()
		return []string{s}, ok
	}
	return p.Strings()
}
