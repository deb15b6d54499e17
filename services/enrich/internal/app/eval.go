package app

import (
	"fmt"
	"io"
	"time"

	"github.com/newsflow/newsflow/pkg/article"
	"github.com/newsflow/newsflow/pkg/service"
	"github.com/newsflow/newsflow/services/enrich/internal/conll"
	"github.com/newsflow/newsflow/services/enrich/internal/dates"
	"github.com/newsflow/newsflow/services/enrich/internal/ner"
	"github.com/newsflow/newsflow/services/enrich/internal/timeml"
)

// eval is `enrich eval timeml DIR` and `enrich eval conll FILE`: the quality measures the
// extractors are tuned and judged by.
func eval(args []string, stdout, stderr io.Writer) error {
	const u = "usage: enrich eval timeml DIR | enrich eval conll FILE"
	if len(args) != 2 {
		fmt.Fprintln(stderr, u)
		return service.UsageError{Err: fmt.Errorf("eval needs a corpus kind and a path")}
	}
	switch args[0] {
	case "timeml":
		d := dates.New()
		s, err := timeml.Evaluate(args[1], func(text string, published time.Time) []article.DateMention {
			return d.Extract(article.FieldBody, text, published)
		})
		if err != nil {
			return err
		}
		_, err = s.WriteTo(stdout)
		return err
	case "conll":
		docs, err := conll.ReadFile(args[1])
		if err != nil {
			return err
		}
		rec, err := ner.Default()
		if err != nil {
			return fmt.Errorf("loading the entity model: %w", err)
		}
		var gold, pred [][]string
		for _, doc := range docs {
			gold = append(gold, conll.Tags(doc)...)
			pred = append(pred, rec.TagTokens(conll.Words(doc))...)
		}
		return conll.Evaluate(gold, pred).Fprint(stdout)
	default:
		fmt.Fprintln(stderr, u)
		return service.UsageError{Err: fmt.Errorf("unknown corpus kind %q", args[0])}
	}
}
