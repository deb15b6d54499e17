// Package schema is the search index's contract, without I/O: the names of the monthly and yearly
// indices, the window of publication times that may create one, the read alias and the index template, and the template's mapping. Everything here must work on
// Elasticsearch 8 and OpenSearch 2 alike, so it uses only features both share (composable index
// templates, keyword/text/date/date_range/geo_point fields, a built-in analyzer chosen by Settings).
package schema

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/newsflow/newsflow/pkg/article"
)

// Version is the schema version this build writes. Bump it whenever the mapping or settings change
// in a way existing indices cannot take: new monthly indices then get a "-v<N>" suffix, and
// `index reindex` copies the old ones over and swaps the alias, without downtime.
//
// Version 2: the strict mapping gained enrichment_note (enrich trims records too large for Kafka
// and says so there), documents carry external versions, and years before Names.MonthlyFrom get
// one index per year.
//
// Version 3: places (the LOC entities geocoded: places.location geo_point, places.name,
// places.country, places.kind keywords). A version-2 index's strict mapping refuses a document
// with places, so they go to -v3 indices.
//
// Version 4: near-duplicates and stories (minhash binary, near_bands and story_bands keyword
// arrays, duplicate_of and story_id keywords). A version-3 index's strict mapping refuses them.
const Version = 4

// Entity field names under "entities", one keyword array per entity type, so that a terms
// aggregation on e.g. entities.person charts the people most mentioned.
const (
	EntityPerson = "person"
	EntityOrg    = "org"
	EntityLoc    = "loc"
	EntityMisc   = "misc"
)

// Place field names under "places", one object per place an article's LOC entities name.
const (
	PlaceName     = "name"
	PlaceCountry  = "country"
	PlaceKind     = "kind"
	PlaceLocation = "location" // geo_point
)

// Names derives every name the index stage uses from one prefix, so tests and parallel
// deployments can keep to their own indices: prefix "articles" gives monthly indices
// articles-2019.08 (schema version 1) or articles-2019.08-v2 (version 2), yearly indices
// articles-1987 (or articles-1987-v2) for the years before MonthlyFrom, read alias articles and
// index template articles.
type Names struct {
	Prefix string
	// MonthlyFrom is the first year with one index per month; documents published before it go
	// into one index per year. It is a fixed year, not a rolling "N years ago", so that an
	// article always lands in the same index whenever it is (re)indexed: a cut-off that moved
	// with the clock would put a re-ingested article into a second index beside its old copy,
	// a duplicate in the read alias. 0 means every month has its own index.
	MonthlyFrom int
}

// Alias is the read alias every index, monthly or yearly, joins (through the template's "aliases").
func (n Names) Alias() string { return n.Prefix }

// TemplateName is the name of the composable index template.
func (n Names) TemplateName() string { return n.Prefix }

// Pattern is the template's index pattern.
func (n Names) Pattern() string { return n.Prefix + "-*" }

// Period is the stretch of publication time one index holds: a calendar month, or a whole
// year for the years before Names.MonthlyFrom. Start is its first instant (UTC).
type Period struct {
	Start  time.Time
	Yearly bool
}

// PeriodOf is the period, and so the index, a publication time belongs to (by UTC month).
func (n Names) PeriodOf(publishedAt time.Time) Period {
	t := publishedAt.UTC()
	if t.Year() < n.MonthlyFrom {
		return Period{Start: time.Date(t.Year(), 1, 1, 0, 0, 0, 0, time.UTC), Yearly: true}
	}
	return Period{Start: time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)}
}

// Index returns the concrete index for a publication time and schema version: the month's
// index, or the year's before MonthlyFrom.
func (n Names) Index(publishedAt time.Time, version int) string {
	return n.PeriodIndex(n.PeriodOf(publishedAt), version)
}

// PeriodIndex names the index of period p for schema version.
func (n Names) PeriodIndex(p Period, version int) string {
	var name string
	if p.Yearly {
		name = fmt.Sprintf("%s-%04d", n.Prefix, p.Start.Year())
	} else {
		name = fmt.Sprintf("%s-%04d.%02d", n.Prefix, p.Start.Year(), int(p.Start.Month()))
	}
	if version > 1 {
		name += "-v" + strconv.Itoa(version)
	}
	return name
}

var indexRE = regexp.MustCompile(`^(.+)-(\d{4})(?:\.(\d{2}))?(?:-v(\d+))?$`)

// ParseIndex splits a concrete index name made by Index back into its period and schema
// version; ok is false for names that are not this prefix's monthly or yearly indices (they
// are left alone).
func (n Names) ParseIndex(name string) (p Period, version int, ok bool) {
	m := indexRE.FindStringSubmatch(name)
	if m == nil || m[1] != n.Prefix {
		return Period{}, 0, false
	}
	y, _ := strconv.Atoi(m[2])
	p = Period{Start: time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC), Yearly: true}
	if m[3] != "" {
		mo, _ := strconv.Atoi(m[3])
		if mo < 1 || mo > 12 {
			return Period{}, 0, false
		}
		p = Period{Start: time.Date(y, time.Month(mo), 1, 0, 0, 0, 0, time.UTC)}
	}
	version = 1
	if m[4] != "" {
		version, _ = strconv.Atoi(m[4])
	}
	return p, version, true
}

// Window is the range of publication times the index stage writes: it bounds the number of
// indices input can make it create, whatever the input. A document published before Floor or
// after now+Future has no index; the stage dead-letters it with the reason (ingest refuses such
// articles with a 400 already, but the stage does not trust what reaches it through Kafka).
type Window struct {
	Floor  time.Time     // earliest publication time accepted (default 1900-01-01)
	Future time.Duration // how far past now a publication time may be (default 48h)
}

// DefaultFloor and DefaultFuture are the Window ingest and index use unless configured.
var (
	DefaultFloor  = article.PublishedFloor
	DefaultFuture = article.PublishedFuture
)

// Check reports why publishedAt is outside the window at now, or nil.
func (w Window) Check(publishedAt, now time.Time) error {
	if publishedAt.Before(w.Floor) {
		return fmt.Errorf("published_at %s is before the earliest date indexed (%s)",
			publishedAt.UTC().Format(time.RFC3339), w.Floor.UTC().Format(time.DateOnly))
	}
	if limit := now.Add(w.Future); publishedAt.After(limit) {
		return fmt.Errorf("published_at %s is more than %v in the future (now %s)",
			publishedAt.UTC().Format(time.RFC3339), w.Future, now.UTC().Format(time.RFC3339))
	}
	return nil
}

// MaxIndices is the most indices per schema version the stage can create at now: one per year
// from Floor up to MonthlyFrom, one per month from then to now+Future.
func (n Names) MaxIndices(w Window, now time.Time) int {
	first := n.PeriodOf(w.Floor)
	last := n.PeriodOf(now.Add(w.Future))
	count := 0
	for p := first; !p.Start.After(last.Start); count++ {
		if p.Yearly {
			p = n.PeriodOf(p.Start.AddDate(1, 0, 0))
		} else {
			p = n.PeriodOf(p.Start.AddDate(0, 1, 0))
		}
	}
	return count
}

// Settings are the per-deployment index settings (one shard suits a month of news on one node;
// production raises replicas).
type Settings struct {
	Shards          int
	Replicas        int
	RefreshInterval string // e.g. "1s"
	// TextAnalyzer analyses title and body: "english" (stemming, stop words) by default;
	// "standard" where the engine lacks the analysis-common module, as Elasticsearch's
	// integ-test distribution does. Empty means "english".
	TextAnalyzer string
}

// DefaultTextAnalyzer is the analyzer of title and body unless Settings.TextAnalyzer says otherwise.
const DefaultTextAnalyzer = "english"

func (s Settings) textAnalyzer() string {
	if s.TextAnalyzer == "" {
		return DefaultTextAnalyzer
	}
	return s.TextAnalyzer
}

// Template returns the composable index template body (PUT _index_template/<name>) for version.
// Its mapping is the search contract of docs/ARCHITECTURE.md:
//
//   - id, source, url, language, authors, enrichment_version: keyword
//   - enrichment_note: keyword, what enrich trimmed to fit the record into Kafka (rarely set)
//   - title: text (Settings.TextAnalyzer, english by default) with a title.keyword sub-field for
//     sorting and aggregations
//   - body: text with the same analyzer
//   - published_at, ingested_at, enriched_at, indexed_at: date
//   - entities.person / entities.org / entities.loc / entities.misc: keyword arrays, one per
//     entity type, for terms aggregations
//   - date_mentions: date_range array (format yyyy-MM-dd), each mention's first and last day,
//     so a range query finds articles that talk about a period
//   - date_values: keyword array of the mentions' TIMEX3 values ("2019-08-20", "2019-W34", "201" for a decade, "PRESENT_REF" for "now")
//   - places: object array, one per distinct place of the LOC entities: location geo_point
//     (maps, geo_distance), name, country (ISO 3166-1 alpha-2) and kind (city, region, country,
//     continent) keywords
//   - minhash: binary (stored in _source only), the MinHash signature of the text
//   - near_bands, story_bands: keyword arrays (no doc_values), the LSH band keys that find
//     near-duplicate and story candidates at index time
//   - duplicate_of: keyword, the original's id, absent for an original; story_id: keyword
//
// Dynamic mapping is "strict": a field the template does not know is rejected (and dead-lettered
// with the reason) rather than silently guessed, so code and template cannot drift apart unseen.
func (n Names) Template(version int, s Settings) map[string]any {
	kw := map[string]any{"type": "keyword"}
	analyzer := s.textAnalyzer()
	date := map[string]any{"type": "date", "format": "strict_date_optional_time||epoch_millis"}
	return map[string]any{
		"index_patterns": []string{n.Pattern()},
		"priority":       200,
		"version":        version,
		"_meta":          map[string]any{"managed_by": "newsflow-index", "schema_version": version},
		"template": map[string]any{
			"settings": map[string]any{
				"number_of_shards":   s.Shards,
				"number_of_replicas": s.Replicas,
				"refresh_interval":   s.RefreshInterval,
			},
			"aliases": map[string]any{n.Alias(): map[string]any{}},
			"mappings": map[string]any{
				"dynamic": "strict",
				"_meta":   map[string]any{"schema_version": version},
				"properties": map[string]any{
					"id":                 kw,
					"source":             kw,
					"url":                map[string]any{"type": "keyword", "ignore_above": 4096},
					"language":           kw,
					"authors":            map[string]any{"type": "keyword", "ignore_above": 256},
					"enrichment_version": kw,
					"enrichment_note":    map[string]any{"type": "keyword", "ignore_above": 1024},
					"title": map[string]any{"type": "text", "analyzer": analyzer,
						"fields": map[string]any{"keyword": map[string]any{"type": "keyword", "ignore_above": 1024}}},
					"body":         map[string]any{"type": "text", "analyzer": analyzer},
					"published_at": date,
					"ingested_at":  date,
					"enriched_at":  date,
					"indexed_at":   date,
					"entities": map[string]any{"properties": map[string]any{
						EntityPerson: map[string]any{"type": "keyword", "ignore_above": 256},
						EntityOrg:    map[string]any{"type": "keyword", "ignore_above": 256},
						EntityLoc:    map[string]any{"type": "keyword", "ignore_above": 256},
						EntityMisc:   map[string]any{"type": "keyword", "ignore_above": 256},
					}},
					"places": map[string]any{"properties": map[string]any{
						PlaceName:     map[string]any{"type": "keyword", "ignore_above": 256},
						PlaceCountry:  kw,
						PlaceKind:     kw,
						PlaceLocation: map[string]any{"type": "geo_point"},
					}},
					"date_mentions": map[string]any{"type": "date_range", "format": "yyyy-MM-dd"},
					"date_values":   kw,
					// Band keys are only matched (terms queries at index time), never
					// aggregated or sorted: no doc_values. The signature is only read back
					// from _source: binary is neither indexed nor has doc_values.
					"minhash":      map[string]any{"type": "binary"},
					"near_bands":   map[string]any{"type": "keyword", "doc_values": false},
					"story_bands":  map[string]any{"type": "keyword", "doc_values": false},
					"duplicate_of": kw,
					"story_id":     kw,
				},
			},
		},
	}
}

// TemplateJSON is Template encoded, for `index setup --print` and tests.
func (n Names) TemplateJSON(version int, s Settings) []byte {
	b, err := json.MarshalIndent(n.Template(version, s), "", "  ")
	if err != nil {
		panic(err) // a map of strings and ints always encodes
	}
	return b
}
