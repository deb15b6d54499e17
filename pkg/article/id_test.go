package article

import (
	"strings"
	"testing"
)

func TestCanonicalURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://WWW.Example.COM/news/a?utm_source=x&b=2&a=1#frag", "https://www.example.com/news/a?a=1&b=2"},
		{"HTTP://example.com:80", "http://example.com/"},
		{"https://example.com:8443/x?fbclid=1&gclid=2", "https://example.com:8443/x"},
		{"https://user:pw@example.com/x", "https://example.com/x"},
	} {
		got, err := CanonicalURL(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("CanonicalURL(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "example.com/x", "ftp://example.com/x", "/relative", "https://"} {
		if _, err := CanonicalURL(bad); err == nil {
			t.Errorf("CanonicalURL(%q): want an error", bad)
		}
	}
}

func TestIDIsDeterministic(t *testing.T) {
	a := &Article{URL: "https://example.com/a?utm_medium=social", Title: "T", Body: "B"}
	b := &Article{URL: "https://EXAMPLE.com/a#top", Title: "other title", Body: "other"}
	if ID(a) != ID(b) {
		t.Fatal("the same canonical URL must give the same id")
	}
	c := &Article{Source: "s", Title: " T ", Body: "B"}
	d := &Article{Source: "s", Title: "T", Body: "B\n"}
	if ID(c) != ID(d) {
		t.Fatal("without a URL, source+title+body (trimmed) give the id")
	}
	if ID(c) == ID(&Article{Source: "other", Title: "T", Body: "B"}) || ID(a) == ID(c) {
		t.Fatal("different articles must get different ids")
	}
	if len(ID(a)) != 32 {
		t.Fatalf("id %q: want 32 hex characters", ID(a))
	}
}

func TestIDFromCanonicalURLIsID(t *testing.T) {
	a := &Article{URL: "https://Example.com/a?utm_source=x", Title: "T", Body: "B"}
	c, err := CanonicalURL(a.URL)
	if err != nil || IDFromCanonicalURL(c) != ID(a) {
		t.Fatalf("IDFromCanonicalURL(%q) != ID: %v", c, err)
	}
}

// canonicalFastPathCases are URLs on both sides of canonicalFast's line: ones it must take
// (already canonical, or with a query to sort or tracking parameters to drop), and near misses it
// must leave to the full path.
var canonicalFastPathCases = []string{
	"https://example.com/news/a", "http://example.com/", "https://www.reuters.com/world/2019/08/21/story-id-USKCN1VB0XX",
	"https://example.com/a?a=1&b=2", "https://example.com/a?a=1&a=2", "https://example.com/a?a=2&a=1",
	"https://example.com/a?b=2&a=1", "https://example.com/a?utm_source=x", "https://example.com/a?Ref=x&b=1",
	"https://example.com/a?a", "https://example.com/a?a=", "https://example.com/a?", "https://example.com/a?a=1&",
	"https://example.com/a?=1", "https://example.com/a?a=1&&b=2", "https://example.com/a?a=%20", "https://example.com/a?a=+",
	"https://example.com/a?a=1;b=2", "https://example.com/a#x", "https://Example.com/a", "HTTPS://example.com/a",
	"https://example.com", "https://example.com:443/a", "https://example.com:8443/a", "https://u@example.com/a",
	"https://example.com/a%20b", "https://example.com/a b", "https://example.com/ü", "https://example.com//a",
	"https://example.com/a/../b", "https://example.com/$&+,:;=@", "https://example.com/a?copy=3&s=0",
	"https://example.com/a?s=0&copy=3", " https://example.com/a", "https://example.com/a\n", "https://-/a",
	"https://[::1]/a", "https://example.com./a", "https://example.com/a?a=1&a=1", "https://example.com/a?A=1&a=1",
	"https://example.com/a?i=1&h=1&g=1&f=1&e=1&d=1&c=1&b=1&a=1", "https://example.com/a?h=1&g=1&f=1&e=1&d=1&c=1&b=1&a=1",
	"https://example.com/a?gclid=1&fbclid=2", "https://example.com/a?b=1&UTM_x=2&a=0",
}

func TestCanonicalFastPath(t *testing.T) {
	// net/url's Query gives nothing for more than 10,000 parameters (Go 1.26), so the full path
	// drops such a query whole: the fast path must leave it to the full path, not keep b=1.
	if got, _ := CanonicalURL("http://a/?b=1" + strings.Repeat("&utm_x=", 10000)); got != "http://a/" {
		t.Errorf("a query of 10,001 parameters: %q, want the full path's http://a/", got)
	}
	took := 0
	for _, raw := range canonicalFastPathCases {
		if checkFastPath(t, raw) {
			took++
		}
	}
	if took < 18 {
		t.Fatalf("the fast path took %d of the cases; it should take the ones it can", took)
	}
}

// FuzzCanonicalFastPath: whatever canonicalFast takes, it gives the full path's answer.
func FuzzCanonicalFastPath(f *testing.F) {
	for _, raw := range canonicalFastPathCases {
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw string) { checkFastPath(t, raw) })
}

// checkFastPath reports whether canonicalFast took raw, and fails t when its answer is not the
// full path's.
func checkFastPath(t *testing.T, raw string) bool {
	fast, ok := canonicalFast(raw)
	if !ok {
		return false
	}
	slow, err := canonicalURLParsed(raw)
	if err != nil || fast != slow {
		t.Errorf("canonicalFast(%q) = %q, but the full path gives %q, %v", raw, fast, slow, err)
	}
	return true
}
