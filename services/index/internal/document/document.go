// Package document maps an enriched article (the value on articles.enriched) to the search
// document the index template expects. It does no I/O, so the mapping is tested without servers.
package document

import (
	"errors"
	"fmt"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"

	"github.com/newsflow/newsflow/pkg/article"
	"github.com/newsflow/newsflow/services/index/internal/schema"
)

// Document is what is stored in the index, field for field the template's mapping
// (schema.Template). Keep the two in step: the mapping is strict.
type Document struct {
	ID                string      `json:"id"`
	Source            string      `json:"source,omitempty"`
	URL               string      `json:"url,omitempty"`
	Title             string      `json:"title"`
	Body              string      `json:"body"`
	Authors           []string    `json:"authors,omitempty"`
	Language          string      `json:"language,omitempty"`
	PublishedAt       time.Time   `json:"published_at"`
	IngestedAt        *time.Time  `json:"ingested_at,omitempty"`
	EnrichedAt        *time.Time  `json:"enriched_at,omitempty"`
	IndexedAt         time.Time   `json:"indexed_at"`
	EnrichmentVersion string      `json:"enrichment_version,omitempty"`
	EnrichmentNote    string      `json:"enrichment_note,omitempty"`
	Entities          Entities    `json:"entities"`
	Places            []Place     `json:"places,omitempty"`
	DateMentions      []DateRange `json:"date_mentions,omitempty"`
	DateValues        []string    `json:"date_values,omitempty"`
	// MinHash, NearBands and StoryBands are the article's similarity fields
	// (article.Similarity): the signature is stored, not indexed, for the estimates of later
	// articles; the band keys are indexed keywords that find the candidates (internal/stories).
	MinHash    string   `json:"minhash,omitempty"`
	NearBands  []string `json:"near_bands,omitempty"`
	StoryBands []string `json:"story_bands,omitempty"`
	// DuplicateOf is the id of the earlier article this one nearly repeats (Jaccard >= 0.9),
	// absent for an original, so that a filter NOT _exists_:duplicate_of hides the copies.
	// StoryID is what the articles of one story share: its first article's id, or the
	// article's own. Both are decided when the document is written (internal/stories).
	DuplicateOf string `json:"duplicate_of,omitempty"`
	StoryID     string `json:"story_id,omitempty"`
}

// Place is where one of the article's LOC entities is (article.Place): its gazetteer name,
// country code and kind as keywords, for terms aggregations and filters, and its point as a
// geo_point, for maps and geo_distance queries.
type Place struct {
	Name     string   `json:"name,omitempty"`
	Country  string   `json:"country,omitempty"`
	Kind     string   `json:"kind,omitempty"`
	Location GeoPoint `json:"location"`
}

// GeoPoint is a geo_point in its object form, which Elasticsearch and OpenSearch both take.
type GeoPoint struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// Entities holds the distinct entity names per type, as keyword arrays for terms aggregations.
type Entities struct {
	Person []string `json:"person,omitempty"`
	Org    []string `json:"org,omitempty"`
	Loc    []string `json:"loc,omitempty"`
	Misc   []string `json:"misc,omitempty"`
}

// DateRange is one date mention as a date_range value: the first and last day it covers.
type DateRange struct {
	GTE string `json:"gte,omitempty"`
	LTE string `json:"lte,omitempty"`
}

// ErrInvalid marks a message that can never become a document (bad JSON, no id, no publication
// time): it goes to the dead-letter topic instead of being retried.
var ErrInvalid = errors.New("invalid enriched article")

// wireEnriched is what the index needs of an enriched article. The entities' mentions (most of
// the bytes of an entity-rich article, and unused by the document) are skipped, not decoded:
// decoding them was most of the index stage's CPU time.
type wireEnriched struct {
	article.Enriched
	Entities []wireEntity `json:"entities"`
}

type wireEntity struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// decodeOptions give the v2 decoder encoding/json's leniencies where a record from another
// producer may differ (names matched as strings.EqualFold does, a duplicate name's last value kept,
// invalid UTF-8 replaced) so that the stage indexes what it indexed with encoding/json.
var decodeOptions = jsonv2.JoinOptions(
	jsonv2.MatchCaseInsensitiveNames(true),
	jsonv1.MatchCaseSensitiveDelimiter(true), // "PUBLISHEDAT" is not "published_at"
	jsonv1.ParseTimeWithLooseRFC3339(true),   // "T0:00:00Z" as time.Time.UnmarshalJSON takes it
	jsontext.AllowDuplicateNames(true),
	jsontext.AllowInvalidUTF8(true),
)

func jsonUnmarshalV2(value []byte, w *wireEnriched) error {
	return jsonv2.Unmarshal(value, w, decodeOptions)
}

// Decode parses a message value. Errors wrap ErrInvalid and say what is wrong. The entities it
// returns carry no mentions.
//
// A record as enrich writes it is read by decodeFast, in one pass; anything else by
// github.com/go-json-experiment/json (the Go team's encoding/json/v2, behind GOEXPERIMENT=jsonv2
// in the toolchain), which takes half the CPU time of encoding/json on enriched Reuters records.
// The index stage shares its machine with the search engine, and its CPU per document is CPU
// the engine does not get: decoding was half of the stage's profile (issue 15).
// TestDecodeAgreesWithEncodingJSON and FuzzDecode hold both to encoding/json's results.
func Decode(value []byte) (article.Enriched, error) {
	w, ok := decodeFast(value)
	if !ok {
		if err := jsonUnmarshalV2(value, &w); err != nil {
			return w.Enriched, fmt.Errorf("%w: decoding JSON: %v", ErrInvalid, err)
		}
	}
	e := w.Enriched
	e.Entities = make([]article.Entity, len(w.Entities))
	for i, ent := range w.Entities {
		e.Entities[i] = article.Entity{Name: ent.Name, Type: ent.Type}
	}
	if strings.TrimSpace(e.ID) == "" {
		return e, fmt.Errorf("%w: no id", ErrInvalid)
	}
	if e.PublishedAt.IsZero() {
		// Without it there is no monthly index to write to.
		return e, fmt.Errorf("%w: no published_at", ErrInvalid)
	}
	return e, nil
}

// From maps an enriched article to its document; now becomes indexed_at. Entity names are
// de-duplicated per type in first-seen order; an unknown type counts as MISC so that nothing the
// enrichment found is lost. Places are de-duplicated too, and those without a valid point left
// out. Date mentions without a day range keep their value only. The story is the article's own
// and there is no duplicate_of until internal/stories decides them from the indexed articles.
func From(e article.Enriched, now time.Time) Document {
	d := Document{
		ID:                e.ID,
		Source:            e.Source,
		URL:               e.URL,
		Title:             e.Title,
		Body:              e.Body,
		Authors:           e.Authors,
		Language:          e.Language,
		PublishedAt:       e.PublishedAt.UTC(),
		IngestedAt:        timePtr(e.IngestedAt),
		EnrichedAt:        timePtr(e.EnrichedAt),
		IndexedAt:         now.UTC(),
		EnrichmentVersion: e.EnrichmentVersion,
		EnrichmentNote:    e.EnrichmentNote,
		StoryID:           e.ID,
	}
	if sim := e.Similarity; sim != nil {
		d.MinHash, d.NearBands, d.StoryBands = sim.Signature, sim.NearBands, sim.StoryBands
	}
	seen := map[string]bool{}
	for _, en := range e.Entities {
		name := strings.TrimSpace(en.Name)
		if name == "" {
			continue
		}
		field, dst := schema.EntityMisc, &d.Entities.Misc
		switch strings.ToUpper(en.Type) {
		case article.TypePerson:
			field, dst = schema.EntityPerson, &d.Entities.Person
		case article.TypeOrg:
			field, dst = schema.EntityOrg, &d.Entities.Org
		case article.TypeLoc:
			field, dst = schema.EntityLoc, &d.Entities.Loc
		}
		key := field + "\x00" + name
		if seen[key] {
			continue
		}
		seen[key] = true
		*dst = append(*dst, name)
	}
	// One place per distinct place ("US" and "United States" are one), and none with a point
	// the engine would refuse: a malformed geo_point fails the whole document.
	seenPlace := map[Place]bool{}
	for _, p := range e.Places {
		if !validPoint(p.Lat, p.Lon) {
			continue
		}
		dp := Place{Name: strings.TrimSpace(p.Name), Country: p.Country, Kind: p.Kind,
			Location: GeoPoint{Lat: p.Lat, Lon: p.Lon}}
		if !seenPlace[dp] {
			seenPlace[dp] = true
			d.Places = append(d.Places, dp)
		}
	}
	seenVal := map[string]bool{}
	for _, dm := range e.Dates {
		if dm.GTE != "" || dm.LTE != "" {
			d.DateMentions = append(d.DateMentions, DateRange{GTE: dm.GTE, LTE: dm.LTE})
		}
		if dm.Value != "" && !seenVal[dm.Value] {
			seenVal[dm.Value] = true
			d.DateValues = append(d.DateValues, dm.Value)
		}
	}
	return d
}

// Index returns the concrete index (monthly, or yearly before n.MonthlyFrom) of the document for
// schema version.
func (d Document) Index(n schema.Names, version int) string { return n.Index(d.PublishedAt, version) }

// Version is the external version the document is written with: its ingested_at in
// microseconds since 1970. ingest stamps ingested_at when it accepts an article, so a later
// ingest of the same article (same id) has a greater version, and the engine refuses the older
// copy whatever order the two reach it in. Limits, by design of a timestamp: two ingests of one
// article within the same microsecond have equal versions and the second is kept out; versions
// follow the wall clocks of the ingest replicas, so a re-ingest less than their clock skew
// apart can lose; and re-enriching a record (same ingested_at, new enrichment) does not replace
// the indexed document - re-ingest it instead. 0 (no ingested_at, or one before 1970) means an
// unversioned write that replaces whatever is there.
func Version(e article.Enriched) int64 {
	if e.IngestedAt.IsZero() {
		return 0
	}
	return max(e.IngestedAt.UnixMicro(), 0)
}

// validPoint is a latitude and longitude a geo_point takes (NaN compares false: out).
func validPoint(lat, lon float64) bool {
	return lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
