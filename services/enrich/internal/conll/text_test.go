package conll

import (
	"reflect"
	"strings"
	"testing"

	"github.com/newsflow/newsflow/pkg/article"
)

const textDoc = `-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
call NN B-NP O
. . O O

BRUSSELS NNP B-NP B-LOC
1996-08-22 CD I-NP O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER
of IN B-PP O
New NNP B-NP B-MISC
York-based JJ I-NP I-MISC
Acme NNP I-NP B-ORG
.  . O O
`

func readOne(t *testing.T, s string) Document {
	t.Helper()
	docs, err := Read(strings.NewReader(s))
	if err != nil || len(docs) != 1 {
		t.Fatalf("reading: %v (%d docs)", err, len(docs))
	}
	return docs[0]
}

func TestNewText(t *testing.T) {
	doc := readOne(t, textDoc)
	for _, tc := range []struct {
		sep, body string
	}{
		{SepSpace, "BRUSSELS 1996-08-22 Peter Blackburn of New York-based Acme ."},
		{SepLine, "BRUSSELS 1996-08-22\nPeter Blackburn of New York-based Acme ."},
		{SepParagraph, "BRUSSELS 1996-08-22\n\nPeter Blackburn of New York-based Acme ."},
	} {
		tx := NewText(doc, tc.sep)
		if tx.Title != "EU rejects call ." || tx.Body != tc.body {
			t.Errorf("sep %q: title %q body %q", tc.sep, tx.Title, tx.Body)
		}
		// Every token's place points at its word.
		for si, s := range doc {
			for i, tok := range s {
				p := tx.at[si][i]
				text := tx.Body
				if p.field == article.FieldTitle {
					text = tx.Title
				}
				if text[p.start:p.end] != tok.Word {
					t.Errorf("sep %q: token %d.%d %q at %d..%d is %q", tc.sep, si, i, tok.Word, p.start, p.end, text[p.start:p.end])
				}
			}
		}
	}
	if tx := NewText(readOne(t, "Alone NNP B-NP B-PER\n"), SepSpace); tx.Title != "Alone" || tx.Body != "" {
		t.Errorf("one sentence: title %q body %q", tx.Title, tx.Body)
	}
}

func ent(typ string, ms ...article.Mention) article.Entity {
	return article.Entity{Name: "x", Type: typ, Mentions: ms}
}

func m(field string, start, end int) article.Mention {
	return article.Mention{Field: field, Start: start, End: end}
}

func TestTextTags(t *testing.T) {
	doc := readOne(t, textDoc)
	tx := NewText(doc, SepSpace)
	at := func(field, s string) (int, int) {
		text := tx.Body
		if field == article.FieldTitle {
			text = tx.Title
		}
		i := strings.Index(text, s)
		if i < 0 {
			t.Fatalf("%q not in %s", s, field)
		}
		return i, i + len(s)
	}
	mm := func(field, s string) article.Mention {
		a, z := at(field, s)
		return m(field, a, z)
	}
	ents := []article.Entity{
		ent(article.TypeOrg, mm(article.FieldTitle, "EU")),
		// One entity, two mentions: each mention takes the entity's type.
		ent(article.TypeLoc, mm(article.FieldBody, "BRUSSELS"), mm(article.FieldBody, "New York")), // "York" is inside "York-based"
		ent(article.TypePerson, mm(article.FieldBody, "Peter Blackburn")),
		ent(article.TypeOrg, mm(article.FieldBody, "1996-08-22 Peter")),    // overlaps Peter Blackburn, and crosses sentences
		ent(article.TypeMisc, mm(article.FieldBody, "22 Peter Blackburn")), // starts inside a token
		ent(article.TypeOrg, mm(article.FieldBody, "Acme")),
	}
	tags, strays := tx.Tags(ents)
	want := [][]string{
		{"B-ORG", "O", "O", "O"},
		{"B-LOC", "O"},
		{"B-PER", "I-PER", "O", "O", "O", "B-ORG", "O"},
	}
	if !reflect.DeepEqual(tags, want) {
		t.Errorf("tags = %v, want %v", tags, want)
	}
	var got []string
	for _, s := range strays {
		got = append(got, s.Type+":"+s.Text)
	}
	if w := []string{"LOC:New York", "ORG:1996-08-22 Peter", "MISC:22 Peter Blackburn"}; !reflect.DeepEqual(got, w) {
		t.Errorf("strays = %v, want %v", got, w)
	}
	// A mention that crosses sentences but overlaps nothing is still a stray.
	if _, strays := tx.Tags([]article.Entity{ent(article.TypeLoc, mm(article.FieldBody, "1996-08-22 Peter"))}); len(strays) != 1 {
		t.Errorf("cross-sentence mention: strays %v", strays)
	}
	// Offsets outside the text do not panic.
	if _, strays := tx.Tags([]article.Entity{ent(article.TypeLoc, m(article.FieldBody, 5, 500))}); len(strays) != 1 || strays[0].Text != "" {
		t.Errorf("bad offsets: strays %v", strays)
	}
}

func TestEvaluateText(t *testing.T) {
	docs, err := Read(strings.NewReader(textDoc))
	if err != nil {
		t.Fatal(err)
	}
	// A fake extractor that finds "EU" (right), "Peter Blackburn" (right), "New York" (a stray:
	// "York" is inside "York-based") and "Acme" as a person (wrong type).
	var seen []string
	extract := func(title, body string) []article.Entity {
		seen = append(seen, title, body)
		find := func(field, text, s string) article.Mention {
			i := strings.Index(text, s)
			return m(field, i, i+len(s))
		}
		return []article.Entity{
			ent(article.TypeOrg, find(article.FieldTitle, title, "EU")),
			ent(article.TypePerson, find(article.FieldBody, body, "Peter Blackburn"), find(article.FieldBody, body, "Acme")),
			ent(article.TypeMisc, find(article.FieldBody, body, "New York")),
		}
	}
	s := EvaluateText(docs, SepSpace, extract)
	if want := []string{"EU rejects call .", "BRUSSELS 1996-08-22 Peter Blackburn of New York-based Acme ."}; !reflect.DeepEqual(seen, want) {
		t.Fatalf("extractor saw %q", seen)
	}
	// Gold: EU, BRUSSELS, Peter Blackburn, New York-based, Acme (5). Found: EU, Peter Blackburn,
	// Acme (PER), New York (stray) = 4, of which 2 are right.
	if s.Overall != (Counts{Gold: 5, Pred: 4, Correct: 2}) || s.Strays != 1 {
		t.Errorf("overall %+v, strays %d", s.Overall, s.Strays)
	}
	if s.Types["MISC"] != (Counts{Gold: 1, Pred: 1}) || s.Types["PER"] != (Counts{Gold: 1, Pred: 2, Correct: 1}) {
		t.Errorf("types %+v", s.Types)
	}
	if out := s.String(); !strings.Contains(out, "1 found phrases fall on no token span") {
		t.Errorf("table does not say how many strays:\n%s", out)
	}
}

func TestParseSep(t *testing.T) {
	for name, want := range map[string]string{"space": SepSpace, "line": SepLine, "paragraph": SepParagraph} {
		if got, err := ParseSep(name); err != nil || got != want {
			t.Errorf("ParseSep(%q) = %q, %v", name, got, err)
		}
	}
	if _, err := ParseSep("tab"); err == nil {
		t.Error("ParseSep(tab): want an error")
	}
}
