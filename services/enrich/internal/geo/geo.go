// Package geo resolves the LOC entities of an article to places with coordinates and a country
// code (issue 17). Its gazetteer is GeoNames' cities of 5,000 people or more, first-level
// regions, countries and continents (data/places.gen.tsv.gz, built by `make gazetteer` from
// registry data packages; sources and the CC BY 4.0 attribution in
// ../ner/data/SOURCES.md). A name matches a place when it equals the place's name or one of its
// alternate names, compared case-folded, ASCII-folded and with hyphens as spaces; among the
// matches the kind (a country before a city), the population and the article's other places
// decide: "Paris" next to "Texas" is the one in Texas. Names that match nothing are left out.
// The package does no I/O beyond decoding its embedded table once, and is safe for concurrent
// use.
package geo

import (
	"bufio"
	"bytes"
	"cmp"
	"compress/gzip"
	_ "embed"
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/newsflow/newsflow/pkg/article"
)

// Kind is what sort of place a gazetteer row is.
type Kind uint8

// The kinds, as the places table and the enriched article's places name them.
const (
	City Kind = iota + 1
	Region
	Country
	Continent
)

var kindNames = [...]string{City: "city", Region: "region", Country: "country", Continent: "continent"}

// String is the kind's name in the places table and in article.Place.Kind.
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "unknown"
}

func parseKind(s string) (Kind, bool) {
	for k, n := range kindNames {
		if n != "" && n == s {
			return Kind(k), true
		}
	}
	return 0, false
}

// Place is one row of the gazetteer. Countries are placed at their capital and regions at the
// population-weighted mean of their cities (the inputs carry no other point for them); a
// region's population is the sum of its cities'.
type Place struct {
	Name       string
	Alternates []string
	Kind       Kind
	Country    string // ISO 3166-1 alpha-2; empty for continents
	Admin1     string // GeoNames first-level region code within Country; empty above regions
	Lat, Lon   float64
	Population int64
}

// entry is a Place as the gazetteer holds it, in 24 bytes: the name is a slice of the
// gazetteer's names, the region an index into its admin1 codes. Memory is what counts here:
// enrich's peak RSS includes twice the live heap (the collector's default target), and 73,000
// entries with strings took 48 bytes each.
type entry struct {
	nameOff  uint32
	nameLen  uint16
	admin1   uint16 // index into Gazetteer.admin1s; 0 is none
	lat, lon float32
	pop      uint32
	cc       [2]byte
	kind     Kind
}

// Gazetteer finds places by name. It is immutable once built.
type Gazetteer struct {
	seed    maphash.Seed
	names   string   // every place's name, back to back
	admin1s []string // admin1 codes ("10", "TX"); [0] is ""
	entries []entry
	// keys holds one uint64 per name of a place: the hash of the name's match key with its
	// low lowBits bits replaced by the place's index and a bit that says the name is an
	// alternate, sorted. 43 bits of hash are left, so a query that is no name matches one of
	// the 230,000 keys with a chance of about 1 in 4×10^7.
	keys []uint64
	// start[b] is the first key of bucket b (the top bucketBits bits); start[b+1] ends it.
	start [1<<bucketBits + 1]uint32
}

// A key's low bits: the place's index (placeBits, up to a million places) above one bit that
// is set when the name is an alternate.
const (
	placeBits = 20
	placeMask = 1<<placeBits - 1
	lowBits   = placeBits + 1
	lowMask   = 1<<lowBits - 1
	altBit    = 1
)

//go:embed data/places.gen.tsv.gz
var embeddedPlaces []byte

var (
	defaultOnce sync.Once
	defaultGaz  *Gazetteer
	defaultErr  error
)

// Default returns the gazetteer of the embedded places table, decoded once per process (about
// 100 ms of CPU and 5 MB) and shared: every caller wants the same table.
func Default() (*Gazetteer, error) {
	defaultOnce.Do(func() {
		defaultGaz, defaultErr = Load(bytes.NewReader(embeddedPlaces))
	})
	return defaultGaz, defaultErr
}

// builder collects places into a Gazetteer.
type builder struct {
	g      *Gazetteer
	names  []byte
	admin1 map[string]uint16
	kb     []byte
}

func newBuilder(places, keys int) *builder {
	g := &Gazetteer{seed: maphash.MakeSeed(), admin1s: []string{""},
		entries: make([]entry, 0, places), keys: make([]uint64, 0, keys)}
	return &builder{g: g, names: make([]byte, 0, 12*places), admin1: map[string]uint16{"": 0}}
}

// add adds one place and its names; alts is called with each alternate name.
func (b *builder) add(p Place, alts func(func(string))) error {
	g := b.g
	i := len(g.entries)
	switch {
	case i > placeMask:
		return fmt.Errorf("more than %d places", placeMask+1)
	case p.Name == "" || len(p.Name) > math.MaxUint16:
		return fmt.Errorf("a place needs a name of at most %d bytes: %q", math.MaxUint16, p.Name)
	case p.Country != "" && len(p.Country) != 2:
		return fmt.Errorf("country %q is not an ISO 3166-1 alpha-2 code", p.Country)
	case !(math.Abs(p.Lat) <= 90 && math.Abs(p.Lon) <= 180):
		return fmt.Errorf("no point at %v,%v", p.Lat, p.Lon)
	case p.Population < 0 || p.Population > math.MaxUint32:
		return fmt.Errorf("population %d out of range", p.Population)
	}
	a1, ok := b.admin1[p.Admin1]
	if !ok {
		if len(g.admin1s) > math.MaxUint16 {
			return fmt.Errorf("more than %d admin1 codes", math.MaxUint16)
		}
		a1 = uint16(len(g.admin1s))
		g.admin1s = append(g.admin1s, p.Admin1)
		b.admin1[p.Admin1] = a1
	}
	e := entry{nameOff: uint32(len(b.names)), nameLen: uint16(len(p.Name)), admin1: a1,
		lat: float32(p.Lat), lon: float32(p.Lon), pop: uint32(p.Population), kind: p.Kind}
	copy(e.cc[:], p.Country)
	b.names = append(b.names, p.Name...)
	g.entries = append(g.entries, e)
	b.addKey(p.Name, uint32(i), 0)
	if alts != nil {
		alts(func(a string) { b.addKey(a, uint32(i), altBit) })
	}
	return nil
}

func (b *builder) addKey(name string, i uint32, alt uint64) {
	b.kb = appendKey(b.kb[:0], name)
	if len(b.kb) > 0 {
		b.g.keys = append(b.g.keys, maphash.Bytes(b.g.seed, b.kb)&^lowMask|uint64(i)<<1|alt)
	}
}

func (b *builder) finish() *Gazetteer {
	b.g.names = string(b.names)
	b.g.finish()
	return b.g
}

// Load reads a gzip-compressed places table: '#' comment lines, then
// kind<TAB>name<TAB>alternates (separated by '|')<TAB>cc<TAB>admin1<TAB>lat<TAB>lon<TAB>population.
// It streams: the decoded table (5.5 MB) is never held whole.
func Load(r io.Reader) (*Gazetteer, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("reading the places table: %w", err)
	}
	// Sized for the embedded table (73,000 places, 235,000 names); others grow as needed.
	b := newBuilder(75000, 240000)
	br := bufio.NewReaderSize(zr, 1<<16)
	for lineNo := 1; ; lineNo++ {
		raw, err := br.ReadSlice('\n')
		if err == io.EOF && len(raw) == 0 {
			break
		}
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("reading the places table: line %d: %w", lineNo, err)
		}
		if len(raw) == 0 || raw[0] == '#' || raw[0] == '\n' {
			continue
		}
		p, alts, perr := parseRow(strings.TrimSuffix(string(raw), "\n"))
		if perr == nil {
			perr = b.add(p, func(add func(string)) {
				for alts != "" {
					var a string
					a, alts, _ = strings.Cut(alts, "|")
					add(a)
				}
			})
		}
		if perr != nil {
			return nil, fmt.Errorf("reading the places table: line %d: %w", lineNo, perr)
		}
	}
	if err := zr.Close(); err != nil {
		return nil, fmt.Errorf("reading the places table: %w", err)
	}
	return b.finish(), nil
}

// parseRow reads one row; alts is the raw '|'-separated alternates field.
func parseRow(line string) (p Place, alts string, err error) {
	var f [8]string
	for k := 0; k < 7; k++ {
		var ok bool
		if f[k], line, ok = strings.Cut(line, "\t"); !ok {
			return p, "", fmt.Errorf("%d fields, want 8", k+1)
		}
	}
	f[7] = line
	kind, ok := parseKind(f[0])
	if !ok {
		return p, "", fmt.Errorf("unknown kind %q", f[0])
	}
	lat, err1 := strconv.ParseFloat(f[5], 64)
	lon, err2 := strconv.ParseFloat(f[6], 64)
	pop, err3 := strconv.ParseUint(f[7], 10, 32)
	if err := cmp.Or(err1, err2, err3); err != nil {
		return p, "", err
	}
	return Place{Name: f[1], Kind: kind, Country: f[3], Admin1: f[4], Lat: lat, Lon: lon, Population: int64(pop)}, f[2], nil
}

// New builds a gazetteer from places in memory (for tests and small tables).
func New(places []Place) (*Gazetteer, error) {
	b := newBuilder(len(places), 2*len(places))
	for _, p := range places {
		if err := b.add(p, func(add func(string)) {
			for _, a := range p.Alternates {
				add(a)
			}
		}); err != nil {
			return nil, fmt.Errorf("place %q: %w", p.Name, err)
		}
	}
	return b.finish(), nil
}

// Len is the number of places.
func (g *Gazetteer) Len() int { return len(g.entries) }

// bucketBits is how many top bits of a key pick its bucket: 2^16 buckets for some 220,000
// keys, so a lookup scans three or four keys.
const bucketBits = 16

// finish sorts the keys and drops a place's repeated keys (a name and an alternate that differ
// only in case or accents: the name's is kept). The sort is a one-pass in-place radix sort on the top bits
// (American flag sort), then a sort of each small bucket: a comparison sort of all the keys was
// a third of the load time, and a second array of keys would raise the peak memory.
func (g *Gazetteer) finish() {
	var start [1<<bucketBits + 1]uint32
	for _, k := range g.keys {
		start[k>>(64-bucketBits)+1]++
	}
	for b := 1; b < len(start); b++ {
		start[b] += start[b-1]
	}
	next := start // where the next key of each bucket goes
	for b := 0; b < 1<<bucketBits; b++ {
		for next[b] < start[b+1] {
			k := g.keys[next[b]]
			kb := k >> (64 - bucketBits)
			if kb == uint64(b) {
				next[b]++
				continue
			}
			g.keys[next[b]], g.keys[next[kb]] = g.keys[next[kb]], k
			next[kb]++
		}
	}
	out := g.keys[:0]
	for b := 0; b < 1<<bucketBits; b++ {
		bucket := g.keys[start[b]:start[b+1]]
		slices.Sort(bucket)
		g.start[b] = uint32(len(out))
		for j, k := range bucket {
			// One key per hash and place, the name's before an alternate's (the alternate
			// bit sorts last): out never passes bucket, it only drops keys.
			if j == 0 || k&^altBit != bucket[j-1]&^altBit {
				out = append(out, k)
			}
		}
	}
	g.start[1<<bucketBits] = uint32(len(out))
	g.keys = slices.Clip(out)
}

// appendKey appends the match key of s to dst: lower case, Latin letters folded to ASCII as the
// build folds the names (foldTable), hyphens and dashes as spaces, dots dropped ("St. Louis",
// "U.S."), typographic apostrophes as "'", runs of spaces as one, none at either end. A key is
// hashed, never shown, so it need not be pretty, only the same for the query and the names.
func appendKey(dst []byte, s string) []byte {
	start := len(dst)
	space := true // at the start: drop leading spaces
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			switch {
			case c == '-' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '_':
				if !space {
					dst = append(dst, ' ')
					space = true
				}
				continue
			case c == '.':
				continue
			case 'A' <= c && c <= 'Z':
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			space = false
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		switch {
		case r == '\u2019' || r == '\u2018' || r == '\u02bc' || r == '\u02bb':
			dst = append(dst, '\'')
			space = false
			continue
		case unicode.Is(unicode.Pd, r) || unicode.IsSpace(r):
			if !space {
				dst = append(dst, ' ')
				space = true
			}
			continue
		case unicode.Is(unicode.Mn, r): // a combining mark: the fold drops it
			continue
		}
		r = unicode.ToLower(r)
		if f, ok := foldTable[r]; ok {
			dst = append(dst, f...)
		} else {
			dst = utf8.AppendRune(dst, r)
		}
		space = false
	}
	if len(dst) > start && dst[len(dst)-1] == ' ' {
		dst = dst[:len(dst)-1]
	}
	return dst
}

// match is a place a name matched, and whether it matched an alternate name only.
type match struct {
	i   uint32
	alt bool
}

// lookup returns the places whose name or an alternate has the match key k, in table order.
func (g *Gazetteer) lookup(k []byte, out []match) []match {
	if len(k) == 0 {
		return out
	}
	h := maphash.Bytes(g.seed, k) &^ lowMask
	b := h >> (64 - bucketBits)
	for _, e := range g.keys[g.start[b]:g.start[b+1]] {
		if e&^lowMask == h {
			out = append(out, match{i: uint32(e>>1) & placeMask, alt: e&altBit != 0})
		}
	}
	return out
}

// Lookup returns every place the name matches, in table order (for tests and tools; Resolve
// picks one per entity).
func (g *Gazetteer) Lookup(name string) []Place {
	var out []Place
	for _, m := range g.lookup(appendKey(nil, name), nil) {
		out = append(out, g.place(m.i))
	}
	return out
}

func (g *Gazetteer) place(i uint32) Place {
	e := &g.entries[i]
	return Place{Name: g.name(e), Kind: e.kind, Country: e.country(), Admin1: g.admin1s[e.admin1],
		Lat: round4(e.lat), Lon: round4(e.lon), Population: int64(e.pop)}
}

func (g *Gazetteer) name(e *entry) string {
	return g.names[e.nameOff : e.nameOff+uint32(e.nameLen)]
}

func (e *entry) country() string {
	if e.cc == ([2]byte{}) {
		return ""
	}
	return string(e.cc[:])
}

// round4 gives the table's 4 decimals back as the float64 closest to them, so that JSON shows
// 36.7578, not the float32's 36.757801055908203.
func round4(f float32) float64 { return math.Round(float64(f)*1e4) / 1e4 }

// Lazy is a resolver over the embedded gazetteer that is decoded on a goroutine of its own
// (Background), so that loading it adds nothing to enrich's start-up: `enrich serve` joins its
// consumer group and `enrich extract` reads its input meanwhile, and only an article that
// comes before the table is ready waits for it.
type Lazy struct {
	done chan struct{}
	g    *Gazetteer
	err  error
}

// Background starts decoding the embedded table (Default) and returns at once.
func Background() *Lazy {
	l := &Lazy{done: make(chan struct{})}
	go func() {
		defer close(l.done)
		l.g, l.err = Default()
	}()
	return l
}

// Wait blocks until the table is decoded and returns it.
func (l *Lazy) Wait() (*Gazetteer, error) {
	<-l.done
	return l.g, l.err
}

// Resolve is Gazetteer.Resolve once the table is ready. The table is embedded at build time
// and TestEmbeddedTable decodes it, so a failure here is a broken build: it panics, as a
// broken embedded model would.
func (l *Lazy) Resolve(ents []article.Entity) []article.Place {
	g, err := l.Wait()
	if err != nil {
		panic(fmt.Sprintf("geo: the embedded places table does not decode: %v", err))
	}
	return g.Resolve(ents)
}
