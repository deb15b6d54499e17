// Package conll reads CoNLL-2003 named-entity files and scores tagging the way the shared task's
// conlleval script does, so figures reported by newsflow are comparable with published ones.
package conll

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
)

// Token is one line of a CoNLL-2003 file. Tag is always IOB2 after reading.
type Token struct {
	Word, POS, Chunk, Tag string
}

// Sentence is a run of tokens between blank lines.
type Sentence []Token

// Document is what lies between two -DOCSTART- lines. Documents matter because the recogniser
// uses document-level evidence (a name seen earlier in the same story).
type Document []Sentence

// ReadFile reads a CoNLL-2003 file; see Read.
func ReadFile(path string) ([]Document, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening CoNLL file: %w", err)
	}
	defer f.Close()
	docs, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return docs, nil
}

// Read parses CoNLL-2003 text: one token a line (word POS chunk tag, the tag last), blank lines
// between sentences, -DOCSTART- lines between documents. Tags may be IOB1 (as in the original
// distribution) or IOB2; they are returned as IOB2 so that every consumer sees one scheme. A file
// without -DOCSTART- is one document.
func Read(r io.Reader) ([]Document, error) {
	var (
		docs []Document
		doc  Document
		sent Sentence
	)
	flushSent := func() {
		if len(sent) > 0 {
			doc = append(doc, sent)
			sent = nil
		}
	}
	flushDoc := func() {
		flushSent()
		if len(doc) > 0 {
			docs = append(docs, doc)
			doc = nil
		}
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			flushSent()
			continue
		}
		if fields[0] == "-DOCSTART-" {
			flushDoc()
			continue
		}
		if len(fields) < 2 {
			return nil, fmt.Errorf("line %d: want at least word and tag, got %q", line, sc.Text())
		}
		t := Token{Word: fields[0], Tag: fields[len(fields)-1]}
		if len(fields) >= 4 {
			t.POS, t.Chunk = fields[1], fields[2]
		}
		if !validTag(t.Tag) {
			return nil, fmt.Errorf("line %d: bad tag %q", line, t.Tag)
		}
		sent = append(sent, t)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	flushDoc()
	for _, d := range docs {
		for _, s := range d {
			tags := make([]string, len(s))
			for i := range s {
				tags[i] = s[i].Tag
			}
			ToIOB2(tags)
			for i := range s {
				s[i].Tag = tags[i]
			}
		}
	}
	return docs, nil
}

func validTag(t string) bool {
	if t == "O" {
		return true
	}
	return len(t) > 2 && (t[0] == 'B' || t[0] == 'I') && t[1] == '-'
}

// ToIOB2 rewrites IOB1 tags in place to IOB2: an I-X that does not continue an X chunk becomes
// B-X. IOB2 input is left unchanged.
func ToIOB2(tags []string) {
	prev := "O"
	for i, t := range tags {
		if strings.HasPrefix(t, "I-") && (prev == "O" || prev[2:] != t[2:]) {
			tags[i] = "B-" + t[2:]
		}
		prev = tags[i]
	}
}

// Words returns the words of doc, one slice per sentence (the input of a tagger).
func Words(doc Document) [][]string {
	out := make([][]string, len(doc))
	for i, s := range doc {
		out[i] = make([]string, len(s))
		for j, t := range s {
			out[i][j] = t.Word
		}
	}
	return out
}

// Tags returns the gold tags of doc, one slice per sentence.
func Tags(doc Document) [][]string {
	out := make([][]string, len(doc))
	for i, s := range doc {
		out[i] = make([]string, len(s))
		for j, t := range s {
			out[i][j] = t.Tag
		}
	}
	return out
}
