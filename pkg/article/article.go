// Package article holds newsflow's data contracts: the raw article that ingest writes to
// articles.raw and the enriched article that enrich writes to articles.enriched (see
// docs/ARCHITECTURE.md, Data contracts).
// Every stage and every test decodes and encodes through these types, so the JSON field names here
// are the contract; change them only on purpose, everywhere at once.
package article

import (
	"time"
)

// Article is the value of a message on articles.raw.
type Article struct {
	ID          string    `json:"id"`
	Source      string    `json:"source,omitempty"`
	URL         string    `json:"url,omitempty"`
	Title       string    `json:"title"`
	Body        string    `json:"body"`
	Authors     []string  `json:"authors,omitempty"`
	Language    string    `json:"language,omitempty"`
	PublishedAt time.Time `json:"published_at,omitzero"`
	IngestedAt  time.Time `json:"ingested_at,omitzero"`
}

// Entity types, as docs/ARCHITECTURE.md fixes them. MISC covers nationalities, events, works and
// products.
const (
	TypePerson = "PERSON"
	TypeOrg    = "ORG"
	TypeLoc    = "LOC"
	TypeMisc   = "MISC"
)

// Field names a mention can point into.
const (
	FieldTitle = "title"
	FieldBody  = "body"
)

// Mention locates one occurrence of an entity: Start and End are byte offsets into the UTF-8 value
// of Field, End exclusive.
type Mention struct {
	Field string `json:"field"`
	Start int    `json:"start"`
	End   int    `json:"end"`
}

// Entity is one distinct entity with every place the article mentions it.
type Entity struct {
	Name     string    `json:"name"`
	Type     string    `json:"type"`
	Mentions []Mention `json:"mentions"`
}

// DateMention is one date expression, normalised TIMEX3-style and as a day range.
// Value is e.g. "2019-08-20", "2019-08", "2014", "201" (the 2010s) or "2019-W34"; GTE and LTE
// are the first and last calendar day (YYYY-MM-DD) the value covers; Relative says it was
// resolved against published_at. A reference to the present, past or future ("now",
// "recently", "the future") has Value PRESENT_REF, PAST_REF or FUTURE_REF, granularity "ref"
// and no GTE or LTE: it names no days a chart should count.
type DateMention struct {
	Text        string `json:"text"`
	Field       string `json:"field"`
	Start       int    `json:"start"`
	End         int    `json:"end"`
	Value       string `json:"value"`
	Granularity string `json:"granularity"`
	GTE         string `json:"gte,omitempty"`
	LTE         string `json:"lte,omitempty"`
	Relative    bool   `json:"relative"`
}

// Place is a LOC entity resolved to a place of the gazetteer (GeoNames): its name there, what
// kind of place it is (city, region, country, continent), its ISO 3166-1 alpha-2 country code
// (empty for a continent) and a point. A country's point is its capital's and a region's the
// population-weighted mean of its cities', so a map shows them where most of them live rather
// than at a centroid that may lie in a desert. Entity is the entity's name as the article
// gives it ("Hama" for the city GeoNames calls "Ḩamāh").
type Place struct {
	Entity  string  `json:"entity"`
	Name    string  `json:"name"`
	Kind    string  `json:"kind"`
	Country string  `json:"country,omitempty"`
	Lat     float64 `json:"lat"`
	Lon     float64 `json:"lon"`
}

// Enriched is the value of a message on articles.enriched and what `enrich extract` prints.
type Enriched struct {
	Article
	EnrichedAt        time.Time     `json:"enriched_at"`
	EnrichmentVersion string        `json:"enrichment_version"`
	Entities          []Entity      `json:"entities"`
	Dates             []DateMention `json:"dates"`
	// Places are where the LOC entities are: one per entity the gazetteer knows, in the
	// entities' order; absent in records enriched before places existed.
	Places []Place `json:"places,omitempty"`
	// Similarity is the MinHash signature of the text and its LSH band keys, from which the
	// index stage decides duplicate_of and story_id (pkg/dedup); absent
	// for a text without words and in records enriched before it existed.
	Similarity *Similarity `json:"similarity,omitempty"`
	// EnrichmentNote says what enrich cut to fit the record into Kafka (mentions first, then
	// entities, then dates); empty when nothing was cut.
	EnrichmentNote string `json:"enrichment_note,omitempty"`
}

// Similarity is what finds an article's near-duplicates and story without reading its text
// again: Signature is its MinHash signature (base64 of 128 little-endian uint32), NearBands and
// StoryBands the band keys that articles at Jaccard >= 0.9 and >= 0.5 share with high
// probability. The index stage queries the keys, then estimates from the signatures.
type Similarity struct {
	Signature  string   `json:"signature"`
	NearBands  []string `json:"near_bands"`
	StoryBands []string `json:"story_bands"`
}
