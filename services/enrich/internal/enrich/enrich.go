// Package enrich turns a raw article into an enriched one: the entities and date mentions of its
// title and body, the places of its LOC entities and the signature that finds its near-duplicates. It is pure: no I/O, safe for concurrent use, and it always returns a valid
// enriched article, whatever the input (invalid UTF-8, huge or empty bodies, no publication date).
package enrich

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/newsflow/newsflow/pkg/article"
)

// EntityExtractor finds the people, organisations, places and MISC entities of an article.
type EntityExtractor interface {
	Extract(title, body string) []article.Entity
}

// DateExtractor finds the date mentions of one field, resolved against the publication time.
type DateExtractor interface {
	Extract(field, text string, published time.Time) []article.DateMention
}

// PlaceResolver finds where an article's LOC entities are (internal/geo).
type PlaceResolver interface {
	Resolve(ents []article.Entity) []article.Place
}

// DefaultMaxFieldBytes caps the text analysed per field: entities and dates are looked for in the
// first 256 KiB of a body. News articles are far shorter; the cap bounds the work a pathological
// record can cause. The stored body itself is never cut.
const DefaultMaxFieldBytes = 256 << 10

// Enricher combines the two extractors and the place resolver.
type Enricher struct {
	Entities EntityExtractor
	Dates    DateExtractor
	// Places resolves the LOC entities to places; nil leaves places out.
	Places PlaceResolver
	// Similarity signs the text for near-duplicate and story detection (dedup.Of); nil leaves
	// the similarity fields out.
	Similarity func(title, body string) *article.Similarity
	// Version names the models and rules, so documents can be re-enriched when they change.
	Version string
	// MaxFieldBytes caps the text analysed per field (DefaultMaxFieldBytes when 0).
	MaxFieldBytes int
	// Now is the clock (time.Now when nil); tests fix it.
	Now func() time.Time
}

// Enrich returns a with its entities and dates. Invalid UTF-8 in title or body is replaced by
// U+FFFD first, because JSON output would do so anyway and byte offsets must point into the text
// as it is stored. Without published_at, relative dates resolve against ingested_at, or now.
func (e *Enricher) Enrich(a article.Article) article.Enriched {
	now := time.Now
	if e.Now != nil {
		now = e.Now
	}
	a.Title = strings.ToValidUTF8(a.Title, "\uFFFD")
	a.Body = strings.ToValidUTF8(a.Body, "\uFFFD")
	ref := a.PublishedAt
	if ref.IsZero() {
		ref = a.IngestedAt
	}
	if ref.IsZero() {
		ref = now()
	}
	ref = ref.UTC()
	limit := e.MaxFieldBytes
	if limit <= 0 {
		limit = DefaultMaxFieldBytes
	}
	title, body := Cap(a.Title, limit), Cap(a.Body, limit)
	out := article.Enriched{Article: a, EnrichedAt: now().UTC(), EnrichmentVersion: e.Version,
		Entities: []article.Entity{}, Dates: []article.DateMention{}}
	if e.Entities != nil {
		if ents := e.Entities.Extract(title, body); ents != nil {
			out.Entities = ents
		}
	}
	if e.Places != nil {
		out.Places = e.Places.Resolve(out.Entities)
	}
	if e.Similarity != nil {
		out.Similarity = e.Similarity(title, body)
	}
	if e.Dates != nil {
		out.Dates = append(out.Dates, e.Dates.Extract(article.FieldTitle, title, ref)...)
		out.Dates = append(out.Dates, e.Dates.Extract(article.FieldBody, body, ref)...)
	}
	return out
}

// Cap returns the longest prefix of s of at most n bytes that ends on a rune boundary.
func Cap(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
