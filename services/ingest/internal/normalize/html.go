package normalize

import (
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"
)

// htmlNames are the elements whose tag marks text as HTML rather than prose that happens to
// contain a "<" (LooksLikeHTML).
var htmlNames = []string{"p", "br", "div", "span", "a", "b", "i", "u", "em", "strong",
	"h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "html", "head", "body", "script", "style",
	"img", "table", "tr", "td", "th", "blockquote", "figure", "figcaption", "section", "article",
	"header", "footer", "nav", "aside", "main", "iframe", "noscript", "pre", "code", "hr", "sup",
	"sub", "small", "time", "meta", "link", "picture", "source", "video", "audio"}

// namesByFirstByte are htmlNames by the first byte of the text that can match them: an ASCII
// letter in either case, or the first byte of the Kelvin sign (U+212A, 'k') or the long s
// (U+017F, 's'), the only non-ASCII characters foldPrefix matches. A '<' then tries the few names
// that can follow it rather than all of them (Reuters copy marks every company as <NAME>).
var namesByFirstByte = func() (t [256][]string) {
	for _, name := range htmlNames {
		c := name[0]
		t[c] = append(t[c], name)
		if 'a' <= c && c <= 'z' {
			t[c-'a'+'A'] = append(t[c-'a'+'A'], name)
		}
		switch c {
		case 'k':
			t["\u212a"[0]] = append(t["\u212a"[0]], name)
		case 's':
			t["\u017f"[0]] = append(t["\u017f"[0]], name)
		}
	}
	return t
}()

// LooksLikeHTML reports whether s carries HTML markup: a known element name right after "<" or
// "</" and not followed by a letter, digit or '_', or an HTML comment or doctype. Plain text is
// left exactly as it came, so that byte offsets computed on it later stay true.
//
// It is a hand scan, not a regular expression, because every title and body goes through it and
// the regexp cost a twentieth of ingest's CPU time. It gives the answers of the regexp it replaced,
// (?i)<(/?(p|br|…|audio)\b[^>]*|!--|!doctype), to the letter, Unicode case folding included
// (FuzzLooksLikeHTML compares them).
func LooksLikeHTML(s string) bool {
	for {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			return false
		}
		s = s[i+1:]
		if tagAfterLT(s) {
			return true
		}
	}
}

// tagAfterLT reports whether s, the text after a '<', starts a tag LooksLikeHTML counts.
func tagAfterLT(s string) bool {
	if strings.HasPrefix(s, "!--") {
		return true
	}
	if len(s) > 0 && s[0] == '!' {
		_, ok := foldPrefix(s[1:], "doctype")
		return ok
	}
	if len(s) > 0 && s[0] == '/' {
		s = s[1:]
	}
	if len(s) == 0 {
		return false
	}
	for _, name := range namesByFirstByte[s[0]] {
		n, ok := foldPrefix(s, name)
		if !ok {
			continue
		}
		// \b after the name: a boundary between a word character (ASCII letter, digit, '_')
		// and anything else. The name's last character is a word character unless it was matched
		// by a non-ASCII fold (the Kelvin sign for 'k').
		lastWord := s[n-1] < utf8.RuneSelf
		nextWord := n < len(s) && isWordByte(s[n])
		if lastWord != nextWord {
			return true
		}
	}
	return false
}

// foldPrefix reports whether s starts with name (lower-case ASCII letters and digits) under
// Unicode simple case folding, as (?i) in a regexp matches, and how many bytes of s it took:
// besides the upper-case letter, 'k' also matches the Kelvin sign U+212A and 's' the long s U+017F
// (the only ASCII letters with a non-ASCII fold).
func foldPrefix(s, name string) (int, bool) {
	j := 0
	for i := 0; i < len(name); i++ {
		if j >= len(s) {
			return 0, false
		}
		c, want := s[j], name[i]
		switch {
		case c == want || 'a' <= want && want <= 'z' && c == want-'a'+'A':
			j++
		case want == 'k' && strings.HasPrefix(s[j:], "\u212a"):
			j += len("\u212a")
		case want == 's' && strings.HasPrefix(s[j:], "\u017f"):
			j += len("\u017f")
		default:
			return 0, false
		}
	}
	return j, true
}

func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_'
}

// skipped elements carry no article text.
var skipped = map[string]bool{"script": true, "style": true, "noscript": true, "head": true,
	"template": true, "iframe": true, "svg": true, "nav": true, "button": true, "form": true, "select": true}

// block elements end a paragraph.
var block = map[string]bool{"p": true, "div": true, "h1": true, "h2": true, "h3": true, "h4": true,
	"h5": true, "h6": true, "ul": true, "ol": true, "li": true, "blockquote": true, "pre": true,
	"section": true, "article": true, "header": true, "footer": true, "aside": true, "main": true,
	"figure": true, "figcaption": true, "table": true, "tr": true, "hr": true, "dl": true, "dt": true,
	"dd": true, "address": true, "body": true, "html": true, "title": true}

// HTMLToText turns an HTML fragment or page into clean text: scripts, styles and navigation
// dropped, entities decoded, whitespace inside paragraphs collapsed, one blank line between
// paragraphs, <br> kept as a line break. The tokenizer never fails: broken markup ("HTML soup")
// yields whatever text it holds.
func HTMLToText(s string) string {
	z := html.NewTokenizer(strings.NewReader(s))
	var paras []string
	var cur strings.Builder
	skip := 0
	space := false // whitespace seen since the last word
	flush := func() {
		space = false
		if t := strings.TrimSpace(cur.String()); t != "" {
			paras = append(paras, t)
		}
		cur.Reset()
	}
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			flush()
			return strings.Join(paras, "\n\n")
		case html.StartTagToken, html.EndTagToken, html.SelfClosingTagToken:
			name, _ := z.TagName()
			tag := string(name)
			if skipped[tag] {
				if tt == html.StartTagToken {
					skip++
				} else if tt == html.EndTagToken && skip > 0 {
					skip--
				}
				continue
			}
			if skip > 0 {
				continue
			}
			switch {
			case tag == "br":
				cur.WriteString("\n")
				space = false
			case block[tag]:
				flush()
			}
		case html.TextToken:
			if skip > 0 {
				continue
			}
			text := string(z.Text())
			f := strings.Join(strings.Fields(text), " ")
			if f == "" {
				space = space || text != ""
				continue
			}
			if (space || startsWithSpace(text)) && cur.Len() > 0 && !strings.HasSuffix(cur.String(), "\n") {
				cur.WriteByte(' ')
			}
			cur.WriteString(f)
			space = endsWithSpace(text)
		}
	}
}

func startsWithSpace(s string) bool { return s != "" && strings.TrimLeft(s, " \t\r\n") != s }
func endsWithSpace(s string) bool   { return s != "" && strings.TrimRight(s, " \t\r\n") != s }
