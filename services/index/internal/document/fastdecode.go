package document

import (
	"iter"
	"strconv"
	"time"

	"github.com/newsflow/newsflow/pkg/article"
	"github.com/newsflow/newsflow/pkg/jsonscan"
)

// decodeFast decodes, in one pass, what nearly every message is: a record as enrich writes it
// (article.AppendEnrichedJSON). It declines (false) everything it cannot decode exactly as
// encoding/json would, and Decode then takes the reflection-based decoder, which reads every
// record encoding/json reads. Declined: invalid UTF-8 (which encoding/json replaces), a name
// given twice (where encoding/json keeps the last value), a name that matches a field only when
// case is ignored ("ID", "Title"), a name written with escapes, a value of another type than the
// field's, a null element in an array, a number a field cannot hold, a time written with escapes
// or that time.Time.UnmarshalJSON refuses.
//
// It exists because the reflection-based decoder was half of the index stage's CPU time, and
// every microsecond the stage spends is one the search engine on the same machine does not get
// (issue 15). TestDecodeAgreesWithEncodingJSON and FuzzDecode hold it to encoding/json: whatever
// it accepts, encoding/json accepts with the same result.
func decodeFast(value []byte) (wireEnriched, bool) {
	var w wireEnriched
	d := fastDecoder{jsonscan.Scanner{Buf: value}}
	d.WS()
	if !d.record(&w) {
		return wireEnriched{}, false
	}
	d.WS()
	return w, d.I == len(d.Buf)
}

type fastDecoder struct{ jsonscan.Scanner }

// The member names of each object the decoder reads, in the order of the switch that reads
// their values.
var (
	recordNames = []string{"id", "source", "url", "title", "body", "authors", "language", "published_at",
		"ingested_at", "enriched_at", "enrichment_version", "entities", "dates", "places", "similarity", "enrichment_note"}
	entityNames     = []string{"name", "type"}
	dateNames       = []string{"text", "field", "start", "end", "value", "granularity", "gte", "lte", "relative"}
	placeNames      = []string{"entity", "name", "kind", "country", "lat", "lon"}
	similarityNames = []string{"signature", "near_bands", "story_bands"}
)

func (d *fastDecoder) record(w *wireEnriched) bool {
	e, a := &w.Enriched, &w.Enriched.Article
	o := object{names: recordNames}
	for i := range d.members(&o) {
		switch i {
		case 0:
			a.ID, o.ok = d.StringOrNull()
		case 1:
			a.Source, o.ok = d.StringOrNull()
		case 2:
			a.URL, o.ok = d.StringOrNull()
		case 3:
			a.Title, o.ok = d.StringOrNull()
		case 4:
			a.Body, o.ok = d.StringOrNull()
		case 5:
			a.Authors, o.ok = d.Strings()
		case 6:
			a.Language, o.ok = d.StringOrNull()
		case 7:
			o.ok = d.time(&a.PublishedAt)
		case 8:
			o.ok = d.time(&a.IngestedAt)
		case 9:
			o.ok = d.time(&e.EnrichedAt)
		case 10:
			e.EnrichmentVersion, o.ok = d.StringOrNull()
		case 11:
			w.Entities, o.ok = jsonscan.Array(&d.Scanner, d.entity)
		case 12:
			e.Dates, o.ok = jsonscan.Array(&d.Scanner, d.date)
		case 13:
			e.Places, o.ok = jsonscan.Array(&d.Scanner, d.place)
		case 14:
			o.ok = d.similarity(&e.Similarity)
		case 15:
			e.EnrichmentNote, o.ok = d.StringOrNull()
		}
	}
	return o.ok
}

func (d *fastDecoder) entity(en *wireEntity) bool {
	o := object{names: entityNames, depth: 2}
	for i := range d.members(&o) {
		if i == 0 {
			en.Name, o.ok = d.StringOrNull()
		} else {
			en.Type, o.ok = d.known(entityTypes)
		}
	}
	return o.ok
}

func (d *fastDecoder) date(m *article.DateMention) bool {
	o := object{names: dateNames, depth: 2}
	for i := range d.members(&o) {
		switch i {
		case 0:
			m.Text, o.ok = d.StringOrNull()
		case 1:
			m.Field, o.ok = d.known(fieldNames)
		case 2:
			o.ok = d.int(&m.Start)
		case 3:
			o.ok = d.int(&m.End)
		case 4:
			m.Value, o.ok = d.StringOrNull()
		case 5:
			m.Granularity, o.ok = d.known(granularities)
		case 6:
			m.GTE, o.ok = d.StringOrNull()
		case 7:
			m.LTE, o.ok = d.StringOrNull()
		case 8:
			o.ok = d.bool(&m.Relative)
		}
	}
	return o.ok
}

func (d *fastDecoder) place(p *article.Place) bool {
	o := object{names: placeNames, depth: 2}
	for i := range d.members(&o) {
		switch i {
		case 0:
			p.Entity, o.ok = d.StringOrNull()
		case 1:
			p.Name, o.ok = d.StringOrNull()
		case 2:
			p.Kind, o.ok = d.known(placeKinds)
		case 3:
			p.Country, o.ok = d.StringOrNull()
		case 4:
			o.ok = d.float(&p.Lat)
		case 5:
			o.ok = d.float(&p.Lon)
		}
	}
	return o.ok
}

func (d *fastDecoder) similarity(dst **article.Similarity) bool {
	if d.Peek() == 'n' {
		return d.Literal("null")
	}
	s := &article.Similarity{}
	*dst = s
	o := object{names: similarityNames, depth: 1}
	for i := range d.members(&o) {
		switch i {
		case 0:
			s.Signature, o.ok = d.StringOrNull()
		case 1:
			s.NearBands, o.ok = d.Strings()
		case 2:
			s.StoryBands, o.ok = d.Strings()
		}
	}
	return o.ok
}

// The values a few fields nearly always have, which known returns without a copy.
var (
	entityTypes   = []string{article.TypePerson, article.TypeOrg, article.TypeLoc, article.TypeMisc}
	fieldNames    = []string{article.FieldBody, article.FieldTitle}
	granularities = []string{"day", "month", "year", "week", "decade", "century", "quarter", "season", "ref"}
	placeKinds    = []string{"city", "country", "region", "continent"}
)

// known reads a string field whose value is usually one of common: then that string, shared,
// rather than a copy of its own.
func (d *fastDecoder) known(common []string) (string, bool) {
	if d.Peek() == '"' {
		start := d.I + 1
		if _, esc, ok := d.ScanString(); ok && !esc {
			if i := nameIndex(common, d.Buf[start:d.I-1]); i >= 0 {
				return common[i], true
			}
		}
		d.I = start - 1
	}
	return d.StringOrNull()
}

// object is where fastDecoder.members is in one object: names are the member names it reads,
// depth the object's nesting (for jsonscan.MaxDepth).
type object struct {
	names []string
	depth int
	seen  uint32 // the names read so far, by position
	ok    bool   // see members
}

// members yields the position in o.names of each member's name of the object at I, with I at
// the member's value, which the loop body reads and then sets o.ok to whether it could; the
// values of other names are skipped. It stops at the end of the object, setting o.ok to whether
// it was valid JSON, at a value the body could not read, and at a member it declines: a name
// given twice, or one not in o.names to the letter that might match one when case is ignored
// (any upper-case or non-ASCII letter), from which encoding/json would fill the field. After
// the loop, o.ok says whether the object was read.
func (d *fastDecoder) members(o *object) iter.Seq[int] {
	return func(yield func(int) bool) {
		o.ok = false
		empty, ok := d.Open('{', '}')
		if empty || !ok {
			o.ok = ok
			return
		}
		for {
			key, ok := d.Key()
			if !ok {
				return
			}
			i := nameIndex(o.names, key)
			switch {
			case i >= 0 && o.seen&(1<<i) == 0:
				o.seen |= 1 << i
				if !yield(i) || !o.ok {
					o.ok = false
					return
				}
				o.ok = false // until the object's end is read
			case i < 0 && lowerASCII(key) && d.SkipValue(o.depth+1):
			default:
				return
			}
			more, ok := d.Next('}')
			if !more {
				o.ok = ok
				return
			}
		}
	}
}

func nameIndex(names []string, key []byte) int {
	for i, n := range names {
		if string(key) == n {
			return i
		}
	}
	return -1
}

// lowerASCII reports whether key has no upper-case ASCII letter and no byte beyond ASCII, so
// that no field name matches it under case folding unless it equals one.
func lowerASCII(key []byte) bool {
	for _, c := range key {
		if 'A' <= c && c <= 'Z' || c >= 0x80 {
			return false
		}
	}
	return true
}

// time reads a time as encoding/json does, by time.Time.UnmarshalJSON on the quoted string;
// null leaves it zero.
func (d *fastDecoder) time(t *time.Time) bool {
	if d.Peek() == 'n' {
		return d.Literal("null")
	}
	start := d.I
	if d.Peek() != '"' {
		return false
	}
	if _, esc, ok := d.ScanString(); !ok || esc {
		return false
	}
	return t.UnmarshalJSON(d.Buf[start:d.I]) == nil
}

// number moves past a number and returns its text.
func (d *fastDecoder) number() ([]byte, bool) {
	if c := d.Peek(); c != '-' && (c < '0' || c > '9') {
		return nil, false
	}
	start := d.I
	if !d.Number() {
		return nil, false
	}
	return d.Buf[start:d.I], true
}

// int reads an integer as encoding/json reads one into an int (a fraction or exponent is an
// error there, so here it is declined).
func (d *fastDecoder) int(n *int) bool {
	b, ok := d.number()
	if !ok {
		return false
	}
	v, err := strconv.ParseInt(string(b), 10, strconv.IntSize)
	*n = int(v)
	return err == nil
}

func (d *fastDecoder) float(f *float64) bool {
	b, ok := d.number()
	if !ok {
		return false
	}
	var err error
	*f, err = strconv.ParseFloat(string(b), 64)
	return err == nil
}

func (d *fastDecoder) bool(v *bool) bool {
	switch d.Peek() {
	case 't':
		*v = true
		return d.Literal("true")
	case 'f':
		*v = false
		return d.Literal("false")
	}
	return false
}
