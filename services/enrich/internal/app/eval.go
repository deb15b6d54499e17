package app

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/newsflow/newsflow/pkg/article"
	"github.com/newsflow/newsflow/pkg/config"
	"github.com/newsflow/newsflow/pkg/service"
	"github.com/newsflow/newsflow/services/enrich/internal/conll"
	"github.com/newsflow/newsflow/services/enrich/internal/dates"
	"github.com/newsflow/newsflow/services/enrich/internal/enrich"
	"github.com/newsflow/newsflow/services/enrich/internal/ner"
	"github.com/newsflow/newsflow/services/enrich/internal/timeml"
)

// eval is `enrich eval timeml DIR` and `enrich eval conll [flags] FILE`: the quality measures
// the extractors are tuned and judged by.
func eval(args []string, stdout, stderr io.Writer) error {
	const u = "usage: enrich eval timeml DIR | enrich eval conll [flags] FILE"
	if len(args) < 1 {
		fmt.Fprintln(stderr, u)
		return service.UsageError{Err: fmt.Errorf("eval needs a corpus kind and a path")}
	}
	switch args[0] {
	case "timeml":
		if len(args) != 2 {
			fmt.Fprintln(stderr, u)
			return service.UsageError{Err: fmt.Errorf("eval timeml needs a directory")}
		}
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
		return evalConll(args[1:], stdout, stderr)
	default:
		fmt.Fprintln(stderr, u)
		return service.UsageError{Err: fmt.Errorf("unknown corpus kind %q", args[0])}
	}
}

// evalConll is `enrich eval conll`. It reports two figures for the same model: the token path
// (the recogniser given CoNLL's own tokens and sentences, what training optimises) and the text
// path (each document as text through the enricher, exactly as `enrich extract` and the stage
// run it, the entities mapped back to tokens). Users get the text path; the gap between the two
// is what tokenisation, sentence splitting, title handling and the post-processing rules cost.
func evalConll(args []string, stdout, stderr io.Writer) error {
	s := config.New("enrich eval conll")
	var model, sepName string
	s.String(&model, "model", "", "", "entity model file written by nertrain (default: the model built into enrich)")
	s.String(&sepName, "sep", "", "space", "what separates the body's sentences in the text path: space (one line, as issue 16 measures), line or paragraph")
	s.FS.SetOutput(stderr)
	s.FS.Usage = func() {
		fmt.Fprint(stderr, `usage: enrich eval conll [-model FILE] [-sep space|line|paragraph] FILE

Scores entity recognition on a CoNLL-2003 file like conlleval (exact span and type, per type
precision, recall and F1), twice:
  token path  the recogniser tagging CoNLL's own tokens and sentences;
  text path   each document as an article, the first sentence its title and the others its body,
              tokens joined by single spaces, through the same code as enrich extract and the
              stage; the mentions' byte offsets are mapped back to the CoNLL tokens.

`)
		s.FS.PrintDefaults()
	}
	if err := s.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return service.UsageError{Err: err}
	}
	if s.FS.NArg() != 1 {
		s.FS.Usage()
		return service.UsageError{Err: fmt.Errorf("eval conll needs one CoNLL file")}
	}
	sep, err := conll.ParseSep(sepName)
	if err != nil {
		return service.UsageError{Err: fmt.Errorf("-sep: %w", err)}
	}
	docs, err := conll.ReadFile(s.FS.Arg(0))
	if err != nil {
		return err
	}
	rec, err := loadRecognizer(model)
	if err != nil {
		return err
	}
	tok := conll.EvaluateDocs(docs, rec.TagTokens)
	text := conll.EvaluateText(docs, sep, textPath(rec))
	var b strings.Builder
	fmt.Fprintf(&b, "token path (CoNLL's tokens and sentences given to the recogniser):\n%s\n", tok)
	fmt.Fprintf(&b, "text path (each document as an article through enrich extract's code, sentences joined by %q):\n%s", sep, text)
	_, err = io.WriteString(stdout, b.String())
	return err
}

// loadRecognizer returns the built-in model, or the one in path.
func loadRecognizer(path string) (*ner.Recognizer, error) {
	if path == "" {
		rec, err := ner.Default()
		if err != nil {
			return nil, fmt.Errorf("loading the entity model: %w", err)
		}
		return rec, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening the entity model: %w", err)
	}
	defer f.Close()
	rec, err := ner.Load(f)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return rec, nil
}

// textPath returns the function that gets an article's entities the way the service does:
// through enrich.Enricher.Enrich, which cleans and caps the fields before the recogniser's
// Extract sees them (dates are left out: they do not touch entities).
func textPath(rec *ner.Recognizer) func(title, body string) []article.Entity {
	en := &enrich.Enricher{Entities: rec, Version: Version}
	return func(title, body string) []article.Entity {
		return en.Enrich(article.Article{Title: title, Body: body}).Entities
	}
}
