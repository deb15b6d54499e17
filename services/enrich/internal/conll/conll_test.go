package conll

import (
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	in := `-DOCSTART- -X- -X- O

EU NNP I-NP I-ORG
rejects VBZ I-VP O
German JJ I-NP I-MISC
call NN I-NP O

Peter NNP I-NP I-PER
Blackburn NNP I-NP I-PER
Smith NNP I-NP B-PER

-DOCSTART- -X- -X- O

BRUSSELS NNP I-NP I-LOC
`
	docs, err := Read(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 || len(docs[0]) != 2 || len(docs[1]) != 1 {
		t.Fatalf("shape: %d docs", len(docs))
	}
	got := Tags(docs[0])
	want := [][]string{{"B-ORG", "O", "B-MISC", "O"}, {"B-PER", "I-PER", "B-PER"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("tags = %v, want %v", got, want)
	}
	if w := Words(docs[1]); w[0][0] != "BRUSSELS" {
		t.Errorf("words = %v", w)
	}
	if _, err := Read(strings.NewReader("a B-XX-\nb\n")); err == nil {
		t.Error("want error on a line without tag")
	}
}

func TestToIOB2(t *testing.T) {
	tests := []struct{ in, want string }{
		{"I-PER I-PER O I-LOC", "B-PER I-PER O B-LOC"},
		{"I-PER B-PER I-PER", "B-PER B-PER I-PER"},
		{"I-PER I-ORG", "B-PER B-ORG"},
		{"B-PER I-PER O", "B-PER I-PER O"},
	}
	for _, tt := range tests {
		tags := strings.Fields(tt.in)
		ToIOB2(tags)
		if got := strings.Join(tags, " "); got != tt.want {
			t.Errorf("ToIOB2(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestSpans(t *testing.T) {
	tests := []struct {
		tags string
		want []Span
	}{
		{"O O", nil},
		{"B-PER I-PER O B-LOC", []Span{{"PER", 0, 2}, {"LOC", 3, 4}}},
		// conlleval: an I- after O starts a chunk; a type change ends one.
		{"O I-ORG I-ORG", []Span{{"ORG", 1, 3}}},
		{"B-PER I-ORG", []Span{{"PER", 0, 1}, {"ORG", 1, 2}}},
		{"B-PER B-PER", []Span{{"PER", 0, 1}, {"PER", 1, 2}}},
	}
	for _, tt := range tests {
		if got := Spans(strings.Fields(tt.tags)); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Spans(%s) = %v, want %v", tt.tags, got, tt.want)
		}
	}
}

func TestEvaluate(t *testing.T) {
	// Hand-checked with conlleval: gold has 4 chunks (PER, LOC, ORG, MISC); prediction finds
	// PER exactly, LOC with the wrong span, ORG right, and a spurious MISC: 4 found, 2 correct.
	gold := [][]string{
		strings.Fields("B-PER I-PER O B-LOC I-LOC"),
		strings.Fields("B-ORG O B-MISC"),
	}
	pred := [][]string{
		strings.Fields("B-PER I-PER O B-LOC O"),
		strings.Fields("B-ORG B-MISC O"),
	}
	s := Evaluate(gold, pred)
	if s.Overall != (Counts{Gold: 4, Pred: 4, Correct: 2}) {
		t.Fatalf("overall = %+v", s.Overall)
	}
	if s.Types["LOC"] != (Counts{Gold: 1, Pred: 1, Correct: 0}) || s.Types["PER"].Correct != 1 {
		t.Errorf("types = %+v", s.Types)
	}
	if s.Tokens != 8 || s.TokensCorrect != 5 {
		t.Errorf("tokens %d/%d", s.TokensCorrect, s.Tokens)
	}
	if f := s.Overall.F1(); math.Abs(f-0.5) > 1e-9 {
		t.Errorf("F1 = %v", f)
	}
	out := s.String()
	for _, want := range []string{"found: 4 phrases; correct: 2", "FB1:  50.00", "LOC: precision:   0.00%"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if (Counts{}).F1() != 0 || (Counts{}).Precision() != 0 {
		t.Error("empty counts should score 0")
	}
}

func TestEvaluateDocs(t *testing.T) {
	docs, err := Read(strings.NewReader("-DOCSTART- -X- -X- O\n\nJohn NNP B-NP B-PER\nruns VBZ B-VP O\n\nParis NNP B-NP B-LOC\n"))
	if err != nil {
		t.Fatal(err)
	}
	// A tagger that calls everything capitalised a person: John right, Paris wrong type.
	s := EvaluateDocs(docs, func(doc [][]string) [][]string {
		out := make([][]string, len(doc))
		for i, sent := range doc {
			for _, w := range sent {
				tag := "O"
				if w[0] >= 'A' && w[0] <= 'Z' {
					tag = "B-PER"
				}
				out[i] = append(out[i], tag)
			}
		}
		return out
	})
	if s.Overall != (Counts{Gold: 2, Pred: 2, Correct: 1}) || s.Types["LOC"].Gold != 1 || s.Types["PER"].Pred != 2 {
		t.Errorf("scores = %+v", s)
	}
}
