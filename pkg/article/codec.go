package article

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/newsflow/newsflow/pkg/jsonscan"
)

// Marshal encodes v (an Article or an Enriched) as the value of a Kafka record: JSON without
// HTML escaping, so that '<', '>' and '&' of news text stay one byte each instead of six, and
// without a trailing newline. Every stage that sizes or writes records uses it, so that what
// ingest measured to fit still fits when enrich re-encodes it.
func Marshal(v any) ([]byte, error) {
	switch v := v.(type) {
	case Enriched:
		return AppendEnrichedJSON(nil, &v)
	case *Enriched:
		return AppendEnrichedJSON(nil, v)
	case Article:
		return AppendJSON(nil, &v)
	case *Article:
		return AppendJSON(nil, v)
	}
	return marshalReflect(v)
}

// marshalReflect is Marshal through encoding/json, which the hand-written encoders are held to.
func marshalReflect(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := Encode(&buf, v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Encode writes v to w as Marshal encodes it, followed by a newline (json.Encoder's form).
func Encode(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// AppendJSON appends a's record value to dst: the same bytes as Marshal(a), written by hand
// because ingest encodes every article it accepts and encoding/json's reflection was a fifth of
// its CPU time. FuzzAppendJSON holds the two byte for byte; a field added to Article must be
// added here too (TestAppendJSONCoversEveryField fails until it is).
func AppendJSON(dst []byte, a *Article) ([]byte, error) {
	dst = append(dst, `{"id":`...)
	dst = AppendString(dst, a.ID)
	if a.Source != "" {
		dst = append(dst, `,"source":`...)
		dst = AppendString(dst, a.Source)
	}
	if a.URL != "" {
		dst = append(dst, `,"url":`...)
		dst = AppendString(dst, a.URL)
	}
	dst = append(dst, `,"title":`...)
	dst = AppendString(dst, a.Title)
	dst = append(dst, `,"body":`...)
	dst = AppendString(dst, a.Body)
	if len(a.Authors) > 0 {
		dst = append(dst, `,"authors":[`...)
		for i, au := range a.Authors {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendString(dst, au)
		}
		dst = append(dst, ']')
	}
	if a.Language != "" {
		dst = append(dst, `,"language":`...)
		dst = AppendString(dst, a.Language)
	}
	var err error
	if !a.PublishedAt.IsZero() {
		dst = append(dst, `,"published_at":`...)
		if dst, err = AppendTime(dst, a.PublishedAt); err != nil {
			return nil, fmt.Errorf("encoding published_at: %w", err)
		}
	}
	if !a.IngestedAt.IsZero() {
		dst = append(dst, `,"ingested_at":`...)
		if dst, err = AppendTime(dst, a.IngestedAt); err != nil {
			return nil, fmt.Errorf("encoding ingested_at: %w", err)
		}
	}
	return append(dst, '}'), nil
}

// AppendEnrichedJSON appends e's record value to dst: the same bytes as encoding/json with HTML
// escaping off, written by hand because enrich encodes every article it enriches and
// reflection was a twentieth of its CPU time (issue 16). FuzzAppendEnrichedJSON holds the two
// byte for byte; a field added to Enriched, Entity, Mention, DateMention, Place or Similarity
// must be added here too (TestAppendEnrichedJSONCoversEveryField fails until it is).
func AppendEnrichedJSON(dst []byte, e *Enriched) ([]byte, error) {
	dst, err := AppendJSON(dst, &e.Article)
	if err != nil {
		return nil, err
	}
	dst = append(dst[:len(dst)-1], `,"enriched_at":`...)
	if dst, err = AppendTime(dst, e.EnrichedAt); err != nil {
		return nil, fmt.Errorf("encoding enriched_at: %w", err)
	}
	dst = append(dst, `,"enrichment_version":`...)
	dst = AppendString(dst, e.EnrichmentVersion)
	dst = append(dst, `,"entities":`...)
	dst = appendArray(dst, e.Entities, appendEntity)
	dst = append(dst, `,"dates":`...)
	dst = appendArray(dst, e.Dates, appendDate)
	if len(e.Places) > 0 {
		dst = append(dst, `,"places":[`...)
		for i := range e.Places {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = appendPlace(dst, &e.Places[i]); err != nil {
				return nil, err
			}
		}
		dst = append(dst, ']')
	}
	if s := e.Similarity; s != nil {
		dst = append(dst, `,"similarity":{"signature":`...)
		dst = AppendString(dst, s.Signature)
		dst = append(dst, `,"near_bands":`...)
		dst = appendStringArray(dst, s.NearBands)
		dst = append(dst, `,"story_bands":`...)
		dst = appendStringArray(dst, s.StoryBands)
		dst = append(dst, '}')
	}
	if e.EnrichmentNote != "" {
		dst = append(dst, `,"enrichment_note":`...)
		dst = AppendString(dst, e.EnrichmentNote)
	}
	return append(dst, '}'), nil
}

func appendEntity(dst []byte, en *Entity) []byte {
	dst = append(dst, `{"name":`...)
	dst = AppendString(dst, en.Name)
	dst = append(dst, `,"type":`...)
	dst = AppendString(dst, en.Type)
	dst = append(dst, `,"mentions":`...)
	dst = appendArray(dst, en.Mentions, appendMention)
	return append(dst, '}')
}

func appendMention(dst []byte, m *Mention) []byte {
	dst = append(dst, `{"field":`...)
	dst = AppendString(dst, m.Field)
	dst = append(dst, `,"start":`...)
	dst = strconv.AppendInt(dst, int64(m.Start), 10)
	dst = append(dst, `,"end":`...)
	dst = strconv.AppendInt(dst, int64(m.End), 10)
	return append(dst, '}')
}

func appendDate(dst []byte, d *DateMention) []byte {
	dst = append(dst, `{"text":`...)
	dst = AppendString(dst, d.Text)
	dst = append(dst, `,"field":`...)
	dst = AppendString(dst, d.Field)
	dst = append(dst, `,"start":`...)
	dst = strconv.AppendInt(dst, int64(d.Start), 10)
	dst = append(dst, `,"end":`...)
	dst = strconv.AppendInt(dst, int64(d.End), 10)
	dst = append(dst, `,"value":`...)
	dst = AppendString(dst, d.Value)
	dst = append(dst, `,"granularity":`...)
	dst = AppendString(dst, d.Granularity)
	if d.GTE != "" {
		dst = append(dst, `,"gte":`...)
		dst = AppendString(dst, d.GTE)
	}
	if d.LTE != "" {
		dst = append(dst, `,"lte":`...)
		dst = AppendString(dst, d.LTE)
	}
	dst = append(dst, `,"relative":`...)
	dst = strconv.AppendBool(dst, d.Relative)
	return append(dst, '}')
}

func appendPlace(dst []byte, p *Place) ([]byte, error) {
	dst = append(dst, `{"entity":`...)
	dst = AppendString(dst, p.Entity)
	dst = append(dst, `,"name":`...)
	dst = AppendString(dst, p.Name)
	dst = append(dst, `,"kind":`...)
	dst = AppendString(dst, p.Kind)
	if p.Country != "" {
		dst = append(dst, `,"country":`...)
		dst = AppendString(dst, p.Country)
	}
	var err error
	dst = append(dst, `,"lat":`...)
	if dst, err = AppendFloat(dst, p.Lat); err != nil {
		return nil, fmt.Errorf("encoding place %q: %w", p.Name, err)
	}
	dst = append(dst, `,"lon":`...)
	if dst, err = AppendFloat(dst, p.Lon); err != nil {
		return nil, fmt.Errorf("encoding place %q: %w", p.Name, err)
	}
	return append(dst, '}'), nil
}

// appendArray writes xs as a JSON array, each element by elem, and null for a nil slice (a
// field without omitempty, as encoding/json writes it).
func appendArray[T any](dst []byte, xs []T, elem func([]byte, *T) []byte) []byte {
	if xs == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '[')
	for i := range xs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = elem(dst, &xs[i])
	}
	return append(dst, ']')
}

// appendStringArray writes ss as a JSON array, null for a nil slice (no omitempty).
func appendStringArray(dst []byte, ss []string) []byte {
	return appendArray(dst, ss, func(dst []byte, s *string) []byte { return AppendString(dst, *s) })
}

// AppendFloat writes f as encoding/json writes a float64: the shortest decimal that reads back
// as f, in exponent form only below 1e-6 or from 1e21 on, with a one-digit negative exponent
// written "e-7", not "e-07". NaN and the infinities are errors, as in json.Marshal. It is
// exported for the other hand-written encoders (the index stage's document).
func AppendFloat(dst []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("unsupported value %v", f)
	}
	format := byte('f')
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if n := len(dst); format == 'e' && n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
		dst[n-2] = dst[n-1]
		dst = dst[:n-1]
	}
	return dst, nil
}

// AppendTime writes t as encoding/json does (Time.MarshalJSON: RFC 3339 with nanoseconds, an
// error for a year outside 0–9999); AppendText is the same text without the allocation. It is
// exported for the other hand-written encoders of news records (the index stage's document).
func AppendTime(dst []byte, t time.Time) ([]byte, error) {
	dst = append(dst, '"')
	dst, err := t.AppendText(dst)
	if err != nil {
		return nil, err
	}
	return append(dst, '"'), nil
}

const hexDigits = "0123456789abcdef"

// AppendString quotes s as encoding/json does with HTML escaping off: '"' and '\\' and control
// characters escaped (\b \f \n \r \t short, the rest as \u00XX), invalid UTF-8 as \ufffd, and
// U+2028 and U+2029 as \u2028 and \u2029. It is exported so that the other hand-written encoders
// (the index stage's document) share this one, fuzzed against encoding/json here.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		// Eight bytes at a time past plain ASCII text, which is most of an article.
		for i+8 <= len(s) {
			n := jsonscan.PlainBytes(load64(s[i:]))
			i += n
			if n < 8 {
				break
			}
		}
		if i >= len(s) {
			break
		}
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// load64 reads the first eight bytes of s as a little-endian word.
func load64(s string) uint64 {
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}
