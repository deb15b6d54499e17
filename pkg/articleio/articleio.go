// Package articleio reads articles from files and streams in the shapes people have them in: a
// plain-text article (first line the title, the rest the body, like the seed article), one JSON
// article (pretty-printed or not), a JSON array of articles, or JSON Lines. It streams, keeps
// input order, and reports each bad record with its place (file:line) without stopping at it
// where the format allows going on. `enrich extract` and the demo (deploy/local/demo) read
// files through it, and `enrich serve` decodes articles.raw records with DecodeJSON.
//
// Format and ReadLine are the one format type and the one line reader of newsflow: `ingest
// import` (services/ingest/internal/importer) reads its .jsonl/.ndjson files with ReadLine, and
// ingest's decode takes a Format. ingest decodes items with its own decode package, not Read,
// because it judges untrusted input field by field (a reason code and the field at fault for
// each item), where extract takes articles already in the contract's shape.
package articleio

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/newsflow/newsflow/pkg/article"
	"github.com/newsflow/newsflow/pkg/kafkax"
)

// maxRecordBytes caps one JSON line or one text article; larger records are reported, not read.
// It is a memory cap, not Kafka's record limit (kafkax.MaxFileRecordBytes says why).
const maxRecordBytes = kafkax.MaxFileRecordBytes

// Record is one article read, or the reason one could not be read, with where it was.
type Record struct {
	Article article.Article
	// Raw is the record as read (a JSON object or the text), for callers that pass it on.
	Raw []byte
	// Where is "name:line" (the first line of the record).
	Where string
	Err   error
}

// Format is how an input of articles is laid out. Read detects it from the first non-blank byte
// and the first line; ingest takes it from a file's extension or a request's Content-Type
// (services/ingest/internal/decode reads each the same way).
type Format int

// The formats newsflow reads.
const (
	// FormatText is the seed article's shape: the first line is the title, the rest the body.
	FormatText Format = iota
	// FormatJSON is one JSON document: an object, or for decoders that take a whole input at
	// once (ingest's decode) also an array of objects; Read reports an array as FormatJSONArray.
	FormatJSON
	// FormatJSONArray is a JSON array of article objects.
	FormatJSONArray
	// FormatJSONLines is one JSON object a line (JSON Lines, also called NDJSON).
	FormatJSONLines
)

// String names the format for logs and messages.
func (f Format) String() string {
	if f < FormatText || f > FormatJSONLines {
		return fmt.Sprintf("format(%d)", int(f))
	}
	return [...]string{"text", "json", "json-array", "json-lines"}[f]
}

// Read streams every record of r (called name in messages) to fn, in order. It stops early when
// fn returns an error, and returns that error. A record that cannot be decoded is handed to fn
// with Err set; in JSON Lines reading goes on at the next line, in a JSON document it stops
// there (the rest cannot be found reliably) after reporting it.
func Read(r io.Reader, name string, fn func(Record) error) (Format, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	first, err := peekNonSpace(br)
	if err == io.EOF {
		return FormatText, fn(Record{Where: name + ":1", Err: errors.New("empty input: no article")})
	}
	if err != nil {
		return FormatText, fmt.Errorf("reading %s: %w", name, err)
	}
	switch first {
	case '[':
		return FormatJSONArray, readArray(br, name, fn)
	case '{':
		line, lerr := ReadLine(br, maxRecordBytes)
		if errors.Is(lerr, ErrLineTooLong) {
			// Longer than any one JSON document Read holds: report it as a JSON line and go on.
			if err := fn(Record{Where: name + ":1", Err: tooLong()}); err != nil {
				return FormatJSONLines, err
			}
			return FormatJSONLines, readLines(br, name, 2, fn)
		}
		if lerr != nil && lerr != io.EOF {
			return FormatJSONLines, fmt.Errorf("reading %s: %w", name, lerr)
		}
		if json.Valid(bytes.TrimSpace(line)) {
			if err := emitJSON(line, name, 1, fn); err != nil {
				return FormatJSONLines, err
			}
			return FormatJSONLines, readLines(br, name, 2, fn)
		}
		// A document over several lines: give the decoder the first line back, with the line
		// end ReadLine took (the decoder's line count needs it).
		first := io.Reader(bytes.NewReader(line))
		if lerr == nil {
			first = io.MultiReader(first, strings.NewReader("\n"))
		}
		return FormatJSON, readStream(io.MultiReader(first, br), name, fn)
	default:
		data, err := io.ReadAll(io.LimitReader(br, maxRecordBytes+1))
		if err != nil {
			return FormatText, fmt.Errorf("reading %s: %w", name, err)
		}
		if len(data) > maxRecordBytes {
			return FormatText, fn(Record{Where: name + ":1", Err: fmt.Errorf("text article larger than %d bytes", maxRecordBytes)})
		}
		a, err := ParseText(string(data))
		return FormatText, fn(Record{Article: a, Raw: data, Where: name + ":1", Err: err})
	}
}

// ParseText reads the seed article's shape: the first non-blank line is the title, the rest
// (trimmed of surrounding blank lines) the body, every character kept.
func ParseText(s string) (article.Article, error) {
	s = strings.TrimPrefix(s, "\ufeff")
	s = strings.TrimLeft(s, "\r\n\t ")
	title, body, _ := strings.Cut(s, "\n")
	title = strings.TrimSpace(title)
	body = strings.Trim(body, "\r\n")
	if title == "" {
		return article.Article{}, errors.New("text article: no title (the first line is the title)")
	}
	return article.Article{Title: title, Body: body}, nil
}

// peekNonSpace skips blank space and a UTF-8 byte-order mark and returns the next byte,
// leaving it unread.
func peekNonSpace(br *bufio.Reader) (byte, error) {
	for {
		p, err := br.Peek(1)
		if err != nil {
			return 0, err
		}
		switch p[0] {
		case ' ', '\t', '\r', '\n':
			_, _ = br.Discard(1)
			continue
		case 0xEF:
			if bom, _ := br.Peek(3); bytes.Equal(bom, []byte{0xEF, 0xBB, 0xBF}) {
				_, _ = br.Discard(3)
				continue
			}
		}
		return p[0], nil
	}
}

// ErrLineTooLong is ReadLine's answer for a line longer than its limit.
var ErrLineTooLong = errors.New("line too long")

// ReadLine returns the next line of br without its line end ("\n" or "\r\n"), and io.EOF with
// the last line (which may be empty) when the input ends. A line longer than limit bytes (not
// counting its "\n") is read to its end but not kept, so that one runaway line cannot take the
// memory: ReadLine returns nil and ErrLineTooLong for it, and the next call reads the line after.
// It is the one line reader of newsflow's file readers: Read's JSON Lines and `ingest import`'s
// .jsonl/.ndjson files (services/ingest/internal/importer), each with its own limit.
func ReadLine(br *bufio.Reader, limit int64) ([]byte, error) {
	var buf []byte
	tooLong := false
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			buf = append(buf, chunk...)
			n := int64(len(buf))
			if err == nil {
				n-- // the '\n'
			}
			if n > limit {
				tooLong, buf = true, nil
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if tooLong {
			if err == nil || errors.Is(err, io.EOF) {
				err = ErrLineTooLong
			}
			return nil, err
		}
		return bytes.TrimRight(buf, "\r\n"), err
	}
}

func tooLong() error { return fmt.Errorf("line longer than %d bytes", maxRecordBytes) }

func readLines(br *bufio.Reader, name string, lineNo int, fn func(Record) error) error {
	for ; ; lineNo++ {
		line, err := ReadLine(br, maxRecordBytes)
		if errors.Is(err, ErrLineTooLong) {
			if err := fn(Record{Where: fmt.Sprintf("%s:%d", name, lineNo), Err: tooLong()}); err != nil {
				return err
			}
			continue
		}
		if len(bytes.TrimSpace(line)) > 0 {
			if err := emitJSON(line, name, lineNo, fn); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading %s:%d: %w", name, lineNo, err)
		}
	}
}

func emitJSON(line []byte, name string, lineNo int, fn func(Record) error) error {
	where := fmt.Sprintf("%s:%d", name, lineNo)
	line = bytes.TrimSpace(line)
	a, err := DecodeJSON(line)
	return fn(Record{Article: a, Raw: line, Where: where, Err: err})
}

// DecodeJSON decodes one article, with messages that name the field at fault.
func DecodeJSON(b []byte) (article.Article, error) {
	var a article.Article
	if err := json.Unmarshal(b, &a); err != nil {
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		var pe *time.ParseError
		switch {
		case errors.As(err, &pe):
			return a, fmt.Errorf("a date is not RFC 3339 (like 2019-08-21T08:00:00Z): %q", pe.Value)
		case errors.As(err, &te):
			return a, fmt.Errorf("field %q: %s is not a valid %s", te.Field, te.Value, te.Type)
		case errors.As(err, &se):
			return a, fmt.Errorf("malformed JSON at byte %d: %v", se.Offset, err)
		default:
			return a, fmt.Errorf("invalid article JSON: %v", err)
		}
	}
	return a, nil
}

// countingReader numbers the lines of a JSON document as the decoder consumes it, so that each
// record can be reported by the line it starts on. Queries come in increasing offset order, so
// newlines already counted are dropped.
type countingReader struct {
	r       io.Reader
	pending []int64 // offsets of newlines not yet counted
	off     int64
	line    int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	for i := 0; i < n; i++ {
		if p[i] == '\n' {
			c.pending = append(c.pending, c.off+int64(i))
		}
	}
	c.off += int64(n)
	return n, err
}

// lineAt returns the 1-based line of byte offset (offsets must not decrease between calls).
func (c *countingReader) lineAt(offset int64) int {
	i := 0
	for i < len(c.pending) && c.pending[i] < offset {
		i++
	}
	c.line += i
	c.pending = c.pending[i:]
	return c.line + 1
}

func readStream(r io.Reader, name string, fn func(Record) error) error {
	cr := &countingReader{r: r}
	dec := json.NewDecoder(cr)
	for {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fn(Record{Where: fmt.Sprintf("%s:%d", name, cr.lineAt(dec.InputOffset())), Err: fmt.Errorf("malformed JSON: %v", err)})
		}
		where := fmt.Sprintf("%s:%d", name, cr.lineAt(dec.InputOffset()-int64(len(raw))))
		a, derr := DecodeJSON(raw)
		if err := fn(Record{Article: a, Raw: raw, Where: where, Err: derr}); err != nil {
			return err
		}
	}
}

func readArray(r io.Reader, name string, fn func(Record) error) error {
	cr := &countingReader{r: r}
	dec := json.NewDecoder(cr)
	if _, err := dec.Token(); err != nil { // the '['
		return fn(Record{Where: name + ":1", Err: fmt.Errorf("malformed JSON array: %v", err)})
	}
	for dec.More() {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fn(Record{Where: fmt.Sprintf("%s:%d", name, cr.lineAt(dec.InputOffset())), Err: fmt.Errorf("malformed JSON: %v", err)})
		}
		where := fmt.Sprintf("%s:%d", name, cr.lineAt(dec.InputOffset()-int64(len(raw))))
		a, derr := DecodeJSON(raw)
		if err := fn(Record{Article: a, Raw: raw, Where: where, Err: derr}); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return fn(Record{Where: name, Err: fmt.Errorf("malformed JSON array end: %v", err)})
	}
	return nil
}
