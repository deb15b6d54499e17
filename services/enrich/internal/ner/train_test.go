package ner

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

func toyDocs() []TrainDoc {
	sents := []string{
		"John/B-PER Smith/I-PER visited/O Paris/B-LOC ./O",
		"Acme/B-ORG Corp/I-ORG said/O on/O Monday/O ./O",
		"The/O German/B-MISC team/O beat/O Italy/B-LOC ./O",
		"Mary/B-PER Jones/I-PER works/O for/O Acme/B-ORG ./O",
		"PARIS/B-LOC 1996-08-22/O",
		"Rain/O fell/O in/O London/B-LOC on/O Tuesday/O ./O",
	}
	var docs []TrainDoc
	for d := 0; d < 12; d++ {
		var doc TrainDoc
		for k := 0; k < 3; k++ {
			var words, tags []string
			for _, wt := range strings.Fields(sents[(d+k)%len(sents)]) {
				w, t, _ := strings.Cut(wt, "/")
				words, tags = append(words, w), append(tags, t)
			}
			doc.Words, doc.Tags = append(doc.Words, words), append(doc.Tags, tags)
		}
		docs = append(docs, doc)
	}
	return docs
}

// TestTrainSmall checks that training is deterministic and that a written model reads back to
// a recogniser that tags like the trained one.
func TestTrainSmall(t *testing.T) {
	opts := DefaultTrainOptions()
	opts.Epochs = 3
	opts.Prune = 0
	var files [2]bytes.Buffer
	var trained *Trained
	for i := range files {
		m, err := Train(toyDocs(), opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.WriteModel(&files[i]); err != nil {
			t.Fatal(err)
		}
		trained = m
	}
	if !bytes.Equal(files[0].Bytes(), files[1].Bytes()) {
		t.Error("training is not deterministic")
	}
	loaded, err := Load(bytes.NewReader(files[0].Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	doc := [][]string{{"Mary", "Smith", "visited", "London", "."}, {"ACME", "CORP", "SAYS"}}
	want, got := trained.Recognizer.TagTokens(doc), loaded.TagTokens(doc)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("loaded model tags %v, trained one %v", got, want)
	}
	if got[0][0] != "B-PER" {
		t.Errorf("toy model tags %v", got)
	}
	if _, err := Train([]TrainDoc{{Words: [][]string{{"a"}}, Tags: [][]string{{"X-FOO"}}}}, opts); err == nil {
		t.Error("want an error for an unknown tag")
	}
	if _, err := Load(strings.NewReader("not a model")); err == nil {
		t.Error("want an error for a bad model file")
	}
}
