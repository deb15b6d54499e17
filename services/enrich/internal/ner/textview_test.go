package ner

import (
	"reflect"
	"testing"
)

// TestAsTextCarriesTagsToTheTextTokens checks the text view of a training document: the body's
// sentences run together where no period ends them, the title comes last, and a token the
// tokeniser splits ("anti-Assad") keeps its tag on the first piece and continues it after.
func TestAsTextCarriesTagsToTheTextTokens(t *testing.T) {
	doc := TrainDoc{
		Words: [][]string{
			{"SYRIA", "TALKS"},
			{"Rebels", "meet", "in", "Idlib"},
			{"The", "anti-Assad", "rebels", "met", "Ali", "Shamkhani", "."},
		},
		Tags: [][]string{
			{"B-LOC", "O"},
			{"O", "O", "O", "B-LOC"},
			{"O", "B-MISC", "O", "O", "B-PER", "I-PER", "O"},
		},
	}
	got := AsText(doc)
	want := TrainDoc{
		Words: [][]string{
			{"Rebels", "meet", "in", "Idlib", "The", "anti", "-", "Assad", "rebels", "met", "Ali", "Shamkhani", "."},
			{"SYRIA", "TALKS"},
		},
		Tags: [][]string{
			{"O", "O", "O", "B-LOC", "O", "B-MISC", "I-MISC", "I-MISC", "O", "O", "B-PER", "I-PER", "O"},
			{"B-LOC", "O"},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("AsText:\n got %q\n     %q\nwant %q\n     %q", got.Words, got.Tags, want.Words, want.Tags)
	}
}
