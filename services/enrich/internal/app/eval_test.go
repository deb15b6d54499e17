package app

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/newsflow/newsflow/pkg/service"
	"github.com/newsflow/newsflow/pkg/testenv"
	"github.com/newsflow/newsflow/services/enrich/internal/conll"
	"github.com/newsflow/newsflow/services/enrich/internal/ner"
)

// oddConll labels Paris a person: a model trained on it disagrees with the shipped one, which
// shows whose figures `eval conll -model` prints.
const oddConll = `-DOCSTART- -X- -X- O

Paris NNP B-NP B-PER
visited VBD B-VP O
Acme NNP B-NP B-ORG
. . O O

Paris NNP B-NP B-PER
met VBD B-VP O
Mary NNP B-NP B-PER
Jones NNP I-NP I-PER
in IN B-PP O
London NNP B-NP B-LOC
. . O O
`

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestEvalConllCLI checks `enrich eval conll`: both figures, the model from -model, and usage
// errors for what cannot run.
func TestEvalConllCLI(t *testing.T) {
	data := writeFile(t, "odd.conll", oddConll)
	docs, err := conll.ReadFile(data)
	if err != nil {
		t.Fatal(err)
	}
	out, stderr, err := runCLI(t, "", "eval", "conll", data)
	if err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	def, err := ner.Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"token path", conll.EvaluateDocs(docs, def.TagTokens).String(),
		"text path", conll.EvaluateText(docs, conll.SepSpace, textPath(def)).String(),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	// -model: a model trained on the odd file itself.
	var train []ner.TrainDoc
	for range 4 {
		train = append(train, ner.TrainDoc{Words: conll.Words(docs[0]), Tags: conll.Tags(docs[0])})
	}
	opts := ner.DefaultTrainOptions()
	opts.Epochs, opts.Prune = 3, 0
	m, err := ner.Train(train, opts)
	if err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(t.TempDir(), "odd.bin.gz")
	f, err := os.Create(model)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.WriteModel(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	odd, err := loadRecognizer(model)
	if err != nil {
		t.Fatal(err)
	}
	oddTok := conll.EvaluateDocs(docs, odd.TagTokens).String()
	if oddTok == conll.EvaluateDocs(docs, def.TagTokens).String() {
		t.Fatal("the odd model scores like the shipped one: the test cannot tell them apart")
	}
	out, stderr, err = runCLI(t, "", "eval", "conll", "-model", model, "-sep", "paragraph", data)
	if err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	for _, want := range []string{oddTok, conll.EvaluateText(docs, conll.SepParagraph, textPath(odd)).String()} {
		if !strings.Contains(out, want) {
			t.Errorf("-model output lacks %q:\n%s", want, out)
		}
	}

	for _, tc := range []struct {
		name  string
		args  []string
		usage bool
		msg   string
	}{
		{"no file", []string{"eval", "conll"}, true, "one CoNLL file"},
		{"two files", []string{"eval", "conll", data, data}, true, "one CoNLL file"},
		{"bad separator", []string{"eval", "conll", "-sep", "tab", data}, true, "-sep"},
		{"missing model", []string{"eval", "conll", "-model", filepath.Join(t.TempDir(), "none"), data}, false, "opening the entity model"},
		{"not a model", []string{"eval", "conll", "-model", data, data}, false, "loading NER model"},
		{"missing data", []string{"eval", "conll", filepath.Join(t.TempDir(), "none")}, false, "opening CoNLL file"},
		{"timeml needs a directory", []string{"eval", "timeml"}, true, "directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runCLI(t, "", tc.args...)
			var u service.UsageError
			if err == nil || errors.As(err, &u) != tc.usage || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("err = %v (usage error: %v), want one with %q (usage error: %v)", err, errors.As(err, &u), tc.msg, tc.usage)
			}
		})
	}
}

// textValidF1 is the overall F1 the shipped model reaches on CoNLL-2003 valid.txt through the
// text path (0.9748 on 2026-12-01 with issue 16's clusters, generated lists, evidence rules,
// CoNLL-style tokeniser and text-view training; 0.9351 before them; the token path gives
// 0.9904), minus 0.005. It guards what users get: a tokeniser, sentence-splitting or
// post-processing change that costs more than that fails here even when the token-level guard
// in internal/ner still passes. Raise it when the text path improves. The shipped model was
// trained on train+valid, so this is not a measure of generalisation (a model trained on
// train.txt alone: 0.9097 here, 0.9092 by tokens; 0.8751 and 0.9134 before issue 16).
const textValidF1 = 0.969

func TestConllValidTextPath(t *testing.T) {
	path := filepath.Join(testenv.DataDir(t), "conll2003", "valid.txt")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("CoNLL-2003 valid.txt not available: %v", err)
	}
	docs, err := conll.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := ner.Default()
	if err != nil {
		t.Fatal(err)
	}
	s := conll.EvaluateText(docs, conll.SepSpace, textPath(rec))
	t.Logf("valid.txt through the text path:\n%s", s)
	if f := s.Overall.F1(); f < textValidF1 {
		t.Errorf("valid F1 through the text path %.4f < %.4f", f, textValidF1)
	}
}
