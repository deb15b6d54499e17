package document

import (
	"fmt"
	"slices"
	"time"

	"github.com/newsflow/newsflow/pkg/article"
)

// AppendJSON appends d's _source to dst as encoding/json would encode it, field for field with
// the struct tags' omitempty rules, but written by hand: json.Marshal's reflection was about a
// quarter of the index stage's CPU, and on a small machine that CPU is taken from the search
// engine beside it. '<', '>' and '&' are not HTML-escaped (the engine parses JSON, and news text
// is full of them). TestAppendJSONCoversEveryField and FuzzAppendJSON hold it to encoding/json's
// results: a field added to Document must be added here too. The error, as json.Marshal's, is
// for a time with a year outside 0–9999.
func (d *Document) AppendJSON(dst []byte) ([]byte, error) {
	// One allocation of about the right size: growing from nil by doubling took more time
	// than the encoding itself.
	dst = slices.Grow(dst, d.sizeHint())
	var err error
	dst = append(dst, `{"id":`...)
	dst = article.AppendString(dst, d.ID)
	dst = appendOptional(dst, `,"source":`, d.Source)
	dst = appendOptional(dst, `,"url":`, d.URL)
	dst = append(dst, `,"title":`...)
	dst = article.AppendString(dst, d.Title)
	dst = append(dst, `,"body":`...)
	dst = article.AppendString(dst, d.Body)
	dst = appendStrings(dst, `,"authors":`, d.Authors)
	dst = appendOptional(dst, `,"language":`, d.Language)
	if dst, err = appendTime(dst, `,"published_at":`, d.PublishedAt); err != nil {
		return nil, err
	}
	if d.IngestedAt != nil {
		if dst, err = appendTime(dst, `,"ingested_at":`, *d.IngestedAt); err != nil {
			return nil, err
		}
	}
	if d.EnrichedAt != nil {
		if dst, err = appendTime(dst, `,"enriched_at":`, *d.EnrichedAt); err != nil {
			return nil, err
		}
	}
	if dst, err = appendTime(dst, `,"indexed_at":`, d.IndexedAt); err != nil {
		return nil, err
	}
	dst = appendOptional(dst, `,"enrichment_version":`, d.EnrichmentVersion)
	dst = appendOptional(dst, `,"enrichment_note":`, d.EnrichmentNote)

	// The object always has its braces (no omitempty on a struct), so each member's comma
	// depends on whether one was written before it.
	dst = append(dst, `,"entities":{`...)
	n := len(dst)
	dst = appendStrings(dst, `,"person":`, d.Entities.Person)
	dst = appendStrings(dst, `,"org":`, d.Entities.Org)
	dst = appendStrings(dst, `,"loc":`, d.Entities.Loc)
	dst = appendStrings(dst, `,"misc":`, d.Entities.Misc)
	dst = dropLeadingComma(dst, n)
	dst = append(dst, '}')

	if len(d.Places) > 0 {
		dst = append(dst, `,"places":[`...)
		for i, p := range d.Places {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, '{')
			n := len(dst)
			dst = appendOptional(dst, `,"name":`, p.Name)
			dst = appendOptional(dst, `,"country":`, p.Country)
			dst = appendOptional(dst, `,"kind":`, p.Kind)
			dst = dropLeadingComma(dst, n)
			if len(dst) > n {
				dst = append(dst, ',')
			}
			dst = append(dst, `"location":{"lat":`...)
			if dst, err = article.AppendFloat(dst, p.Location.Lat); err != nil {
				return nil, fmt.Errorf("encoding place location: %w", err)
			}
			dst = append(dst, `,"lon":`...)
			if dst, err = article.AppendFloat(dst, p.Location.Lon); err != nil {
				return nil, fmt.Errorf("encoding place location: %w", err)
			}
			dst = append(dst, "}}"...)
		}
		dst = append(dst, ']')
	}
	if len(d.DateMentions) > 0 {
		dst = append(dst, `,"date_mentions":[`...)
		for i, r := range d.DateMentions {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, '{')
			n := len(dst)
			dst = appendOptional(dst, `,"gte":`, r.GTE)
			dst = appendOptional(dst, `,"lte":`, r.LTE)
			dst = dropLeadingComma(dst, n)
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	dst = appendStrings(dst, `,"date_values":`, d.DateValues)
	dst = appendOptional(dst, `,"minhash":`, d.MinHash)
	dst = appendStrings(dst, `,"near_bands":`, d.NearBands)
	dst = appendStrings(dst, `,"story_bands":`, d.StoryBands)
	dst = appendOptional(dst, `,"duplicate_of":`, d.DuplicateOf)
	dst = appendOptional(dst, `,"story_id":`, d.StoryID)
	return append(dst, '}'), nil
}

// appendOptional writes key and s unless s is empty (omitempty on a string).
func appendOptional(dst []byte, key, s string) []byte {
	if s == "" {
		return dst
	}
	return article.AppendString(append(dst, key...), s)
}

// appendStrings writes key and ss as an array unless ss is empty: omitempty leaves out a nil
// slice and an empty one alike.
func appendStrings(dst []byte, key string, ss []string) []byte {
	if len(ss) == 0 {
		return dst
	}
	dst = append(dst, key...)
	dst = append(dst, '[')
	for i, s := range ss {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = article.AppendString(dst, s)
	}
	return append(dst, ']')
}

// appendTime writes key and t, naming the field in the error.
func appendTime(dst []byte, key string, t time.Time) ([]byte, error) {
	dst, err := article.AppendTime(append(dst, key...), t)
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", key[2:len(key)-2], err)
	}
	return dst, nil
}

// dropLeadingComma removes the comma at dst[at], if there is one, from the first member written
// into an object opened just before at.
func dropLeadingComma(dst []byte, at int) []byte {
	if len(dst) > at && dst[at] == ',' {
		return append(dst[:at], dst[at+1:]...)
	}
	return dst
}

// sizeHint is about the length of d's JSON: every string with its quotes and comma, times at
// their longest, the names at their longest (330 bytes in all) and a little slack for escapes.
// Only the allocation depends on it, not the output.
func (d *Document) sizeHint() int {
	n := 400 + 4*len(`"2006-01-02T15:04:05.999999999-07:00"`)
	for _, s := range [...]string{d.ID, d.Source, d.URL, d.Title, d.Body, d.Language, d.EnrichmentVersion, d.EnrichmentNote, d.MinHash, d.DuplicateOf, d.StoryID} {
		n += len(s) + 3
	}
	for _, ss := range [...][]string{d.Authors, d.Entities.Person, d.Entities.Org, d.Entities.Loc, d.Entities.Misc, d.DateValues, d.NearBands, d.StoryBands} {
		for _, s := range ss {
			n += len(s) + 3
		}
	}
	for _, r := range d.DateMentions {
		n += len(`{"gte":"","lte":""},`) + len(r.GTE) + len(r.LTE)
	}
	for _, p := range d.Places {
		n += len(`{"name":"","country":"","kind":"","location":{"lat":,"lon":}},`) + 2*24 + len(p.Name) + len(p.Country) + len(p.Kind)
	}
	return n
}
