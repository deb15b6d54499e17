package normalize

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// oldHTMLTag is the regexp LooksLikeHTML used to be, kept as the reference its hand scan must
// agree with.
var oldHTMLTag = regexp.MustCompile(`(?i)<(/?(p|br|div|span|a|b|i|u|em|strong|h[1-6]|ul|ol|li|html|head|body|script|style|img|table|tr|td|th|blockquote|figure|figcaption|section|article|header|footer|nav|aside|main|iframe|noscript|pre|code|hr|sup|sub|small|time|meta|link|picture|source|video|audio)\b[^>]*|!--|!doctype)`)

func oldLooksLikeHTML(s string) bool { return oldHTMLTag.MatchString(s) }

// htmlCases are inputs where a hand scan could part from the regexp: prefixes of longer names,
// word boundaries, case, Unicode folds (the Kelvin sign for k, the long s for s), comments and
// doctypes cut short, several '<' before the real tag.
var htmlCases = []string{
	"", "<", "<<", "a < b", "a <b", "<b>", "<B>", "<b", "<bx", "<b_", "<b1", "<b-", "<bé", "<br/>", "<BR>", "<bR",
	"</p>", "</P", "</ p>", "< p>", "<p", "<pre>", "<prex", "<h1>", "<h7>", "<H6", "<h", "<hr",
	"<!--", "<!-", "<!- -", "<!DOCTYPE html>", "<!doctyp", "<!DocType", "<!", "<!x",
	"<\u017fpan>", "<\u017fpanx", "<\u017fcript", "<li\u212a", "<lin\u212a>", "<lin\u212ax", "<lin\u212a_", "<lin\u212a1", "<lin\u212a\u212a",
	"<LINK rel=x>", "<linkx>", "<link", "<table", "<tablex", "<tbody>", "<thead>", "<th>",
	"x<y<z<p>", "1 < 2 and 3 <4", "a<<b>", "<\xff>", "<s\xffpan", "<\u212a", "<K>", "<k>",
	"<scripts>", "<script>alert(1)</script>", "<figcaption", "<figure", "<fig", "<a href=x>", "<ab>", "<a_", "<a\u00e9",
	"<İ>", "<ı>", "<i>", "<I", "<ı", "<u>", "<U ", "<sub>", "<SuP>", "<small", "<smal", "<timex", "<time",
}

// TestLooksLikeHTMLAsTheRegexp: the hand scan answers every tricky input as the regexp did.
func TestLooksLikeHTMLAsTheRegexp(t *testing.T) {
	for _, s := range htmlCases {
		if got, want := LooksLikeHTML(s), oldLooksLikeHTML(s); got != want {
			t.Errorf("LooksLikeHTML(%q) = %v, the regexp says %v", s, got, want)
		}
	}
}

// FuzzLooksLikeHTML compares the hand scan with the regexp on any text.
func FuzzLooksLikeHTML(f *testing.F) {
	for _, s := range htmlCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := LooksLikeHTML(s), oldLooksLikeHTML(s); got != want {
			t.Fatalf("LooksLikeHTML(%q) = %v, the regexp says %v", s, got, want)
		}
	})
}

// TestCtl8 tries every byte value at every position of an otherwise plain word: the word test
// must flag exactly the bytes below 0x20 and DEL, whatever the other bytes (ASCII or not).
func TestCtl8(t *testing.T) {
	for _, base := range []string{"abcdefgh", "\xc3\xa9\xc3\xa9\xe2\x80\x94z"} {
		for pos := range 8 {
			for c := range 256 {
				w := []byte(base)
				w[pos] = byte(c)
				want := false
				for _, b := range w {
					want = want || b < 0x20 || b == 0x7f
				}
				if got := ctl8(string(w)); got != want {
					t.Fatalf("ctl8(%q) = %v", w, got)
				}
			}
		}
	}
}

// TestCleanBodyCountsEveryControlCharacter: a stray control character anywhere in a long body
// (inside and across the eight-byte words cleanBody skips) is found and removed, and the byte
// offset reported is its own.
func TestCleanBodyCountsEveryControlCharacter(t *testing.T) {
	plain := strings.Repeat("Plain text, é and — too. ", 20)
	for pos := 0; pos < 40; pos++ {
		for _, c := range []byte{0x01, 0x08, 0x0b, 0x1b, 0x1f, 0x7f} {
			s := plain[:pos] + string(c) + plain[pos:]
			if !utf8.ValidString(s) {
				continue
			}
			got, n, err := cleanBody(s)
			if err != nil || n != 1 || got != plain {
				t.Fatalf("pos %d byte %#x: removed %d, err %v, body changed: %v", pos, c, n, err, got != plain)
			}
		}
		s := plain[:pos] + "\x00" + plain[pos:]
		if !utf8.ValidString(s) {
			continue
		}
		if _, _, err := cleanBody(s); err == nil || !strings.Contains(err.Reason, fmt.Sprintf("at byte %d", pos)) {
			t.Fatalf("NUL at %d: %v", pos, err)
		}
	}
	if got, n, err := cleanBody(plain + "\t\n\r\f"); err != nil || n != 0 || got != plain+"\t\n\r\f" {
		t.Fatalf("tab, newline, CR and form feed must stay: %d %v", n, err)
	}
}
