package normalize

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/newsflow/newsflow/services/ingest/internal/decode"
)

// FuzzArticle checks that normalisation never panics and never accepts what it promises to
// refuse: an empty title or body, invalid UTF-8, or an oversized body.
func FuzzArticle(f *testing.F) {
	f.Add("Title", "<p>Body &amp; more</p>", "https://example.com/a", "2019-08-21", "en")
	f.Add("<h1>x", "<script>", "http://[::1]:80/", "Wed, 21 Aug 2019 08:00:00 GMT", "")
	f.Add("t", "\x00\xff", "javascript:x", "2019-13-45", "xx-yy")
	f.Fuzz(func(t *testing.T, title, body, url, published, lang string) {
		a, _, err := Article(decode.Raw{Title: title, Body: body, URL: url, PublishedAt: published, Language: lang}, time.Now(), Limits{MaxTitleBytes: 200, MaxBodyBytes: 1000})
		if err != nil {
			if err.Code == "" || err.Reason == "" {
				t.Fatalf("error without code or reason: %+v", err)
			}
			return
		}
		if a.Title == "" || a.Body == "" || a.ID == "" || !utf8.ValidString(a.Title) || !utf8.ValidString(a.Body) || len(a.Body) > 1000 {
			t.Fatalf("accepted a bad article: %+v", a)
		}
	})
}

// FuzzCollapseSpace holds collapseSpace's shortcut to the answer of strings.Fields.
func FuzzCollapseSpace(f *testing.F) {
	for _, s := range []string{"", " ", "a", "a b", "a  b", " a", "a ", "a\tb", "a\u00a0b", "a\u2003 b", "é b", "a\nb", "a\x85b", "a b c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := collapseSpace(s), strings.Join(strings.Fields(s), " "); got != want {
			t.Fatalf("collapseSpace(%q) = %q, want %q", s, got, want)
		}
	})
}
