package geo

import (
	"bytes"
	"compress/gzip"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/newsflow/newsflow/pkg/article"
)

// table is a small gazetteer with the ambiguities the resolver must settle: two Parises, a
// Hama in Syria and a larger one elsewhere, Georgia the country and the state, a city and a
// region of one name.
var table = []Place{
	{Name: "Paris", Alternates: []string{"Lutetia"}, Kind: City, Country: "FR", Admin1: "11", Lat: 48.8534, Lon: 2.3488, Population: 2138551},
	{Name: "Paris", Kind: City, Country: "US", Admin1: "TX", Lat: 33.6609, Lon: -95.5555, Population: 24782},
	{Name: "Texas", Kind: Region, Country: "US", Admin1: "TX", Lat: 31.0, Lon: -97.5, Population: 20000000},
	{Name: "Île-de-France", Kind: Region, Country: "FR", Admin1: "11", Lat: 48.85, Lon: 2.35, Population: 10000000},
	{Name: "France", Kind: Country, Country: "FR", Lat: 48.8534, Lon: 2.3488, Population: 66987244},
	{Name: "United States", Alternates: []string{"US", "U.S.", "America"}, Kind: Country, Country: "US", Lat: 38.8951, Lon: -77.0364, Population: 327167434},
	{Name: "Syria", Kind: Country, Country: "SY", Lat: 33.5102, Lon: 36.2913, Population: 16906283},
	{Name: "Ḩamāh", Alternates: []string{"Hama", "Hamah"}, Kind: City, Country: "SY", Admin1: "10", Lat: 35.1318, Lon: 36.7578, Population: 460602},
	{Name: "Hama", Kind: Region, Country: "SY", Admin1: "10", Lat: 35.148, Lon: 36.7514, Population: 752056},
	{Name: "Hama City", Alternates: []string{"Hama"}, Kind: City, Country: "XX", Admin1: "01", Lat: 10, Lon: 10, Population: 2000000},
	{Name: "Piqua", Alternates: []string{"Washington"}, Kind: City, Country: "US", Admin1: "OH", Lat: 40.1448, Lon: -84.2424, Population: 20790},
	{Name: "Ohio", Kind: Region, Country: "US", Admin1: "OH", Lat: 40.2, Lon: -82.8, Population: 9000000},
	{Name: "Washington", Kind: City, Country: "US", Admin1: "DC", Lat: 38.8951, Lon: -77.0364, Population: 689545},
	{Name: "Washington", Kind: City, Country: "GB", Admin1: "ENG", Lat: 54.9, Lon: -1.5167, Population: 67085},
	{Name: "London", Kind: City, Country: "GB", Admin1: "ENG", Lat: 51.5085, Lon: -0.1257, Population: 8961989},
	{Name: "Khān Shaykhūn", Alternates: []string{"Khan Shaykhun", "Khan Sheikhoun"}, Kind: City, Country: "SY", Admin1: "12", Lat: 35.4421, Lon: 36.651, Population: 48975},
	{Name: "Georgia", Kind: Country, Country: "GE", Lat: 41.6914, Lon: 44.8341, Population: 3704500},
	{Name: "Georgia", Alternates: []string{"Ga"}, Kind: Region, Country: "US", Admin1: "GA", Lat: 33.3156, Lon: -83.9017, Population: 4228122},
	{Name: "Atlanta", Kind: City, Country: "US", Admin1: "GA", Lat: 33.749, Lon: -84.388, Population: 463878},
	{Name: "New York City", Alternates: []string{"New York"}, Kind: City, Country: "US", Admin1: "NY", Lat: 40.7143, Lon: -74.006, Population: 8804190},
	{Name: "New York", Kind: Region, Country: "US", Admin1: "NY", Lat: 40.9572, Lon: -74.1557, Population: 29978965},
	{Name: "Europe", Kind: Continent, Lat: 48.69, Lon: 9.14, Population: 741000000},
	{Name: "West", Kind: Region, Country: "CM", Admin1: "08", Lat: 5.5, Lon: 10.5, Population: 500000},
	{Name: "Cameroon", Kind: Country, Country: "CM", Lat: 3.848, Lon: 11.5021, Population: 25216237},
	{Name: "Gulf", Kind: Region, Country: "PG", Admin1: "01", Lat: -7.5, Lon: 144, Population: 160000},
	{Name: "Iran", Kind: Country, Country: "IR", Lat: 35.6944, Lon: 51.4215, Population: 81800269},
	{Name: "Eu", Kind: City, Country: "FR", Admin1: "28", Lat: 50.0483, Lon: 1.42, Population: 8000},
}

func mustNew(t *testing.T, places []Place) *Gazetteer {
	t.Helper()
	g, err := New(places)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func loc(names ...string) []article.Entity {
	var out []article.Entity
	for _, n := range names {
		out = append(out, article.Entity{Name: n, Type: article.TypeLoc})
	}
	return out
}

// resolveAll resolves ents and returns the places by entity name.
func resolveAll(g *Gazetteer, ents []article.Entity) map[string]article.Place {
	out := map[string]article.Place{}
	for _, p := range g.Resolve(ents) {
		out[p.Entity] = p
	}
	return out
}

func TestResolveDisambiguates(t *testing.T) {
	g := mustNew(t, table)
	type want struct {
		name, country string
		lat           float64
	}
	cases := []struct {
		what string
		ents []string
		want map[string]want
	}{
		{"Paris on its own is the largest", []string{"Paris"},
			map[string]want{"Paris": {"Paris", "FR", 48.8534}}},
		{"Paris next to Texas is in Texas", []string{"Paris", "Texas"},
			map[string]want{"Paris": {"Paris", "US", 33.6609}, "Texas": {"Texas", "US", 31}}},
		{"a region the article names beats a country it names", []string{"France", "Paris", "Texas"},
			map[string]want{"Paris": {"Paris", "US", 33.6609}}},
		{"Paris next to France stays in France", []string{"Paris", "France", "United States"},
			map[string]want{"Paris": {"Paris", "FR", 48.8534}}},
		{"Hama on its own: the larger one", []string{"Hama"},
			map[string]want{"Hama": {"Hama City", "XX", 10}}},
		{"Hama in an article about Syria is Syria's", []string{"Syria", "Hama"},
			map[string]want{"Hama": {"Ḩamāh", "SY", 35.1318}, "Syria": {"Syria", "SY", 33.5102}}},
		{"a Syrian city is context too", []string{"Khan Sheikhoun", "Hama"},
			map[string]want{"Hama": {"Ḩamāh", "SY", 35.1318}}},
		{"a city beats the region of its name", []string{"New York"},
			map[string]want{"New York": {"New York City", "US", 40.7143}}},
		{"Georgia is the country", []string{"Georgia", "United States"},
			map[string]want{"Georgia": {"Georgia", "GE", 41.6914}}},
		{"unless the article places a city in the state", []string{"Atlanta", "Georgia"},
			map[string]want{"Georgia": {"Georgia", "US", 33.3156}, "Atlanta": {"Atlanta", "US", 33.749}}},
		{"a region word the table lacks; Hama beside it is the region too", []string{"Hama Province", "Hama"},
			map[string]want{"Hama Province": {"Hama", "SY", 35.148}, "Hama": {"Hama", "SY", 35.148}}},
		{"an old name of a small town is no match for the capital, even in its state", []string{"Washington", "Ohio"},
			map[string]want{"Washington": {"Washington", "US", 38.8951}}},
		{"a city is no hint for another city of its region", []string{"Washington", "London"},
			map[string]want{"Washington": {"Washington", "US", 38.8951}, "London": {"London", "GB", 51.5085}}},
		{"continents have no country", []string{"Europe"},
			map[string]want{"Europe": {"Europe", "", 48.69}}},
	}
	for _, c := range cases {
		got := resolveAll(g, loc(c.ents...))
		for ent, w := range c.want {
			p, ok := got[ent]
			if !ok {
				t.Errorf("%s: %q unresolved", c.what, ent)
				continue
			}
			if p.Name != w.name || p.Country != w.country || p.Lat != w.lat {
				t.Errorf("%s: %q resolved to %s (%s) at %v, want %s (%s) at %v", c.what, ent, p.Name, p.Country, p.Lat, w.name, w.country, w.lat)
			}
		}
	}
}

func TestResolveLeavesOutWhatIsNoPlace(t *testing.T) {
	g := mustNew(t, table)
	ents := []article.Entity{
		{Name: "Paris", Type: article.TypePerson}, // Paris Hilton
		{Name: "Atlantis", Type: article.TypeLoc},
		{Name: "Syria", Type: article.TypeLoc},
		{Name: "", Type: article.TypeLoc},
		{Name: " - . ", Type: article.TypeLoc},
		{Name: "US", Type: article.TypeLoc},
		{Name: "Ga.", Type: article.TypeLoc}, // Georgia as AP abbreviates it: left out, not the alternate "Ga"
	}
	got := g.Resolve(ents)
	if len(got) != 2 || got[0].Entity != "Syria" || got[1].Entity != "US" {
		t.Fatalf("got %+v, want Syria and US in the entities' order", got)
	}
	if got[1] != (article.Place{Entity: "US", Name: "United States", Kind: "country", Country: "US", Lat: 38.8951, Lon: -77.0364}) {
		t.Errorf("US: %+v", got[1])
	}
	if g.Resolve(nil) != nil || g.Resolve(loc("Atlantis")) != nil {
		t.Error("no places should be nil")
	}
}

// TestResolveIsCautious: a capitalised direction or sea ("the West", "the Gulf") is not the
// small region of that one-word name unless the article is about its country, and an acronym
// is not a town ("EU" is not Eu, in France, even in an article that names France).
func TestResolveIsCautious(t *testing.T) {
	g := mustNew(t, table)
	for _, c := range []struct {
		ents []string
		want []string // the entities resolved, in order
	}{
		{[]string{"West", "Iran"}, []string{"Iran"}},
		{[]string{"Gulf", "Iran"}, []string{"Iran"}},
		{[]string{"West"}, nil},
		{[]string{"West", "Cameroon"}, []string{"West", "Cameroon"}},
		{[]string{"EU"}, nil},
		{[]string{"EU", "France"}, []string{"France"}},
		{[]string{"Eu", "France"}, []string{"Eu", "France"}},
		{[]string{"US", "Hama"}, []string{"US", "Hama"}},
		{[]string{"Texas", "Iran"}, []string{"Texas", "Iran"}},
	} {
		var got []string
		for _, p := range g.Resolve(loc(c.ents...)) {
			got = append(got, p.Entity)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%q: resolved %q, want %q", c.ents, got, c.want)
		}
	}
}

func TestMatchKey(t *testing.T) {
	g := mustNew(t, table)
	for _, c := range []struct{ query, want string }{
		{"Khan Shaykhun", "Khān Shaykhūn"},
		{"KHAN SHAYKHUN", "Khān Shaykhūn"},
		{"Khān Shaykhūn", "Khān Shaykhūn"},
		{"Khan-Shaykhun", "Khān Shaykhūn"},
		{"Khan\u2013Sheikhoun", "Khān Shaykhūn"}, // en dash
		{"  khan   sheikhoun ", "Khān Shaykhūn"},
		{"Khan Shaykhu\u0304n", "Khān Shaykhūn"}, // a combining macron
		{"Hamah", "Ḩamāh"},
		{"Ḩamāh", "Ḩamāh"},
		{"HAMAH", "Ḩamāh"},
		{"U.S.", "United States"},
		{"u s", ""}, // dots go, spaces stay
		{"Ile de France", "Île-de-France"},
		{"île-de-france", "Île-de-France"},
	} {
		ps := g.Lookup(c.query)
		got := ""
		if len(ps) > 0 {
			got = ps[0].Name
		}
		if got != c.want {
			t.Errorf("Lookup(%q) = %v, want %q", c.query, ps, c.want)
		}
	}
}

func TestLoadReadsTheTableFormat(t *testing.T) {
	rows := "# comment\n" +
		"# kind\tname\talternates\tcc\tadmin1\tlat\tlon\tpopulation\n" +
		"city\tḨamāh\tHama|Hamah\tSY\t10\t35.1318\t36.7578\t460602\n" +
		"country\tSyria\t\tSY\t\t33.5102\t36.2913\t16906283\n" +
		"continent\tAsia\t\t\t\t29.8405\t89.2969\t3812366000\n"
	g, err := Load(bytes.NewReader(gz(t, rows)))
	if err != nil {
		t.Fatal(err)
	}
	if g.Len() != 3 {
		t.Fatalf("%d places, want 3", g.Len())
	}
	ps := g.Lookup("hama")
	if len(ps) != 1 || ps[0].Name != "Ḩamāh" || ps[0].Country != "SY" || ps[0].Admin1 != "10" ||
		ps[0].Lat != 35.1318 || ps[0].Lon != 36.7578 || ps[0].Population != 460602 || ps[0].Kind != City {
		t.Errorf("hama: %+v", ps)
	}
	if ps := g.Lookup("Asia"); len(ps) != 1 || ps[0].Population != 3812366000 || ps[0].Kind != Continent {
		t.Errorf("Asia: %+v", ps)
	}
	for _, bad := range []string{
		"city\tX\t\tSY\t10\t35\t36\n",              // 7 fields
		"town\tX\t\tSY\t10\t35\t36\t1\n",           // kind
		"city\tX\t\tSYR\t10\t35\t36\t1\n",          // country code
		"city\tX\t\tSY\t10\t95\t36\t1\n",           // latitude
		"city\tX\t\tSY\t10\t35\teast\t1\n",         // longitude
		"city\t\t\tSY\t10\t35\t36\t1\n",            // no name
		"city\tX\t\tSY\t10\t35\t36\t-1\n",          // population
		"city\tX\t\tSY\t10\t35\t36\t99999999999\n", // population over 32 bits
	} {
		if _, err := Load(bytes.NewReader(gz(t, bad))); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("%q: error %v, want one naming line 1", bad, err)
		}
	}
	if _, err := Load(bytes.NewReader([]byte("not gzip"))); err == nil {
		t.Error("not gzip: no error")
	}
}

func gz(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestEmbeddedTable loads the committed table and checks what geocoding relies on: every kind
// is there, the names of small places are there (Morek has 14,307 people), and the coordinates
// are the places' own.
func TestEmbeddedTable(t *testing.T) {
	g, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if g.Len() < 70000 {
		t.Errorf("%d places, want the 73,000 or so of cities5000 and above", g.Len())
	}
	kinds := map[Kind]int{}
	for i := range g.entries {
		kinds[g.entries[i].kind]++
	}
	if kinds[Country] < 200 || kinds[Region] < 3000 || kinds[City] < 60000 || kinds[Continent] != 7 {
		t.Errorf("kinds %v", kinds)
	}
	for _, c := range []struct {
		name, country string
		lat, lon      float64
	}{
		{"Morek", "SY", 35.38, 36.69},
		{"UK", "GB", 51.51, -0.13}, // countries are at their capital
		{"Khan Sheikhoun", "SY", 35.44, 36.65},
	} {
		var found bool
		for _, p := range g.Lookup(c.name) {
			if p.Country == c.country && km(p.Lat, p.Lon, c.lat, c.lon) < 5 {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no place in %s near %v,%v: %+v", c.name, c.country, c.lat, c.lon, g.Lookup(c.name))
		}
	}
}

// TestOwnNamesBeatAlternates checks, on the committed table, names that Reuters articles
// resolved wrongly while an alternate name counted as much as a place's own: each must resolve
// to the place of that name, in the right country.
func TestOwnNamesBeatAlternates(t *testing.T) {
	g, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, country string }{
		{"Venice", "IT"},  // was Dayton, Ohio (an alternate "Venice")
		{"Augusta", "US"}, // was Augsburg
		{"UK", "GB"},      // a country keeps its aliases
		{"America", "US"},
	} {
		got := g.Resolve(loc(c.name))
		if len(got) != 1 || got[0].Country != c.country {
			t.Errorf("%s: resolved to %+v, want a place in %s", c.name, got, c.country)
		}
	}
}

// km is the great-circle distance.
func km(lat1, lon1, lat2, lon2 float64) float64 {
	r := math.Pi / 180
	h := math.Pow(math.Sin((lat2-lat1)*r/2), 2) + math.Cos(lat1*r)*math.Cos(lat2*r)*math.Pow(math.Sin((lon2-lon1)*r/2), 2)
	return 6371 * 2 * math.Asin(math.Sqrt(h))
}

func BenchmarkLoad(b *testing.B) {
	for b.Loop() {
		if _, err := Load(bytes.NewReader(embeddedPlaces)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkResolve(b *testing.B) {
	g, err := Default()
	if err != nil {
		b.Fatal(err)
	}
	ents := loc("US", "UK", "Idlib", "Syria", "Khan Shaykhun", "Hama Province", "Damascus", "Hama",
		"Morek", "Ankara", "Iran", "Tehran", "United States", "Greece", "Afghanistan", "Russia", "China")
	for b.Loop() {
		g.Resolve(ents)
	}
}

// TestNewRefusesBadPlaces: a table with a place the gazetteer cannot hold is an error that
// names the place, not a silently wrong answer later.
func TestNewRefusesBadPlaces(t *testing.T) {
	for _, p := range []Place{
		{Kind: City, Country: "SY", Lat: 1, Lon: 1},               // no name
		{Name: "X", Kind: City, Country: "SYR", Lat: 1, Lon: 1},   // not alpha-2
		{Name: "X", Kind: City, Country: "SY", Lat: 91, Lon: 1},   // latitude
		{Name: "X", Kind: City, Country: "SY", Lat: 1, Lon: -181}, // longitude
		{Name: "X", Kind: City, Country: "SY", Lat: math.NaN()},   // no point
		{Name: "X", Kind: City, Population: -1},                   // population
	} {
		if _, err := New([]Place{p}); err == nil || !strings.Contains(err.Error(), `"`+p.Name+`"`) {
			t.Errorf("%+v: error %v, want one naming the place", p, err)
		}
	}
}

// TestBackgroundResolvesOnceLoaded: the lazy resolver enrich uses answers as the gazetteer does.
func TestBackgroundResolvesOnceLoaded(t *testing.T) {
	l := Background()
	got := l.Resolve(loc("Morek", "Hama Province"))
	g, err := l.Wait()
	if err != nil {
		t.Fatal(err)
	}
	want := g.Resolve(loc("Morek", "Hama Province"))
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] || got[0].Country != "SY" {
		t.Fatalf("Background: %+v, gazetteer: %+v", got, want)
	}
}

// TestSeatsResolveToTheirCity checks every seat against the committed table: each key must be
// a match key (appendKey leaves it as it is), and each must find its city (a renamed or dropped
// city would otherwise leave it out silently). The names below have a town of their own
// elsewhere, or come spelt in ways the key must fold.
func TestSeatsResolveToTheirCity(t *testing.T) {
	g, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	for key, s := range seats {
		if k := string(appendKey(nil, key)); k != key {
			t.Errorf("seat %q is no match key: appendKey makes it %q", key, k)
		}
		got := g.Resolve(loc(key))
		if len(got) != 1 || got[0].Name != s.city || got[0].Country != s.cc || got[0].Kind != City.String() {
			t.Errorf("%q: resolved to %+v, want the city %s in %s", key, got, s.city, s.cc)
		}
	}
	const washington, london, paris = "Washington", "London", "Paris"
	for _, c := range []struct {
		name, city string
		lat, lon   float64
	}{
		{"White House", washington, 38.90, -77.04}, // not White House, Tennessee
		{"THE WHITE HOUSE", washington, 38.90, -77.04},
		{"Pentagon", washington, 38.90, -77.04},
		{"Whitehall", london, 51.51, -0.13},   // not Whitehall, Ohio
		{"Westminster", london, 51.51, -0.13}, // not Westminster, Colorado
		{"10 Downing Street", london, 51.51, -0.13},
		{"The Kremlin", "Moscow", 55.75, 37.62},
		{"Élysée Palace", paris, 48.85, 2.35}, // not the 8th arrondissement
		{"Quai d’Orsay", paris, 48.85, 2.35},  // a typographic apostrophe
		{"Wall St.", "New York City", 40.71, -74.01},
	} {
		got := g.Resolve(loc(c.name))
		if len(got) != 1 || got[0].Name != c.city || km(got[0].Lat, got[0].Lon, c.lat, c.lon) > 15 {
			t.Errorf("%s: resolved to %+v, want %s, near %v,%v", c.name, got, c.city, c.lat, c.lon)
		}
	}
}

// TestSeatsAsContext: a seat of government places the article in its country, but it is not
// the article naming its city, which would make a region of that city win the city's own name;
// a market's street is no context at all.
func TestSeatsAsContext(t *testing.T) {
	g := mustNew(t, append(slices.Clip(table),
		Place{Name: "Moscow", Kind: City, Country: "RU", Admin1: "48", Lat: 55.7522, Lon: 37.6156, Population: 10381222},
		Place{Name: "Moscow", Kind: Region, Country: "RU", Admin1: "48", Lat: 55.76, Lon: 37.61, Population: 12000000},
		Place{Name: "Birmingham", Kind: City, Country: "GB", Admin1: "ENG", Lat: 52.4814, Lon: -1.8998, Population: 984333},
		Place{Name: "Birmingham", Kind: City, Country: "US", Admin1: "AL", Lat: 33.5207, Lon: -86.8025, Population: 200733},
	))
	for _, c := range []struct {
		names []string
		want  []string // each place's name and country
	}{
		{[]string{"Kremlin", "Moscow"}, []string{"Moscow RU city", "Moscow RU city"}},
		{[]string{"Wall Street", "New York"}, []string{"New York City US city", "New York City US city"}},
		{[]string{"White House", "Birmingham"}, []string{"Washington US city", "Birmingham US city"}},
		{[]string{"Downing Street", "Birmingham"}, []string{"London GB city", "Birmingham GB city"}},
		{[]string{"Wall Street", "Birmingham"}, []string{"New York City US city", "Birmingham GB city"}},
		{[]string{"White House", "Paris"}, []string{"Washington US city", "Paris FR city"}},
	} {
		var got []string
		for _, p := range g.Resolve(loc(c.names...)) {
			got = append(got, p.Name+" "+p.Country+" "+p.Kind)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%v: %v, want %v", c.names, got, c.want)
		}
	}
}
