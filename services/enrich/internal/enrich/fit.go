package enrich

import (
	"errors"
	"fmt"
	"strings"

	"github.com/newsflow/newsflow/pkg/article"
)

// mentionCaps are the mentions kept per entity, tried in turn, when an enriched article is too
// large for one record. The document indexes entity names, not mentions, so mentions go first.
var mentionCaps = []int{64, 16, 4, 1}

// Fit encodes e (with article.Marshal, as ingest encodes, so markup is not inflated sixfold) as
// the value of an articles.enriched record of at most limit bytes. An article
// ingest accepted fits in a record, but its enrichment (every mention of every entity, every
// date) can push it over, and dead-lettering it would lose an article that is fine. So Fit
// trims, cheapest loss first: mentions beyond the first few per entity, then repeated date
// mentions, then entities from the end of the list (with their places), then date mentions from the end. What it cut is said in enrichment_note,
// which the index stores. An error means even the bare article does not fit (a dead letter).
func Fit(e article.Enriched, limit int) (value []byte, note string, err error) {
	v, err := article.Marshal(e)
	if err != nil {
		return nil, "", fmt.Errorf("encoding enriched article: %w", err)
	}
	if len(v) <= limit {
		return v, "", nil
	}
	size := len(v)
	// Work on copies: e's slices may be shared with the caller.
	e.Entities = append([]article.Entity(nil), e.Entities...)
	e.Dates = append([]article.DateMention(nil), e.Dates...)
	places := e.Places
	var cuts []string
	try := func() bool {
		e.EnrichmentNote = "trimmed to fit a Kafka record (" + fmt.Sprint(size) + " bytes enriched): " + strings.Join(cuts, "; ")
		v, err = article.Marshal(e)
		return err == nil && len(v) <= limit
	}

	total := 0
	for _, ent := range e.Entities {
		total += len(ent.Mentions)
	}
	for _, n := range mentionCaps {
		kept := 0
		for i := range e.Entities {
			if len(e.Entities[i].Mentions) > n {
				e.Entities[i].Mentions = e.Entities[i].Mentions[:n:n]
			}
			kept += len(e.Entities[i].Mentions)
		}
		if kept == total {
			continue
		}
		cuts = append(cuts[:0], fmt.Sprintf("kept the first %d mentions per entity (%d of %d)", n, kept, total))
		if try() {
			return v, e.EnrichmentNote, nil
		}
	}
	// Repeated date mentions (same text, value and range) add nothing to the document, which
	// indexes each mention's range and value: keep the first of each.
	if all := len(e.Dates); all > 0 {
		seen := map[article.DateMention]bool{}
		uniq := e.Dates[:0]
		for _, d := range e.Dates {
			k := d
			k.Start, k.End = 0, 0
			if !seen[k] {
				seen[k] = true
				uniq = append(uniq, d)
			}
		}
		if e.Dates = uniq; len(uniq) < all {
			cuts = append(cuts, fmt.Sprintf("kept the first of each repeated date mention (%d of %d)", len(uniq), all))
			if try() {
				return v, e.EnrichmentNote, nil
			}
		}
	}
	base := len(cuts)
	for n, all := len(e.Entities)/2, len(e.Entities); n >= 0 && all > 0; n /= 2 {
		e.Entities = e.Entities[:n]
		e.Places = placesOf(e.Entities, places) // a place goes with its entity
		cuts = append(cuts[:base], fmt.Sprintf("kept the first %d of %d entities", n, all))
		if try() {
			return v, e.EnrichmentNote, nil
		}
		if n == 0 {
			break
		}
	}
	base = len(cuts)
	for n, all := len(e.Dates)/2, len(e.Dates); n >= 0 && all > 0; n /= 2 {
		e.Dates = e.Dates[:n]
		cuts = append(cuts[:base], fmt.Sprintf("kept the first %d of %d date mentions", n, all))
		if try() {
			return v, e.EnrichmentNote, nil
		}
		if n == 0 {
			break
		}
	}
	if err != nil {
		return nil, "", fmt.Errorf("encoding enriched article: %w", err)
	}
	return nil, "", fmt.Errorf("%w: the article alone is %d bytes encoded, more than a record may carry (%d)", ErrTooLarge, len(v), limit)
}

// placesOf returns the places of ps whose LOC entity is among ents, in a new slice.
func placesOf(ents []article.Entity, ps []article.Place) []article.Place {
	if len(ps) == 0 {
		return nil
	}
	loc := map[string]bool{}
	for _, en := range ents {
		if en.Type == article.TypeLoc {
			loc[en.Name] = true
		}
	}
	var out []article.Place
	for _, p := range ps {
		if loc[p.Entity] {
			out = append(out, p)
		}
	}
	return out
}

// ErrTooLarge marks an article too big for one record even with its enrichment trimmed away.
var ErrTooLarge = errors.New("too large")
