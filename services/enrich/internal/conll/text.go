package conll

import (
	"fmt"
	"strings"

	"github.com/newsflow/newsflow/pkg/article"
)

// Separators between the body's sentences when a document is turned into text. SepSpace is
// what issue 16 measures (and the default): the whole body on one line, so that the tokeniser's
// sentence splitter decides where sentences end, as it must on most real text.
const (
	SepSpace     = " "
	SepLine      = "\n"
	SepParagraph = "\n\n"
)

// Text is a CoNLL document as a user would give it to `enrich extract`: the first sentence is
// the title, the other sentences are the body, tokens joined by single spaces. It remembers
// where each token lies, so that entities found in the text can be scored against the tokens.
type Text struct {
	Title, Body string
	at          [][]place // at[s][i]: where token i of sentence s lies
}

// place is a token's field and byte range in that field.
type place struct {
	field      string
	start, end int
}

// NewText builds the text of doc; sep goes between the body's sentences (SepSpace, SepLine or
// SepParagraph).
func NewText(doc Document, sep string) *Text {
	t := &Text{at: make([][]place, len(doc))}
	var title, body strings.Builder
	for si, s := range doc {
		b, field := &body, article.FieldBody
		if si == 0 {
			b, field = &title, article.FieldTitle
		} else if si > 1 {
			b.WriteString(sep)
		}
		t.at[si] = make([]place, len(s))
		for i, tok := range s {
			if i > 0 {
				b.WriteByte(' ')
			}
			t.at[si][i] = place{field: field, start: b.Len(), end: b.Len() + len(tok.Word)}
			b.WriteString(tok.Word)
		}
	}
	t.Title, t.Body = title.String(), body.String()
	return t
}

// conllType maps newsflow's entity types to CoNLL's.
func conllType(t string) string {
	if t == article.TypePerson {
		return "PER"
	}
	return t
}

// Stray is a mention whose ends are not the ends of CoNLL tokens of one sentence ("U.S." out of
// the token "U.S.-based", or a name running across a sentence boundary). It cannot match a gold
// chunk, so it counts as a wrong prediction.
type Stray struct {
	Type, Field, Text string
	Start, End        int
}

// Tags maps the entities found in t's text back to IOB2 tags of the document's tokens, one
// slice per sentence, and returns the mentions that do not fall on token boundaries. Every
// mention takes its entity's type, as users see it.
func (t *Text) Tags(ents []article.Entity) ([][]string, []Stray) {
	type edge struct {
		field string
		off   int
	}
	type loc struct{ sent, tok int }
	startAt, endAt := map[edge]loc{}, map[edge]loc{}
	tags := make([][]string, len(t.at))
	for si, s := range t.at {
		tags[si] = make([]string, len(s))
		for i, p := range s {
			tags[si][i] = "O"
			startAt[edge{p.field, p.start}] = loc{si, i}
			endAt[edge{p.field, p.end}] = loc{si, i}
		}
	}
	var strays []Stray
	for _, e := range ents {
		typ := conllType(e.Type)
		for _, m := range e.Mentions {
			a, okA := startAt[edge{m.Field, m.Start}]
			z, okZ := endAt[edge{m.Field, m.End}]
			if !okA || !okZ || a.sent != z.sent || z.tok < a.tok || taken(tags[a.sent][a.tok:z.tok+1]) {
				text := t.Body
				if m.Field == article.FieldTitle {
					text = t.Title
				}
				s := Stray{Type: typ, Field: m.Field, Start: m.Start, End: m.End}
				if 0 <= m.Start && m.Start <= m.End && m.End <= len(text) {
					s.Text = text[m.Start:m.End]
				}
				strays = append(strays, s)
				continue
			}
			tags[a.sent][a.tok] = "B-" + typ
			for i := a.tok + 1; i <= z.tok; i++ {
				tags[a.sent][i] = "I-" + typ
			}
		}
	}
	return tags, strays
}

// taken reports whether any of the tags already belongs to a mention (overlapping mentions
// cannot both be right; the later one is a stray).
func taken(tags []string) bool {
	for _, t := range tags {
		if t != "O" {
			return true
		}
	}
	return false
}

// EvaluateText scores entity extraction through text, the way users get entities: each
// document becomes a Text (sep between body sentences), extract finds the entities of its title
// and body, and the mentions are mapped back to tokens and scored like conlleval. Strays count
// as predicted chunks that are wrong.
func EvaluateText(docs []Document, sep string, extract func(title, body string) []article.Entity) Scores {
	s := Scores{Types: map[string]Counts{}}
	for _, d := range docs {
		t := NewText(d, sep)
		pred, strays := t.Tags(extract(t.Title, t.Body))
		for i, g := range Tags(d) {
			s.Add(g, pred[i])
		}
		s.AddStrays(strays)
	}
	return s
}

// AddStrays counts mentions that fall on no token span as wrong predictions.
func (s *Scores) AddStrays(strays []Stray) {
	if s.Types == nil {
		s.Types = map[string]Counts{}
	}
	for _, st := range strays {
		c := s.Types[st.Type]
		c.Pred++
		s.Types[st.Type] = c
		s.Overall.Pred++
		s.Strays++
	}
}

// ParseSep maps the names a command line uses to separators.
func ParseSep(name string) (string, error) {
	switch name {
	case "space":
		return SepSpace, nil
	case "line":
		return SepLine, nil
	case "paragraph":
		return SepParagraph, nil
	}
	return "", fmt.Errorf("sentence separator %q: want space, line or paragraph", name)
}
