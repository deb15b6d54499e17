package ner

import (
	"sort"
	"strings"
)

// AsText returns a training document as Extract sees it when a user gives it as text: the first
// sentence is the title and the others the body, tokens joined by single spaces, re-tokenised
// (and split into sentences) by the same tokeniser Extract uses, body first and title last, with
// the gold tags carried over to the new tokens. Training on both views teaches the tagger what
// real text looks like after tokenisation: sentences that run together where a headline, a
// dateline or a table row has no final period, which CoNLL's hand-split sentences never show.
// A token the tokeniser splits keeps its tag on the first piece and continues it (I-) on the
// others.
func AsText(doc TrainDoc) TrainDoc {
	if len(doc.Words) == 0 {
		return TrainDoc{}
	}
	type field struct {
		text   string
		starts []int    // byte offset of each original token
		tags   []string // its gold tag
	}
	build := func(sents [][]string, tags [][]string) field {
		var b strings.Builder
		var f field
		for si, s := range sents {
			for i, w := range s {
				if b.Len() > 0 {
					b.WriteByte(' ')
				}
				f.starts = append(f.starts, b.Len())
				f.tags = append(f.tags, tags[si][i])
				b.WriteString(w)
			}
		}
		f.text = b.String()
		return f
	}
	title := build(doc.Words[:1], doc.Tags[:1])
	body := build(doc.Words[1:], doc.Tags[1:])
	var out TrainDoc
	for _, f := range []field{body, title} {
		for _, sent := range tokenize(f.text, nil) {
			words := make([]string, len(sent))
			tags := make([]string, len(sent))
			for i, tk := range sent {
				words[i] = tk.text
				// The original token holding this one: the last that starts at or before it.
				k := sort.SearchInts(f.starts, tk.start+1) - 1
				tag := f.tags[k]
				if tk.start != f.starts[k] && tag != "O" {
					tag = "I-" + tag[2:]
				}
				tags[i] = tag
			}
			out.Words = append(out.Words, words)
			out.Tags = append(out.Tags, tags)
		}
	}
	return out
}
