// Package app wires the enrich command: its subcommands, configuration, Kafka and metrics.
// The enrichment itself lives in internal/enrich, internal/ner and internal/dates.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/newsflow/newsflow/pkg/dedup"
	"github.com/newsflow/newsflow/pkg/service"
	"github.com/newsflow/newsflow/services/enrich/internal/dates"
	"github.com/newsflow/newsflow/services/enrich/internal/enrich"
	"github.com/newsflow/newsflow/services/enrich/internal/geo"
	"github.com/newsflow/newsflow/services/enrich/internal/ner"
)

// Version is written into every enriched article as enrichment_version; bump it when the model
// or the date rules change so that documents can be told apart and re-enriched. 3: places (the
// LOC entities geocoded, internal/geo). 4: similarity (the MinHash signature and band keys of
// internal/dedup, from which the index stage decides duplicate_of and story_id). 5: a smaller
// NER model (pruned at 3), the second stage no longer scoring plain lower-case text, and
// signatures from cheaper hash functions (not comparable with version 4's: replay, REPLAY.md).
// 6: the first stage no longer scoring plain lower-case text after no name (ner.decodeSentence).
// 7: the seats of institutions ("White House", "Wall Street") placed in their city (geo.seats).
const Version = "newsflow-enrich/7"

const usage = `enrich: find the people, organisations, places, nationalities and dates each article mentions.

usage:
  enrich serve   [flags]                 consume articles.raw, produce articles.enriched (Kafka)
  enrich extract [flags] [FILE ...]      enrich files or stdin without Kafka; one JSON line out per article
  enrich eval timeml DIR                 date extraction quality on TimeML files (TempEval-3)
  enrich eval conll [flags] FILE         entity quality on a CoNLL-2003 file (conlleval-style P/R/F1),
                                         through CoNLL's tokens and through text as extract sees it

Run "enrich COMMAND --help" for the flags of a command. Every flag can also be set by the
NEWSFLOW_* environment variable shown in its help.
`

// Run is the enrich command line.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return service.UsageError{Err: errors.New("a command is needed")}
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stderr)
	case "extract":
		return extract(ctx, args[1:], stdin, stdout, stderr)
	case "eval":
		return eval(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return service.UsageError{Err: fmt.Errorf("unknown command %q", args[0])}
	}
}

var (
	enricherOnce sync.Once
	enricherVal  *enrich.Enricher
	enricherErr  error
)

// newEnricher loads the entity model once per process (it is shared, read-only, by all
// workers). The places table (about 90 ms of CPU) then decodes in the background and is not
// waited for here: start-up stays the model's (whose loading already keeps two cores busy, so
// decoding the table beside it would only slow it down), and an article waits for the table
// only if it comes before the table is ready.
func newEnricher() (*enrich.Enricher, error) {
	enricherOnce.Do(func() {
		rec, err := ner.Default()
		if err != nil {
			enricherErr = fmt.Errorf("loading the entity model: %w", err)
			return
		}
		places := geo.Background()
		enricherVal = &enrich.Enricher{Entities: rec, Dates: dates.New(), Places: places, Similarity: dedup.Of, Version: Version}
	})
	return enricherVal, enricherErr
}
