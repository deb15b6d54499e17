package geo

import (
	"bytes"
	"math"
	"strings"

	"github.com/newsflow/newsflow/pkg/article"
)

// The score of a candidate place is log10(population) plus these. The numbers are chosen so
// that, in order:
//   - a country or continent beats a city of the same name unless the article places that city
//     ("Georgia" is the country, unless the article also names Atlanta);
//   - a city beats the region of the same name ("New York"): a region's population is the sum
//     of its cities', so its lead is discounted (regionPenalty, a factor of 10);
//   - a city in a region the article names beats a city ten to a hundred times larger
//     elsewhere ("Paris" beside "Texas": 4.4 + 1 + 3 against 6.3), if the city has that name
//     as its own: GeoNames' alternates hold old and foreign names ("Washington" is an old name
//     of Piqua, Ohio), too weak for so strong a hint;
//   - a region that holds a city the article names beats a country of its name ("Georgia"
//     beside "Atlanta"); a city is no hint for another city of its region ("Washington"
//     beside "London" is not the town in England);
//   - a place in a country the article names beats one up to ten times larger elsewhere
//     ("Hama" in an article about Syria), but not more: nearly every business story names
//     the United States, and "Paris" beside "U.S." is still the French one;
//   - a city whose own name it is beats a city that has the name only as an alternate, unless
//     that one is more than a hundred times larger (altPenalty): GeoNames' alternates hold
//     old, foreign and misspelt names ("Venice" is an alternate of Dayton, Ohio, "Augusta" one
//     of Augsburg). Only against a city of that very name: alternates are also how English
//     names are found ("Hama" for Ḩamāh, "New York" for New York City).
const (
	altPenalty    = 2.0 // a city known by the name only as an alternate, beside one of that name
	countryBonus  = 3.0 // kind country or continent
	regionPenalty = 1.0
	inCountry     = 1.0 // another place of the article is in the candidate's country
	inRegion      = 3.0 // the article names the candidate's first-level region (see above)
)

// regionWords end names news gives first-level regions that the table may have without them
// ("Hama Province" is GeoNames' "Hama"). Only regions are looked for under the shorter name.
var regionWords = []string{" province", " governorate", " region", " state", " county",
	" district", " oblast", " prefecture", " department", " municipality", " emirate"}

// candidates of one LOC entity.
type located struct {
	entity  string
	seat    bool // an institution's seat (seats): its city is its only candidate
	context bool // the choice is context for the others (all but the markets and the press)
	cands   []match
	prior   []float64
	best    int // index into cands
}

// Resolve returns a place for each LOC entity of ents that names one, in the entities' order;
// entities of other types and names the gazetteer does not know are left out. The choice
// between places of the same name is made for the whole article: first each name on its own
// (kind and population), then again, twice, with the other names' choices as context, so that
// a candidate in a country or first-level region the article also names wins.
func (g *Gazetteer) Resolve(ents []article.Entity) []article.Place {
	var locs []located
	var kb []byte
	for _, en := range ents {
		if en.Type != article.TypeLoc {
			continue
		}
		kb = appendKey(kb[:0], en.Name)
		m, s, seat := g.lookupSeat(kb) // before abbreviated: "Wall St."
		if !seat && abbreviated(en.Name) {
			continue
		}
		var cands []match
		if seat {
			cands = []match{m}
		} else {
			cands = g.lookup(kb, nil)
		}
		if len(cands) == 0 {
			cands = g.lookupShorter(kb)
		}
		if len(cands) == 0 {
			continue
		}
		l := located{entity: en.Name, seat: seat, context: !seat || s.context, cands: cands, prior: make([]float64, len(cands))}
		for j, m := range cands {
			l.prior[j] = g.prior(m)
		}
		g.penalizeAlternates(&l)
		locs = append(locs, l)
	}
	if len(locs) == 0 {
		return nil
	}
	if len(locs) > 1 {
		g.inContext(locs)
	}
	out := make([]article.Place, 0, len(locs))
	for k, l := range locs {
		if !g.confident(locs, k) {
			continue
		}
		p := g.place(l.cands[l.best].i)
		out = append(out, article.Place{Entity: l.entity, Name: p.Name, Kind: p.Kind.String(),
			Country: p.Country, Lat: p.Lat, Lon: p.Lon})
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// smallRegion is the population (the sum of its cities') under which a first-level region is
// not taken for a one-word name on the name alone (see confident).
const smallRegion = 1_000_000

// confident says whether locs[k]'s choice is good enough to show on a map. Two kinds of match
// are left out:
//   - an all-capitals name of two or three letters matched by a city: an acronym ("EU" is not
//     Eu, Normandy), where countries and regions are written so ("US", "UAE") and matched;
//   - unless another place of the article is in the same country, a one-word name that only
//     first-level regions of under a million people have: the words news capitalises for a
//     direction or a sea ("the West", "the South", "the Gulf") are the names of regions of
//     Cameroon and Papua New Guinea.
//
// On the 19,043 Reuters articles this leaves out 309 of 23,574 places (LOC coverage 80.7% ->
// 79.7%): "Gulf" as Papua New Guinea's Gulf Province 197 times, Cameroon's West, South, North
// and East 47, Ghana's Western and Northern 13, headline words read as towns ("KO" as Kyiv,
// "AMI", "GAO", "BOR", ...); and about 20 right ones: Alaska 10 times (its cities add up to
// under a million, and those articles name no other US place), Corsica, Tasmania, the Azores,
// Tobago, Chaco, and "RIO" and "LA" in headlines.
func (g *Gazetteer) confident(locs []located, k int) bool {
	l := &locs[k]
	e := &g.entries[l.cands[l.best].i]
	name := strings.TrimSpace(l.entity)
	if e.kind == City && isAcronym(name) {
		return false
	}
	if strings.ContainsAny(name, " -") {
		return true
	}
	for _, m := range l.cands {
		if c := &g.entries[m.i]; c.kind != Region || c.pop >= smallRegion {
			return true
		}
	}
	for j := range locs {
		if j != k && e.cc != ([2]byte{}) && g.entries[locs[j].cands[locs[j].best].i].cc == e.cc {
			return true
		}
	}
	return false
}

// isAcronym says whether s is two or three capital letters (ASCII).
func isAcronym(s string) bool {
	if len(s) < 2 || len(s) > 3 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// abbreviated says a name is a one-dot abbreviation ("Pa.", "Calif.", "Ore."): news writes US
// states so, and with the dot dropped from the key they would match other places ("Pa" is an
// alternate of Chongqing). "U.S." and "St. Louis" have more dots or none at the end.
func abbreviated(name string) bool {
	name = strings.TrimSpace(name)
	return strings.HasSuffix(name, ".") && strings.Count(name, ".") == 1
}

// seat is the city an institution's seat is in, by the city's name in the table (and its
// first-level region, where it must be pinned down: Washington, DC, New York City, NY), and
// whether the seat places the story in that city's country.
type seat struct {
	city, cc, admin1 string
	context          bool
}

// seats are the buildings and streets news names for the institution in them ("the White House
// said", "the Kremlin denied", "Wall Street fell"), by match key. The entity model reads them as
// places, as its CoNLL-2003 training data marks them, and the gazetteer has towns of some of
// those names elsewhere (White House, Tennessee; Whitehall, Ohio; Westminster, Colorado) and
// nothing for the rest. Each resolves to the city it is in, whatever else the article names: a
// story about the White House is a story from Washington, and "Whitehall" beside "Ohio" is
// still read as London (the rarer miss).
//
// The seats of government are context for their country, as the country's name would be
// ("Birmingham" beside "Downing Street" is the English one). The markets and the press (Wall
// Street, Fleet Street, ...) are not: "Asian shares rose after Wall Street" says nothing of
// where the story is, and as context Wall Street would move Cambridge and Manchester to New
// England. Toronto's Bay Street is left out: it is also the main street of Nassau, among others.
var seats = map[string]seat{
	"white house":         {"Washington", "US", "DC", true},
	"oval office":         {"Washington", "US", "DC", true},
	"capitol hill":        {"Washington", "US", "DC", true},
	"pentagon":            {"Washington", "US", "DC", true}, // in Arlington, Virginia; datelined Washington
	"kremlin":             {"Moscow", "RU", "", true},
	"downing street":      {"London", "GB", "", true},
	"downing st":          {"London", "GB", "", true},
	"10 downing street":   {"London", "GB", "", true},
	"whitehall":           {"London", "GB", "", true},
	"westminster":         {"London", "GB", "", true},
	"scotland yard":       {"London", "GB", "", true},
	"holyrood":            {"Edinburgh", "GB", "", true},
	"elysee":              {"Paris", "FR", "", true},
	"elysee palace":       {"Paris", "FR", "", true},
	"quai d'orsay":        {"Paris", "FR", "", true},
	"palazzo chigi":       {"Rome", "IT", "", true},
	"zhongnanhai":         {"Beijing", "CN", "", true},
	"kasumigaseki":        {"Tokyo", "JP", "", true},
	"blue house":          {"Seoul", "KR", "", true},
	"wall street":         {"New York City", "US", "NY", false},
	"wall st":             {"New York City", "US", "NY", false},
	"fleet street":        {"London", "GB", "", false},
	"threadneedle street": {"London", "GB", "", false},
	"dalal street":        {"Mumbai", "IN", "", false},
}

// lookupSeat returns the seat a name is (see seats), with or without a leading "the", and its
// city: the most populous city of that name of its own in the seat's country and region. ok is
// false for a name that is no seat, or whose city the table lacks (TestSeatsResolveToTheirCity
// keeps the committed table complete).
func (g *Gazetteer) lookupSeat(k []byte) (m match, s seat, ok bool) {
	k = bytes.TrimPrefix(k, []byte("the "))
	if s, ok = seats[string(k)]; !ok {
		return match{}, s, false
	}
	best := -1
	for _, c := range g.lookup(appendKey(nil, s.city), nil) {
		e := &g.entries[c.i]
		if c.alt || e.kind != City || e.country() != s.cc || (s.admin1 != "" && g.admin1s[e.admin1] != s.admin1) {
			continue
		}
		if int(e.pop) > best {
			best, m = int(e.pop), c
		}
	}
	return m, s, best >= 0
}

// lookupShorter finds the regions a name with a region word names ("Idlib Province"), and the
// places of a name with a leading article ("the Netherlands").
func (g *Gazetteer) lookupShorter(k []byte) []match {
	s := string(k)
	if rest, ok := strings.CutPrefix(s, "the "); ok {
		return g.lookup([]byte(rest), nil)
	}
	for _, w := range regionWords {
		if rest, ok := strings.CutSuffix(s, w); ok && rest != "" {
			all := g.lookup([]byte(rest), nil)
			regions := all[:0]
			for _, m := range all {
				if g.entries[m.i].kind == Region {
					regions = append(regions, m)
				}
			}
			return regions
		}
	}
	return nil
}

// prior is a candidate's score on its own: population and kind.
func (g *Gazetteer) prior(m match) float64 {
	e := &g.entries[m.i]
	s := math.Log10(float64(e.pop) + 10)
	switch e.kind {
	case Country, Continent:
		s += countryBonus
	case Region:
		s -= regionPenalty
	}
	return s
}

// penalizeAlternates lowers the prior of the cities that have the name only as an alternate
// when another city has it as its own name (see altPenalty), and picks the best candidate.
func (g *Gazetteer) penalizeAlternates(l *located) {
	own := false
	for _, m := range l.cands {
		own = own || (!m.alt && g.entries[m.i].kind == City)
	}
	for j, m := range l.cands {
		if own && m.alt && g.entries[m.i].kind == City {
			l.prior[j] -= altPenalty
		}
	}
	l.best = 0
	for j := range l.prior {
		if l.prior[j] > l.prior[l.best] {
			l.best = j
		}
	}
}

// evidence counts the entities whose current choice lies in each country, is each region, or
// is a city in each region.
type evidence struct {
	country     map[[2]byte]int
	region      map[region]int // regions chosen
	regionsCity map[region]int // regions of the cities chosen
}

// region is a first-level region: its country and its admin1 code's index.
type region struct {
	cc     [2]byte
	admin1 uint16
}

func (e *entry) region() (region, bool) {
	return region{e.cc, e.admin1}, e.admin1 != 0 && (e.kind == City || e.kind == Region)
}

func (ev *evidence) add(e *entry, d int) {
	if e.cc == ([2]byte{}) {
		return
	}
	ev.country[e.cc] += d
	if r, ok := e.region(); ok {
		if e.kind == Region {
			ev.region[r] += d
		} else {
			ev.regionsCity[r] += d
		}
	}
}

// score is a candidate's prior plus what the other entities' choices say for it.
func (ev *evidence) score(e *entry, m match, prior float64) float64 {
	s := prior
	if e.cc != ([2]byte{}) && ev.country[e.cc] > 0 {
		s += inCountry
	}
	if r, ok := e.region(); ok {
		switch {
		case e.kind == City && !m.alt && ev.region[r] > 0:
			s += inRegion
		case e.kind == Region && ev.region[r]+ev.regionsCity[r] > 0:
			s += inRegion
		}
	}
	return s
}

// inContext re-chooses each entity's place with the others' choices as context, until nothing
// changes (at most twice: a choice rarely depends on another's second thoughts).
func (g *Gazetteer) inContext(locs []located) {
	ev := evidence{country: map[[2]byte]int{}, region: map[region]int{}, regionsCity: map[region]int{}}
	for round := 0; round < 2; round++ {
		clear(ev.country)
		clear(ev.region)
		clear(ev.regionsCity)
		for _, l := range locs {
			e := &g.entries[l.cands[l.best].i]
			if !l.context {
				continue
			}
			if l.seat {
				// A seat places the story in its country; it is not the article naming the
				// city, which would make "Moscow" beside "the Kremlin" the oblast.
				ev.country[e.cc]++
				continue
			}
			ev.add(e, 1)
		}
		changed := false
		for k := range locs {
			l := &locs[k]
			if len(l.cands) == 1 {
				continue
			}
			self := &g.entries[l.cands[l.best].i]
			ev.add(self, -1) // an entity is no context for itself
			best, bestScore := l.best, math.Inf(-1)
			for j, m := range l.cands {
				if s := ev.score(&g.entries[m.i], m, l.prior[j]); s > bestScore {
					best, bestScore = j, s
				}
			}
			ev.add(self, 1)
			if best != l.best {
				l.best, changed = best, true
			}
		}
		if !changed {
			return
		}
	}
}
