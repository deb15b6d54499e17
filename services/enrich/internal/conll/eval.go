package conll

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// Span is one chunk found in a tag sequence: tokens [Start, End) of type Type (PER, ORG...).
type Span struct {
	Type       string
	Start, End int
}

// splitTag returns the prefix ("B", "I" or "O") and type of an IOB tag.
func splitTag(t string) (string, string) {
	if len(t) > 2 && t[1] == '-' {
		return t[:1], t[2:]
	}
	return "O", ""
}

// endOfChunk and startOfChunk are conlleval's rules, so that malformed sequences (an I-X after
// O or after a different type) are scored exactly as the shared task scored them.
func endOfChunk(prevTag, tag, prevType, typ string) bool {
	switch {
	case prevTag == "B" && tag == "B", prevTag == "B" && tag == "O",
		prevTag == "I" && tag == "B", prevTag == "I" && tag == "O":
		return true
	}
	return prevTag != "O" && prevType != typ
}

func startOfChunk(prevTag, tag, prevType, typ string) bool {
	switch {
	case prevTag == "B" && tag == "B", prevTag == "I" && tag == "B",
		prevTag == "O" && tag == "B", prevTag == "O" && tag == "I":
		return true
	}
	return tag != "O" && prevType != typ
}

// Spans returns the chunks of one sentence's tags, read with conlleval's rules.
func Spans(tags []string) []Span {
	var out []Span
	prevTag, prevType := "O", ""
	start := -1
	for i := 0; i <= len(tags); i++ {
		tag, typ := "O", ""
		if i < len(tags) {
			tag, typ = splitTag(tags[i])
		}
		if start >= 0 && endOfChunk(prevTag, tag, prevType, typ) {
			out = append(out, Span{Type: prevType, Start: start, End: i})
			start = -1
		}
		if startOfChunk(prevTag, tag, prevType, typ) {
			start = i
		}
		prevTag, prevType = tag, typ
	}
	return out
}

// Counts holds chunk counts for one type or overall.
type Counts struct {
	Gold, Pred, Correct int
}

// Precision is Correct/Pred (0 when nothing was predicted).
func (c Counts) Precision() float64 {
	if c.Pred == 0 {
		return 0
	}
	return float64(c.Correct) / float64(c.Pred)
}

// Recall is Correct/Gold (0 when there is no gold chunk).
func (c Counts) Recall() float64 {
	if c.Gold == 0 {
		return 0
	}
	return float64(c.Correct) / float64(c.Gold)
}

// F1 is the harmonic mean of precision and recall.
func (c Counts) F1() float64 {
	p, r := c.Precision(), c.Recall()
	if p+r == 0 {
		return 0
	}
	return 2 * p * r / (p + r)
}

// Scores is the result of Evaluate: entity-level counts per type and overall, plus token accuracy.
type Scores struct {
	Overall        Counts
	Types          map[string]Counts
	Tokens         int
	TokensCorrect  int
	Sentences      int
	MismatchedSent int // sentences whose gold and predicted lengths differ (scored as far as both go)
	Strays         int // text path: mentions that fall on no token span (counted as wrong predictions)
}

// Add accumulates one sentence: gold and predicted IOB tags of the same tokens.
func (s *Scores) Add(gold, pred []string) {
	if s.Types == nil {
		s.Types = map[string]Counts{}
	}
	s.Sentences++
	n := len(gold)
	if len(pred) != n {
		s.MismatchedSent++
		n = min(n, len(pred))
		gold, pred = gold[:n], pred[:n]
	}
	for i := 0; i < n; i++ {
		s.Tokens++
		if gold[i] == pred[i] {
			s.TokensCorrect++
		}
	}
	gs, ps := Spans(gold), Spans(pred)
	in := make(map[Span]bool, len(gs))
	for _, g := range gs {
		in[g] = true
		c := s.Types[g.Type]
		c.Gold++
		s.Types[g.Type] = c
		s.Overall.Gold++
	}
	for _, p := range ps {
		c := s.Types[p.Type]
		c.Pred++
		s.Overall.Pred++
		if in[p] {
			c.Correct++
			s.Overall.Correct++
		}
		s.Types[p.Type] = c
	}
}

// Evaluate scores predicted against gold tags, sentence by sentence (the two must be aligned).
// A chunk counts as correct only when its span and type are exactly right, as in conlleval.
func Evaluate(gold, pred [][]string) Scores {
	var s Scores
	s.Types = map[string]Counts{}
	for i := range gold {
		var p []string
		if i < len(pred) {
			p = pred[i]
		}
		s.Add(gold[i], p)
	}
	return s
}

// Accuracy is the share of tokens whose tag is exactly right.
func (s Scores) Accuracy() float64 {
	if s.Tokens == 0 {
		return 0
	}
	return float64(s.TokensCorrect) / float64(s.Tokens)
}

// Fprint writes a conlleval-like table, percentages with two decimals.
func (s Scores) Fprint(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "processed %d tokens with %d phrases; found: %d phrases; correct: %d.\n",
		s.Tokens, s.Overall.Gold, s.Overall.Pred, s.Overall.Correct)
	fmt.Fprintf(&b, "accuracy: %6.2f%%; precision: %6.2f%%; recall: %6.2f%%; FB1: %6.2f\n",
		100*s.Accuracy(), 100*s.Overall.Precision(), 100*s.Overall.Recall(), 100*s.Overall.F1())
	if s.Strays > 0 {
		fmt.Fprintf(&b, "%d found phrases fall on no token span (counted as wrong).\n", s.Strays)
	}
	types := make([]string, 0, len(s.Types))
	for t := range s.Types {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, t := range types {
		c := s.Types[t]
		fmt.Fprintf(&b, "%17s: precision: %6.2f%%; recall: %6.2f%%; FB1: %6.2f  %d\n",
			t, 100*c.Precision(), 100*c.Recall(), 100*c.F1(), c.Pred)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// String returns the Fprint table.
func (s Scores) String() string {
	var b strings.Builder
	_ = s.Fprint(&b)
	return b.String()
}

// EvaluateDocs tags each document with tag (one call per document, as a recogniser that uses
// document context needs) and scores the result against the gold tags.
func EvaluateDocs(docs []Document, tag func(doc [][]string) [][]string) Scores {
	s := Scores{Types: map[string]Counts{}}
	for _, d := range docs {
		pred := tag(Words(d))
		for i, g := range Tags(d) {
			var p []string
			if i < len(pred) {
				p = pred[i]
			}
			s.Add(g, p)
		}
	}
	return s
}
