// Package dates finds the date expressions in news text and normalises them
// TIMEX3-style ("2019-08-20", "2019-W34", "201" for the 2010s) with the range of
// days they cover, resolving relative ones ("yesterday", "on Monday", "last
// year") against the article's publication time. References to the present,
// past or future ("now", "recently", "the future") get TimeML's PRESENT_REF,
// PAST_REF or FUTURE_REF and no range.
//
// It is a hand-written scanner, not a set of regular expressions: the text is
// tokenised once and a small grammar is matched around trigger words (month and
// weekday names, digits, relative words), so the cost is linear in the text and
// a few MB/s per core, which the enrich stage needs to keep up with Kafka.
// The package does no I/O.
package dates

import (
	"sync"
	"time"

	"github.com/newsflow/newsflow/pkg/article"
)

// Extractor finds date mentions. It holds no per-call state, so one Extractor
// serves every goroutine of the enrich stage.
type Extractor struct {
	toks sync.Pool // *[]tok, reused to keep Extract free of per-token allocations
}

// New builds an Extractor. It is cheap; the lexicon is built once per process.
func New() *Extractor {
	return &Extractor{toks: sync.Pool{New: func() any { s := make([]tok, 0, 1024); return &s }}}
}

// maxPooled is the largest token buffer kept for reuse, so one huge article does
// not pin its memory for ever.
const maxPooled = 1 << 16

// Extract returns every date mention in text, the value of the article field
// field ("title" or "body"), in text order. Relative expressions are resolved
// against published (any zone; its UTC calendar day is used). Start and End are
// byte offsets into text, End exclusive, and Text is text[Start:End].
func (e *Extractor) Extract(field, text string, published time.Time) []article.DateMention {
	if text == "" {
		return nil
	}
	bp := e.toks.Get().(*[]tok)
	toks := scan(text, (*bp)[:0])
	pub := published.UTC()
	pub = time.Date(pub.Year(), pub.Month(), pub.Day(), 0, 0, 0, 0, time.UTC)

	var out []article.DateMention
	var buf [32]byte
	p := &parser{text: text, toks: toks, pub: pub, pubY: pub.Year(), pubM: int(pub.Month())}
	p.emit = func(s, e int, v val) {
		if s >= e || e > len(toks) {
			return
		}
		value, gte, lte, ok := v.format(buf[:0])
		if !ok {
			return
		}
		if v.gran == gQuarter {
			p.lastQ, p.hasQ = v, true
		}
		a, b := int(toks[s].s), int(toks[e-1].e)
		out = append(out, article.DateMention{Text: text[a:b], Field: field, Start: a, End: b,
			Value: value, Granularity: granName[v.gran], GTE: gte, LTE: lte, Relative: v.rel})
	}
	p.run()

	if cap(toks) <= maxPooled {
		*bp = toks[:0]
		e.toks.Put(bp)
	}
	return out
}
