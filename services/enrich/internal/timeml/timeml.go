// Package timeml scores a date extractor against a TimeML corpus such as
// TempEval-3, so that changes to the grammar are judged by numbers rather than
// by a handful of examples. It reads files, so it belongs with the tests and the
// tools, not in the enrich stage's hot path.
package timeml

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/newsflow/newsflow/pkg/article"
)

// Timex is one gold TIMEX3 mapped onto the stripped document text.
type Timex struct {
	Start, End int // byte offsets into Doc.Text, end exclusive
	Type       string
	Value      string
}

// Doc is one TimeML document reduced to what a date extractor sees: the text
// of its <TEXT> element with the tags removed and entities decoded, its
// creation time and its gold TIMEX3s.
type Doc struct {
	Name  string
	Text  string
	DCT   time.Time
	Gold  []Timex // every TIMEX3 inside the text, of any type
	DCTOK bool
}

// Parse reads a TimeML document. It is a small hand-written scanner rather than
// encoding/xml because it must keep exact offsets into the stripped text.
func Parse(name string, src []byte) (Doc, error) {
	d := Doc{Name: name}
	s := string(src)
	// the creation time, from <DCT><TIMEX3 value=...>
	if a := strings.Index(s, "<DCT>"); a >= 0 {
		if b := strings.Index(s[a:], "</DCT>"); b >= 0 {
			v := attr(s[a:a+b], "value")
			if len(v) >= 10 {
				if t, err := time.Parse("2006-01-02", v[:10]); err == nil {
					d.DCT, d.DCTOK = t, true
				}
			}
		}
	}
	if !d.DCTOK {
		return d, fmt.Errorf("%s: no usable <DCT> value", name)
	}
	body := s
	if a := strings.Index(s, "<TEXT>"); a >= 0 {
		body = s[a+len("<TEXT>"):]
		if b := strings.Index(body, "</TEXT>"); b >= 0 {
			body = body[:b]
		}
	}
	var out strings.Builder
	out.Grow(len(body))
	var open []Timex // TIMEX3 do not nest in TimeML, but be tolerant
	for i := 0; i < len(body); {
		c := body[i]
		switch c {
		case '<':
			j := strings.IndexByte(body[i:], '>')
			if j < 0 {
				return d, fmt.Errorf("%s: unterminated tag at %d", name, i)
			}
			tag := body[i+1 : i+j]
			switch {
			case strings.HasPrefix(tag, "TIMEX3"):
				open = append(open, Timex{Start: out.Len(), Type: attr(tag, "type"), Value: attr(tag, "value")})
				if strings.HasSuffix(tag, "/") { // an empty TIMEX3 has no text
					open = open[:len(open)-1]
				}
			case tag == "/TIMEX3" && len(open) > 0:
				x := open[len(open)-1]
				open = open[:len(open)-1]
				x.End = out.Len()
				d.Gold = append(d.Gold, x)
			}
			i += j + 1
		case '&':
			j := strings.IndexByte(body[i:], ';')
			if r, ok := entity(body[i+1 : i+max(j, 1)]); j > 0 && j < 10 && ok {
				out.WriteString(r)
				i += j + 1
			} else {
				out.WriteByte(c)
				i++
			}
		default:
			out.WriteByte(c)
			i++
		}
	}
	d.Text = out.String()
	sort.Slice(d.Gold, func(a, b int) bool { return d.Gold[a].Start < d.Gold[b].Start })
	return d, nil
}

func entity(name string) (string, bool) {
	switch name {
	case "amp":
		return "&", true
	case "lt":
		return "<", true
	case "gt":
		return ">", true
	case "quot":
		return `"`, true
	case "apos":
		return "'", true
	}
	return "", false
}

// attr returns the value of attribute name in a tag's text.
func attr(tag, name string) string {
	key := " " + name + `="`
	a := strings.Index(tag, key)
	if a < 0 {
		return ""
	}
	rest := tag[a+len(key):]
	b := strings.IndexByte(rest, '"')
	if b < 0 {
		return ""
	}
	return rest[:b]
}

// Counts are the raw numbers behind one P/R/F1 line.
type Counts struct {
	TP, Pred, Gold int
}

// P is precision, R recall, F1 their harmonic mean; all 0 when undefined.
func (c Counts) P() float64  { return ratio(c.TP, c.Pred) }
func (c Counts) R() float64  { return ratio(c.TP, c.Gold) }
func (c Counts) F1() float64 { return f1(c.P(), c.R()) }

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func f1(p, r float64) float64 {
	if p+r == 0 {
		return 0
	}
	return 2 * p * r / (p + r)
}

// Scores are TempEval-3 style results. Gold is every TIMEX3 of type DATE or
// TIME in the documents' text (the DCT sits outside <TEXT> and is not counted).
// A prediction that overlaps a gold DURATION or SET is neither right nor wrong
// here (the extractor has no such types) and is counted in Ignored only.
type Scores struct {
	Docs    int
	Strict  Counts // identical span
	Relaxed Counts // overlapping span
	Value   Counts // overlapping span and equal value (TIME compared by its date part)
	Ignored int
}

// WriteTo prints a readable table, so a test log or a CLI shows the figures the
// same way.
func (s Scores) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "TimeML evaluation: %d documents, %d gold DATE/TIME, %d predicted (%d more on DURATION/SET ignored)\n",
		s.Docs, s.Strict.Gold, s.Strict.Pred, s.Ignored)
	fmt.Fprintf(&b, "%-8s %6s %6s %6s %6s\n", "match", "P", "R", "F1", "TP")
	for _, r := range []struct {
		name string
		c    Counts
	}{{"strict", s.Strict}, {"relaxed", s.Relaxed}, {"value", s.Value}} {
		fmt.Fprintf(&b, "%-8s %6.3f %6.3f %6.3f %6d\n", r.name, r.c.P(), r.c.R(), r.c.F1(), r.c.TP)
	}
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

// Evaluate reads every *.tml file under dir, runs extract on each document's
// text with its creation time as the publication time, and scores the result.
func Evaluate(dir string, extract func(text string, published time.Time) []article.DateMention) (Scores, error) {
	var s Scores
	var files []string
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.IsDir() && strings.HasSuffix(path, ".tml") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return s, fmt.Errorf("listing %s: %w", dir, err)
	}
	if len(files) == 0 {
		return s, fmt.Errorf("no .tml files under %s", dir)
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			return s, fmt.Errorf("reading %s: %w", f, err)
		}
		d, err := Parse(f, src)
		if err != nil {
			return s, err
		}
		s.add(Score(d, extract(d.Text, d.DCT)))
	}
	return s, nil
}

func (s *Scores) add(o Scores) {
	s.Docs += o.Docs
	s.Ignored += o.Ignored
	for _, p := range []struct{ a, b *Counts }{{&s.Strict, &o.Strict}, {&s.Relaxed, &o.Relaxed}, {&s.Value, &o.Value}} {
		p.a.TP += p.b.TP
		p.a.Pred += p.b.Pred
		p.a.Gold += p.b.Gold
	}
}

// Score compares one document's predictions with its gold TIMEX3s. Matching is
// one to one: each gold and each prediction is used at most once, exact spans
// first, then the first overlapping one.
func Score(d Doc, pred []article.DateMention) Scores {
	s := Scores{Docs: 1}
	var gold []Timex
	var other []Timex
	for _, g := range d.Gold {
		if g.Type == "DATE" || g.Type == "TIME" {
			gold = append(gold, g)
		} else {
			other = append(other, g)
		}
	}
	var keep []article.DateMention
	for _, p := range pred {
		if overlapsAny(p, other) && !overlapsAny(p, gold) {
			s.Ignored++
			continue
		}
		keep = append(keep, p)
	}
	n := len(keep)
	s.Strict = Counts{Pred: n, Gold: len(gold)}
	s.Relaxed, s.Value = s.Strict, s.Strict

	used := make([]bool, n)
	match := make([]int, len(gold)) // gold -> prediction, -1 for none
	for gi, g := range gold {
		match[gi] = -1
		for pi, p := range keep {
			if !used[pi] && p.Start == g.Start && p.End == g.End {
				used[pi], match[gi] = true, pi
				s.Strict.TP++
				break
			}
		}
	}
	for gi, g := range gold {
		if match[gi] >= 0 {
			continue
		}
		for pi, p := range keep {
			if !used[pi] && p.Start < g.End && g.Start < p.End {
				used[pi], match[gi] = true, pi
				break
			}
		}
	}
	for gi, g := range gold {
		if match[gi] < 0 {
			continue
		}
		s.Relaxed.TP++
		if SameValue(keep[match[gi]].Value, g.Value) {
			s.Value.TP++
		}
	}
	return s
}

func overlapsAny(p article.DateMention, xs []Timex) bool {
	for _, x := range xs {
		if p.Start < x.End && x.Start < p.End {
			return true
		}
	}
	return false
}

// SameValue compares a predicted value with a gold TIMEX3 value; a gold TIME
// ("1998-02-06T22:19", "1998-02-06TMO") counts by its date part, because the
// extractor works in days.
func SameValue(pred, gold string) bool {
	if i := strings.IndexByte(gold, 'T'); i >= 0 && i >= 10 {
		gold = gold[:i]
	}
	return pred == gold
}

// Mismatch is one disagreement, for looking at errors while tuning.
type Mismatch struct {
	Doc        string
	Kind       string // "missed", "spurious", "value"
	Text       string
	Pred, Gold string
	Context    string
}

// Diff lists a document's errors in the same matching as Score.
func Diff(d Doc, pred []article.DateMention) []Mismatch {
	var out []Mismatch
	ctx := func(a, b int) string {
		lo, hi := max(0, a-40), min(len(d.Text), b+40)
		return strings.ReplaceAll(d.Text[lo:a]+"[["+d.Text[a:b]+"]]"+d.Text[b:hi], "\n", " ")
	}
	var gold, other []Timex
	for _, g := range d.Gold {
		if g.Type == "DATE" || g.Type == "TIME" {
			gold = append(gold, g)
		} else {
			other = append(other, g)
		}
	}
	used := make([]bool, len(pred))
	for _, g := range gold {
		found := false
		for pi, p := range pred {
			if !used[pi] && p.Start < g.End && g.Start < p.End {
				used[pi], found = true, true
				if !SameValue(p.Value, g.Value) {
					out = append(out, Mismatch{d.Name, "value", p.Text, p.Value, g.Value, ctx(g.Start, g.End)})
				}
				break
			}
		}
		if !found {
			out = append(out, Mismatch{d.Name, "missed", d.Text[g.Start:g.End], "", g.Value, ctx(g.Start, g.End)})
		}
	}
	for pi, p := range pred {
		if !used[pi] && !overlapsAny(p, other) {
			out = append(out, Mismatch{d.Name, "spurious", p.Text, p.Value, "", ctx(p.Start, p.End)})
		}
	}
	return out
}
