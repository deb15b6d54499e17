// Package corpus reads the public news corpora newsflow's demo, end-to-end tests and benchmarks
// stream (Reuters-21578 from ../shared/data), as newsflow articles.
package corpus

import (
	"bufio"
	"bytes"
	"fmt"
	"html"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/newsflow/newsflow/pkg/article"
)

var (
	reDate  = regexp.MustCompile(`(?s)<DATE>\s*(.*?)\s*</DATE>`)
	reTitle = regexp.MustCompile(`(?s)<TITLE>(.*?)</TITLE>`)
	reBody  = regexp.MustCompile(`(?s)<BODY>(.*?)</BODY>`)
	reNewID = regexp.MustCompile(`NEWID="(\d+)"`)
	// Control characters such as &#3; (end of text) are SGML artefacts, not text.
	reCtrl = regexp.MustCompile(`&#(\d+);`)
)

// ReutersFiles returns the reut2-NNN.sgm files of dir in order.
func ReutersFiles(dir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "reut2-*.sgm"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no reut2-*.sgm files in %s", dir)
	}
	sort.Strings(files)
	return files, nil
}

// ReadReuters streams the stories of one Reuters-21578 SGML stream that have a title and a body
// (briefs without a body are skipped) to fn, as articles with source "reuters", published_at
// from <DATE> (UTC) and a URL naming the story's NEWID, so each story has a stable id. The files
// are latin-1 (one byte in reut2-017 is not UTF-8), so bytes are decoded as latin-1.
func ReadReuters(r io.Reader, fn func(article.Article) error) error {
	br := bufio.NewReaderSize(r, 1<<20)
	var doc bytes.Buffer
	for {
		line, err := br.ReadBytes('\n')
		doc.Write(line)
		if bytes.Contains(line, []byte("</REUTERS>")) {
			if a, ok := parseStory(doc.Bytes()); ok {
				if ferr := fn(a); ferr != nil {
					return ferr
				}
			}
			doc.Reset()
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func parseStory(b []byte) (article.Article, bool) {
	s := latin1(b)
	title, body := reTitle.FindStringSubmatch(s), reBody.FindStringSubmatch(s)
	if title == nil || body == nil {
		return article.Article{}, false
	}
	a := article.Article{Source: "reuters", Language: "en", Title: clean(title[1]), Body: strings.TrimSpace(clean(body[1]))}
	a.Body = strings.TrimSuffix(strings.TrimSpace(strings.TrimSuffix(a.Body, "Reuter")), "REUTER")
	a.Body = strings.TrimSpace(a.Body)
	if id := reNewID.FindStringSubmatch(s); id != nil {
		a.URL = "https://archive.reuters21578.example/story/" + id[1]
	}
	if d := reDate.FindStringSubmatch(s); d != nil {
		// Some dates carry junk after the time ("&#9;&#9;F", "# date added by …").
		v, _, _ := strings.Cut(strings.TrimSpace(d[1]), "&")
		if f := strings.Fields(v); len(f) >= 2 {
			v = f[0] + " " + f[1]
		}
		day, _, _ := strings.Cut(v, " ")
		for _, c := range []struct{ layout, v string }{{"2-Jan-2006 15:04:05.00", v}, {"2-Jan-2006 15:04:05", v}, {"2-Jan-2006", day}} {
			if t, err := time.Parse(c.layout, c.v); err == nil { // one story's time is "605:12:19.12": keep its day
				a.PublishedAt = t.UTC()
				break
			}
		}
	}
	if a.Title == "" || a.Body == "" {
		return article.Article{}, false
	}
	a.ID = article.ID(&a)
	return a, true
}

func clean(s string) string {
	s = reCtrl.ReplaceAllStringFunc(s, func(m string) string {
		var n int
		fmt.Sscanf(m, "&#%d;", &n)
		if n < 32 && n != '\n' && n != '\t' {
			return ""
		}
		return m
	})
	return html.UnescapeString(s)
}

func latin1(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b))
	for _, c := range b {
		sb.WriteRune(rune(c))
	}
	return sb.String()
}

// ReadReutersDir streams every story of every file in dir, in file order, stopping after limit
// stories when limit > 0.
func ReadReutersDir(dir string, limit int, fn func(article.Article) error) error {
	files, err := ReutersFiles(dir)
	if err != nil {
		return err
	}
	n := 0
	errStop := fmt.Errorf("limit reached")
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return err
		}
		err = ReadReuters(fh, func(a article.Article) error {
			if limit > 0 && n >= limit {
				return errStop
			}
			n++
			return fn(a)
		})
		fh.Close()
		if err == errStop {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
	}
	return nil
}
