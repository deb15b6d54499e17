// Package schema is the search index's contract, without I/O: the names of the monthly indices,
// the read alias and the index template, and the template's mapping. Everything here must work on
// Elasticsearch 8 and OpenSearch 2 alike, so it uses only features both share (composable index
// templates, keyword/text/date/date_range fields, a built-in analyzer chosen by Settings).
package schema

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// Version is the schema version this build writes. Bump it whenever the mapping or settings change
// in a way existing indices cannot take: new monthly indices then get a "-v<N>" suffix, and
// `index reindex` copies the old ones over and swaps the alias, without downtime.
const Version = 1

// Entity field names under "entities", one keyword array per entity type, so that a terms
// aggregation on e.g. entities.person charts the people most mentioned.
const (
	EntityPerson = "person"
	EntityOrg    = "org"
	EntityLoc    = "loc"
	EntityMisc   = "misc"
)

// Names derives every name the index stage uses from one prefix, so tests and parallel
// deployments can keep to their own indices: prefix "articles" gives monthly indices
// articles-2019.08 (schema version 1) or articles-2019.08-v2 (version 2), read alias articles and
// index template articles.
type Names struct {
	Prefix string
}

// Alias is the read alias every monthly index joins (through the template's "aliases").
func (n Names) Alias() string { return n.Prefix }

// TemplateName is the name of the composable index template.
func (n Names) TemplateName() string { return n.Prefix }

// Pattern is the template's index pattern.
func (n Names) Pattern() string { return n.Prefix + "-*" }

// Index returns the concrete index for a publication time (by its UTC month) and schema version.
func (n Names) Index(publishedAt time.Time, version int) string {
	t := publishedAt.UTC()
	name := fmt.Sprintf("%s-%04d.%02d", n.Prefix, t.Year(), int(t.Month()))
	if version > 1 {
		name += "-v" + strconv.Itoa(version)
	}
	return name
}

var indexRE = regexp.MustCompile(`^(.+)-(\d{4})\.(\d{2})(?:-v(\d+))?$`)

// ParseIndex splits a concrete index name made by Index back into its month and schema version;
// ok is false for names that are not this prefix's monthly indices (they are left alone).
func (n Names) ParseIndex(name string) (month time.Time, version int, ok bool) {
	m := indexRE.FindStringSubmatch(name)
	if m == nil || m[1] != n.Prefix {
		return time.Time{}, 0, false
	}
	y, _ := strconv.Atoi(m[2])
	mo, _ := strconv.Atoi(m[3])
	if mo < 1 || mo > 12 {
		return time.Time{}, 0, false
	}
	version = 1
	if m[4] != "" {
		version, _ = strconv.Atoi(m[4])
	}
	return time.Date(y, time.Month(mo), 1, 0, 0, 0, 0, time.UTC), version, true
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
// Its mapping is the search contract of DESIGN.md:
//
//   - id, source, url, language, authors, enrichment_version: keyword
//   - title: text (Settings.TextAnalyzer, english by default) with a title.keyword sub-field for
//     sorting and aggregations
//   - body: text with the same analyzer
//   - published_at, ingested_at, enriched_at, indexed_at: date
//   - entities.person / entities.org / entities.loc / entities.misc: keyword arrays, one per
//     entity type, for terms aggregations
//   - date_mentions: date_range array (format yyyy-MM-dd), each mention's first and last day,
//     so a range query finds articles that talk about a period
//   - date_values: keyword array of the mentions' TIMEX3 values ("2019-08-20", "2019-W34", "201X")
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
					"date_mentions": map[string]any{"type": "date_range", "format": "yyyy-MM-dd"},
					"date_values":   kw,
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
