package normalize

import (
	"regexp"
	"strings"

	"golang.org/x/net/html"
)

// htmlTag matches the tags that mark text as HTML rather than prose that happens to contain a
// "<": a known element name right after "<" or "</", or an HTML comment or doctype.
var htmlTag = regexp.MustCompile(`(?i)<(/?(p|br|div|span|a|b|i|u|em|strong|h[1-6]|ul|ol|li|html|head|body|script|style|img|table|tr|td|th|blockquote|figure|figcaption|section|article|header|footer|nav|aside|main|iframe|noscript|pre|code|hr|sup|sub|small|time|meta|link|picture|source|video|audio)\b[^>]*|!--|!doctype)`)

// LooksLikeHTML reports whether s carries HTML markup. Plain text is left exactly as it came,
// so that byte offsets computed on it later stay true.
func LooksLikeHTML(s string) bool {
	return strings.IndexByte(s, '<') >= 0 && htmlTag.MatchString(s)
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
