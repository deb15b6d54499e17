package corpus

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/newsflow/newsflow/pkg/article"
)

var reDateline = regexp.MustCompile(`\b(19\d\d-\d\d-\d\d)\b`)

// ReadCoNLLDocs streams the documents of a CoNLL-2003 file (Reuters, 1996–97) as articles: the
// first sentence is the title, the rest the body, tokens joined back into plain text. The
// dateline ("LONDON 1996-08-30") near the start of the body gives published_at, 1996-08-22 when
// there is none. name distinguishes files in the articles' URLs, so each document has a stable id.
func ReadCoNLLDocs(r io.Reader, name string, fn func(article.Article) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var sents [][]string
	var cur []string
	doc := 0
	emit := func() error {
		if len(cur) > 0 {
			sents = append(sents, cur)
			cur = nil
		}
		if len(sents) < 2 {
			sents = nil
			return nil
		}
		doc++
		a := article.Article{Source: "reuters-conll", Language: "en", Title: Detokenize(sents[0]),
			URL: fmt.Sprintf("https://archive.conll2003.example/%s/%d", name, doc)}
		var body []string
		for _, s := range sents[1:] {
			body = append(body, Detokenize(s))
		}
		a.Body = strings.Join(body, "\n")
		a.PublishedAt = time.Date(1996, 8, 22, 0, 0, 0, 0, time.UTC)
		if m := reDateline.FindString(a.Body[:min(len(a.Body), 200)]); m != "" {
			if t, err := time.Parse("2006-01-02", m); err == nil {
				a.PublishedAt = t
			}
		}
		a.ID = article.ID(&a)
		sents = nil
		return fn(a)
	}
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "-DOCSTART-") {
			if err := emit(); err != nil {
				return err
			}
			continue
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			if len(cur) > 0 {
				sents = append(sents, cur)
				cur = nil
			}
			continue
		}
		cur = append(cur, f[0])
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return emit()
}

// Detokenize joins CoNLL tokens into readable text: no space before closing punctuation and
// clitics, none after opening brackets and quotes.
func Detokenize(toks []string) string {
	var b strings.Builder
	noSpaceBefore := func(t string) bool {
		switch t {
		case ",", ".", ";", ":", "!", "?", ")", "]", "}", "%", "'s", "'S", "n't", "'re", "'ve", "'ll", "'d", "'m":
			return true
		}
		return false
	}
	quoteOpen := false
	prevOpen := true
	for _, t := range toks {
		isQuote := t == `"`
		if !prevOpen && !noSpaceBefore(t) && !(isQuote && quoteOpen) {
			b.WriteByte(' ')
		}
		b.WriteString(t)
		prevOpen = t == "(" || t == "[" || t == "$" || (isQuote && !quoteOpen)
		if isQuote {
			quoteOpen = !quoteOpen
		}
	}
	return b.String()
}
