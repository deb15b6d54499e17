// Package decode turns the bytes of a request or a file into raw article items, one per article,
// without judging their content (that is package normalize's job). It exists separately so that
// the HTTP API and `ingest import` read every format the same way, and so that a fuzz target can
// hammer the one place where untrusted bytes are parsed.
//
// An item that cannot be read (a line of NDJSON that is not JSON, a field of the wrong type,
// invalid UTF-8) comes back with an Err naming the field and the reason, so that a batch reports
// per item instead of failing whole. Only problems that make the whole input unreadable (a JSON
// array cut in the middle, too many items) are returned as errors.
package decode

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/newsflow/newsflow/pkg/articleio"
)

// Raw is an article as it arrived: strings as sent, nothing parsed or checked beyond types.
type Raw struct {
	Source      string
	URL         string
	Title       string
	Body        string
	Authors     []string
	Language    string
	PublishedAt string
}

// Reason codes are the bounded set of rejection causes; they label metrics and let clients
// branch on the cause without parsing the human message.
const (
	CodeMalformed   = "malformed"    // not JSON, or not an object
	CodeType        = "wrong_type"   // a field has the wrong JSON type
	CodeUTF8        = "invalid_utf8" // a field is not valid UTF-8
	CodeMissing     = "missing"      // a required field is absent or empty
	CodeTooLarge    = "too_large"    // a field exceeds its size limit
	CodeInvalidURL  = "invalid_url"  // url is not an absolute http(s) URL
	CodeInvalidDate = "invalid_date" // published_at is in no known format
	// CodeDateOutOfRange: published_at is before the floor or more than two days ahead.
	CodeDateOutOfRange = "date_out_of_range"
	CodeBinary         = "binary"  // control characters: binary data, not text
	CodeInvalid        = "invalid" // any other invalid value
)

// FieldError says which field of an item is wrong and why; Field is empty when the item as a
// whole is unreadable.
type FieldError struct {
	Field  string `json:"field,omitempty"`
	Code   string `json:"code"`
	Reason string `json:"reason"`
}

// Error renders "field: reason".
func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

// Item is one article slot of the input: Raw when it could be read, Err when it could not.
// Line is the 1-based line where the item starts, so that people can find it in a file.
type Item struct {
	Index int
	Line  int
	Raw   Raw
	Err   *FieldError
}

// ErrTooManyItems is returned when the input holds more items than the limit allows; the
// caller answers 413 rather than reading on.
var ErrTooManyItems = errors.New("too many items")

// MalformedError is returned when the input as a whole cannot be parsed (for example a JSON
// array cut off in the middle); there is no way to tell where one item ends.
type MalformedError struct {
	Line   int
	Reason string
}

// Error renders the line and the reason.
func (e *MalformedError) Error() string {
	return fmt.Sprintf("malformed %s at line %d", e.Reason, e.Line)
}

// TextMeta carries what a text/plain article cannot say itself (the HTTP API takes these from
// query parameters, `ingest import` from flags).
type TextMeta struct {
	Source      string
	URL         string
	PublishedAt string
	Language    string
	Authors     []string
}

// Decode splits data, laid out as f, into items. JSON is one object or an array of objects
// (FormatJSON and FormatJSONArray alike), FormatJSONLines one object a line. maxItems <= 0 means
// no limit.
func Decode(f articleio.Format, data []byte, meta TextMeta, maxItems int) ([]Item, error) {
	switch f {
	case articleio.FormatJSON, articleio.FormatJSONArray:
		return decodeJSON(data, maxItems)
	case articleio.FormatJSONLines:
		return decodeNDJSON(data, maxItems)
	case articleio.FormatText:
		return []Item{decodeText(data, meta)}, nil
	}
	return nil, fmt.Errorf("unknown format %v", f)
}

// decodeText splits the seed shape. The body keeps every character after the title line except
// the blank lines that separate it from the title, so offsets computed on a file's body stay
// meaningful.
func decodeText(data []byte, meta TextMeta) Item {
	it := Item{Line: 1, Raw: Raw{Source: meta.Source, URL: meta.URL, PublishedAt: meta.PublishedAt,
		Language: meta.Language, Authors: meta.Authors}}
	if !utf8.Valid(data) {
		it.Err = &FieldError{Field: "body", Code: CodeUTF8, Reason: fmt.Sprintf("not valid UTF-8 (first bad byte at offset %d)", badUTF8(data))}
		return it
	}
	s := strings.TrimPrefix(string(data), "\uFEFF")
	title, body, _ := strings.Cut(s, "\n")
	it.Raw.Title = strings.TrimRight(title, "\r")
	it.Raw.Body = strings.TrimLeft(body, "\r\n")
	return it
}

func decodeNDJSON(data []byte, maxItems int) ([]Item, error) {
	// One line, one item at most: sized once, as the HTTP API's admission charge already counts
	// it, instead of growing a slice of large Items (and copying it) ten times over.
	n := bytes.Count(data, []byte("\n")) + 1
	if maxItems > 0 {
		n = min(n, maxItems)
	} else {
		n = min(n, 1024)
	}
	items := make([]Item, 0, n)
	line := 0
	for len(data) > 0 {
		line++
		var l []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			l, data = data[:i], data[i+1:]
		} else {
			l, data = data, nil
		}
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		if maxItems > 0 && len(items) >= maxItems {
			return nil, fmt.Errorf("%w: more than %d", ErrTooManyItems, maxItems)
		}
		it := Item{Index: len(items), Line: line}
		it.Raw, it.Err = decodeObject(l)
		items = append(items, it)
	}
	return items, nil
}

func decodeJSON(data []byte, maxItems int) ([]Item, error) {
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, &MalformedError{Line: 1, Reason: "JSON: empty input"}
	}
	if trimmed[0] != '[' {
		it := Item{Line: 1 + bytes.Count(data[:len(data)-len(trimmed)], []byte("\n"))}
		it.Raw, it.Err = decodeObject(trimmed)
		return []Item{it}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil { // the '['
		return nil, malformed(data, dec.InputOffset(), err)
	}
	var items []Item
	for dec.More() {
		if maxItems > 0 && len(items) >= maxItems {
			return nil, fmt.Errorf("%w: more than %d", ErrTooManyItems, maxItems)
		}
		var raw json.RawMessage
		// InputOffset before Decode points at the separator; skip it to find the item's line.
		start := dec.InputOffset()
		rest := data[start:]
		skip := len(rest) - len(bytes.TrimLeft(rest, " \t\r\n,"))
		if err := dec.Decode(&raw); err != nil {
			return nil, malformed(data, start+int64(skip), err)
		}
		it := Item{Index: len(items), Line: 1 + bytes.Count(data[:int(start)+skip], []byte("\n"))}
		it.Raw, it.Err = decodeObject(raw)
		items = append(items, it)
	}
	if _, err := dec.Token(); err != nil { // the ']'
		return nil, malformed(data, dec.InputOffset(), err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, malformed(data, dec.InputOffset(), errors.New("unexpected data after the array"))
	}
	return items, nil
}

func malformed(data []byte, off int64, err error) error {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		err = errors.New("unexpected end of input (is the array closed?)")
	}
	return &MalformedError{Line: 1 + bytes.Count(data[:off], []byte("\n")), Reason: "JSON: " + err.Error()}
}

// decodeObject reads one article object field by field, so that a wrong type is reported with
// its field name. Unknown fields are ignored, and so are id and ingested_at: ingest computes them.
func decodeObject(b []byte) (Raw, *FieldError) {
	if r, ok := decodeObjectFast(b); ok {
		return r, nil
	}
	return decodeObjectFieldByField(b)
}

// decodeObjectFieldByField checks each field on its own, so that a fault is reported with the
// field it is in.
func decodeObjectFieldByField(b []byte) (Raw, *FieldError) {
	var r Raw
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return r, &FieldError{Code: CodeMalformed, Reason: "item is not a JSON object"}
		}
		return r, &FieldError{Code: CodeMalformed, Reason: "not valid JSON: " + err.Error()}
	}
	if fields == nil {
		return r, &FieldError{Code: CodeMalformed, Reason: "item is not a JSON object"}
	}
	str := func(name string, dst *string) *FieldError {
		v, ok := fields[name]
		if !ok {
			return nil
		}
		if !utf8.Valid(v) {
			return &FieldError{Field: name, Code: CodeUTF8, Reason: "not valid UTF-8"}
		}
		if string(v) == "null" {
			return nil
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return &FieldError{Field: name, Code: CodeType, Reason: "want a string, got " + jsonKind(v)}
		}
		return nil
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"title", &r.Title}, {"body", &r.Body}, {"source", &r.Source}, {"url", &r.URL},
		{"language", &r.Language}, {"published_at", &r.PublishedAt}} {
		if err := str(f.name, f.dst); err != nil {
			return r, err
		}
	}
	if v, ok := fields["authors"]; ok && string(v) != "null" {
		if !utf8.Valid(v) {
			return r, &FieldError{Field: "authors", Code: CodeUTF8, Reason: "not valid UTF-8"}
		}
		var one string
		if err := json.Unmarshal(v, &r.Authors); err != nil {
			if err := json.Unmarshal(v, &one); err != nil {
				return r, &FieldError{Field: "authors", Code: CodeType, Reason: "want an array of strings, got " + jsonKind(v)}
			}
			r.Authors = []string{one}
		}
	}
	return r, nil
}

func jsonKind(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

func badUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return -1
}
