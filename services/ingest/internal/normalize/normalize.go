// Package normalize turns a raw item into the article docs/ARCHITECTURE.md fixes for
// articles.raw, or says which field is wrong and why. It does no I/O, so every rule here is tested
// by table, and the HTTP API, the feed poller and `ingest import` apply exactly the same rules.
package normalize

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/abadojack/whatlanggo"

	"github.com/newsflow/newsflow/pkg/article"
	"github.com/newsflow/newsflow/services/ingest/internal/decode"
)

// Limits bound what one article may weigh; they keep a single record under the broker's message
// size limit and keep one client from filling the topic with one request.
type Limits struct {
	MaxTitleBytes int
	MaxBodyBytes  int
	// MinPublishedAt is the earliest publication date taken (zero: DefaultMinPublishedAt). With
	// MaxFuture it bounds the months, hence the monthly indices, that input can reach: a request
	// of 1,100 articles each in its own month since 1900 once made the index stage create indices
	// until the search node's shard limit refused more.
	MinPublishedAt time.Time
}

// DefaultMinPublishedAt is the default floor of publication dates (article.PublishedFloor, the
// index stage's default too).
var DefaultMinPublishedAt = article.PublishedFloor

// MaxFuture is how far past the ingest time a publication date may lie (article.PublishedFuture).
const MaxFuture = article.PublishedFuture

// DefaultLimits are generous for news (the longest long-reads are a few hundred kB) while staying
// below Kafka's default 1 MB record limit.
var DefaultLimits = Limits{MaxTitleBytes: 2048, MaxBodyBytes: 512 << 10, MinPublishedAt: DefaultMinPublishedAt}

// CheckPublished refuses a publication date before the floor or more than MaxFuture after now
// (the ingest time). The error names the bound, so a client can tell a typo from a clock skew.
func (l Limits) CheckPublished(t, now time.Time) *decode.FieldError {
	floor := l.MinPublishedAt
	if floor.IsZero() {
		floor = DefaultMinPublishedAt
	}
	if t.Before(floor) {
		return &decode.FieldError{Field: "published_at", Code: decode.CodeDateOutOfRange,
			Reason: fmt.Sprintf("%s is before %s, the earliest publication date taken (--min-published-at)", t.Format(time.RFC3339), floor.Format(time.DateOnly))}
	}
	if t.After(now.Add(MaxFuture)) {
		return &decode.FieldError{Field: "published_at", Code: decode.CodeDateOutOfRange,
			Reason: fmt.Sprintf("%s is more than %v after the ingest time %s", t.Format(time.RFC3339), MaxFuture, now.Format(time.RFC3339))}
	}
	return nil
}

// NoteMissingDate is the note an item result carries when published_at was absent.
const NoteMissingDate = "published_at missing: set to the ingest time"

// NoteHTML is the note an item result carries when the body arrived as HTML.
const NoteHTML = "body was HTML: converted to text"

// NoteControlChars is the note an item result carries when stray control characters were removed
// from the body.
const NoteControlChars = "body: %d stray control character(s) removed"

// Article normalises raw: it checks the required fields, converts HTML to text, parses the
// publication date, checks the URL, detects the language and computes the deterministic id.
// now is the ingest time. Notes say what was changed or assumed, for the item result.
func Article(raw decode.Raw, now time.Time, lim Limits) (article.Article, []string, *decode.FieldError) {
	var a article.Article
	var notes []string
	now = now.UTC()

	title := raw.Title
	if LooksLikeHTML(title) {
		title = HTMLToText(title)
	}
	title = collapseSpace(title)
	if title == "" {
		return a, nil, &decode.FieldError{Field: "title", Code: decode.CodeMissing, Reason: "missing or empty"}
	}
	if lim.MaxTitleBytes > 0 && len(title) > lim.MaxTitleBytes {
		return a, nil, &decode.FieldError{Field: "title", Code: decode.CodeTooLarge, Reason: fmt.Sprintf("%d bytes, limit %d", len(title), lim.MaxTitleBytes)}
	}
	if err := checkText("title", title); err != nil {
		return a, nil, err
	}

	body := raw.Body
	if LooksLikeHTML(body) {
		body = HTMLToText(body)
		notes = append(notes, NoteHTML)
	}
	if strings.TrimSpace(body) == "" {
		return a, nil, &decode.FieldError{Field: "body", Code: decode.CodeMissing, Reason: "missing or empty"}
	}
	if lim.MaxBodyBytes > 0 && len(body) > lim.MaxBodyBytes {
		return a, nil, &decode.FieldError{Field: "body", Code: decode.CodeTooLarge, Reason: fmt.Sprintf("%d bytes, limit %d", len(body), lim.MaxBodyBytes)}
	}
	body, removed, ferr := cleanBody(body)
	if ferr != nil {
		return a, nil, ferr
	}
	if removed > 0 {
		notes = append(notes, fmt.Sprintf(NoteControlChars, removed))
	}

	var canonical string // the URL as the id is computed from, when there is one
	if u := strings.TrimSpace(raw.URL); u != "" {
		var err error
		if canonical, err = article.CanonicalURL(u); err != nil || !utf8.ValidString(u) {
			return a, nil, &decode.FieldError{Field: "url", Code: decode.CodeInvalidURL, Reason: fmt.Sprintf("%q is not an absolute http(s) URL", clip(u, 200))}
		}
		if len(u) > 4096 {
			return a, nil, &decode.FieldError{Field: "url", Code: decode.CodeTooLarge, Reason: "longer than 4096 bytes"}
		}
		a.URL = u
	}

	if p := strings.TrimSpace(raw.PublishedAt); p == "" {
		a.PublishedAt = now
		notes = append(notes, NoteMissingDate)
	} else {
		t, err := ParseTime(p)
		if err != nil {
			return a, nil, &decode.FieldError{Field: "published_at", Code: decode.CodeInvalidDate, Reason: err.Error()}
		}
		if ferr := lim.CheckPublished(t, now); ferr != nil {
			return a, nil, ferr
		}
		a.PublishedAt = t
	}

	a.Source = strings.TrimSpace(raw.Source)
	if len(a.Source) > 200 {
		return a, nil, &decode.FieldError{Field: "source", Code: decode.CodeTooLarge, Reason: "longer than 200 bytes"}
	}
	if err := checkText("source", a.Source); err != nil {
		return a, nil, err
	}
	seen := map[string]bool{}
	for _, au := range raw.Authors {
		au = collapseSpace(au)
		if au == "" || seen[au] {
			continue
		}
		if len(au) > 200 {
			return a, nil, &decode.FieldError{Field: "authors", Code: decode.CodeTooLarge, Reason: "an author longer than 200 bytes"}
		}
		seen[au] = true
		a.Authors = append(a.Authors, au)
	}
	if len(a.Authors) > 100 {
		return a, nil, &decode.FieldError{Field: "authors", Code: decode.CodeTooLarge, Reason: "more than 100 authors"}
	}

	if l := strings.ToLower(strings.TrimSpace(raw.Language)); l != "" {
		if !langTag.MatchString(l) {
			return a, nil, &decode.FieldError{Field: "language", Code: decode.CodeInvalid, Reason: fmt.Sprintf("%q is not a language code such as en or pt-br", clip(l, 50))}
		}
		a.Language = l
	} else {
		a.Language = DetectLanguage(title + "\n" + body)
	}

	a.Title = title
	a.Body = body
	a.IngestedAt = now
	if canonical != "" {
		a.ID = article.IDFromCanonicalURL(canonical)
	} else {
		a.ID = article.ID(&a)
	}
	return a, notes, nil
}

// collapseSpace trims s and turns every run of white space in it into one space, like
// strings.Join(strings.Fields(s), " "), but returns s itself, unscanned twice and unallocated,
// when it is already so: an ASCII string whose only white space is single spaces inside it.
func collapseSpace(s string) string {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= utf8.RuneSelf, c == '\t', c == '\n', c == '\v', c == '\f', c == '\r',
			c == ' ' && (i == 0 || i == len(s)-1 || s[i+1] == ' '):
			return strings.Join(strings.Fields(s), " ")
		}
	}
	return s
}

const detectBytes = 700

var langTag = regexp.MustCompile(`^[a-z]{2,3}(-[a-z0-9]{2,8})?$`)

// checkText rejects control characters other than tab, newline, carriage return and form feed:
// text with NUL or escape bytes is binary data that happens to be valid UTF-8.
func checkText(field, s string) *decode.FieldError {
	if !utf8.ValidString(s) {
		return &decode.FieldError{Field: field, Code: decode.CodeUTF8, Reason: "not valid UTF-8"}
	}
	for i, r := range s {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' && r != '\f' || r == 0x7f {
			return &decode.FieldError{Field: field, Code: decode.CodeBinary, Reason: fmt.Sprintf("control character %U at byte %d: binary data is not an article", r, i)}
		}
	}
	return nil
}

// cleanBody accepts a body with a few stray control characters, as real wire copy has (Reuters-21578
// has DEL bytes in some stories), and removes them; a NUL byte, or control characters making up
// more than 1% of the text, mean binary data, which is rejected.
func cleanBody(s string) (string, int, *decode.FieldError) {
	if !utf8.ValidString(s) {
		return s, 0, &decode.FieldError{Field: "body", Code: decode.CodeUTF8, Reason: "not valid UTF-8"}
	}
	isCtl := func(r rune) bool { return r < 0x20 && r != '\t' && r != '\n' && r != '\r' && r != '\f' || r == 0x7f }
	// The control characters are all ASCII, and in valid UTF-8 no byte of a longer character is
	// below 0x80, so bytes are scanned rather than runes (decoding runes was most of its cost),
	// eight at a time past words without any byte below 0x20 or DEL.
	n, first, at := 0, rune(0), -1
	for i := 0; i < len(s); i++ {
		for i+8 <= len(s) && !ctl8(s[i:i+8]) {
			i += 8
		}
		if i >= len(s) {
			break
		}
		if c := s[i]; c >= 0x20 && c != 0x7f {
			continue
		}
		if r := rune(s[i]); isCtl(r) {
			if n == 0 {
				first, at = r, i
			}
			n++
			if r == 0 {
				return s, 0, &decode.FieldError{Field: "body", Code: decode.CodeBinary, Reason: fmt.Sprintf("NUL byte at byte %d: binary data is not an article", i)}
			}
		}
	}
	if n == 0 {
		return s, 0, nil
	}
	if n*100 > len(s) {
		return s, 0, &decode.FieldError{Field: "body", Code: decode.CodeBinary, Reason: fmt.Sprintf("%d control characters (the first %U at byte %d): binary data is not an article", n, first, at)}
	}
	return strings.Map(func(r rune) rune {
		if isCtl(r) {
			return -1
		}
		return r
	}, s), n, nil
}

// ctl8 reports whether one of the eight bytes of s is below 0x20 or is DEL (0x7f), testing them
// as one word: such a byte makes x-0x20, or (x^0x7f)-1, borrow into its high bit. It may not say
// which byte, and need not: cleanBody then looks at them one by one.
func ctl8(s string) bool {
	x := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	d := x ^ (lo * 0x7f)
	return ((x-lo*0x20)&^x|(d-lo)&^d)&hi != 0
}

// DetectLanguage returns the ISO 639-1 code of text's language, or "" when the detector is not
// confident. whatlanggo is used because it is pure Go, needs no model files and little memory
// (its trigram profiles are compiled in); only the first 700 bytes (about a hundred words) are
// looked at, which is plenty for a language and bounds the cost: detection is most of ingest's
// CPU time.
func DetectLanguage(text string) string {
	if len(text) > detectBytes {
		cut := detectBytes
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text = text[:cut]
	}
	if strings.IndexFunc(text, unicode.IsLetter) < 0 {
		return ""
	}
	info := whatlanggo.Detect(text)
	if !info.IsReliable() && info.Confidence < 0.5 {
		return ""
	}
	return info.Lang.Iso6391()
}

// timeLayouts are the formats news systems actually send: RFC 3339 first, then the RSS
// (RFC 822/1123) family, then common CMS exports. Layouts without a zone are read as UTC.
var timeLayouts = []string{
	time.RFC3339Nano,
	time.RFC3339,
	"2006-01-02T15:04:05Z0700",
	"2006-01-02T15:04:05",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05 -0700",
	"2006-01-02 15:04:05 -0700 MST",
	"2006-01-02 15:04:05",
	"2006-01-02 15:04",
	"2006-01-02",
	time.RFC1123Z,
	time.RFC1123,
	"Mon, 2 Jan 2006 15:04:05 -0700",
	"Mon, 2 Jan 2006 15:04:05 MST",
	"Mon, 2 Jan 2006 15:04 -0700",
	"2 Jan 2006 15:04:05 -0700",
	"2 Jan 2006 15:04:05 MST",
	time.RFC822Z,
	time.RFC822,
	time.RFC850,
	time.ANSIC,
	time.UnixDate,
	"January 2, 2006 15:04",
	"January 2, 2006",
	"Jan 2, 2006",
	"2 January 2006",
	"2 Jan 2006",
}

// ParseTime reads a publication date in RFC 3339 or one of the common news formats and returns
// it in UTC. It only parses: whether the date is plausible is Limits.CheckPublished's call,
// against the ingest time and the configured floor.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range timeLayouts {
		t, err := time.Parse(l, s)
		if err != nil {
			continue
		}
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%q is not RFC 3339 (2019-08-21T08:00:00Z) or a common news date format", clip(s, 60))
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
