package app

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/newsflow/newsflow/pkg/article"
	"github.com/newsflow/newsflow/pkg/testenv"
)

// seedPlaces are the places of the seed article issue 17 names, with the real place's
// coordinates (approximate WGS84, from public reference, not from the gazetteer) or, for a
// country, its bounding box: a country's point in the data is its capital (see article.Place),
// so the test asks that the point lies inside the country, not near a centroid.
var seedPlaces = []struct {
	entity, country string
	lat, lon        float64    // a town or city: within 50 km of this
	box             [4]float64 // a country: min lat, max lat, min lon, max lon
}{
	{entity: "Idlib", country: "SY", lat: 35.93, lon: 36.63},
	{entity: "Khan Shaykhun", country: "SY", lat: 35.44, lon: 36.65},
	{entity: "Hama", country: "SY", lat: 35.13, lon: 36.75},
	{entity: "Morek", country: "SY", lat: 35.38, lon: 36.69},
	{entity: "Damascus", country: "SY", lat: 33.51, lon: 36.29},
	{entity: "Ankara", country: "TR", lat: 39.93, lon: 32.86},
	{entity: "Tehran", country: "IR", lat: 35.69, lon: 51.39},
	{entity: "Greece", country: "GR", box: [4]float64{34.8, 41.8, 19.3, 29.7}},
	{entity: "Afghanistan", country: "AF", box: [4]float64{29.3, 38.5, 60.5, 74.9}},
	{entity: "Russia", country: "RU", box: [4]float64{41.2, 81.9, 19.6, 180}},
	{entity: "China", country: "CN", box: [4]float64{18.1, 53.6, 73.5, 134.8}},
}

// TestExtractSeedPlaces runs `enrich extract` on the seed article and checks that each place
// issue 17 names is resolved to the right country and point.
func TestExtractSeedPlaces(t *testing.T) {
	seed := filepath.Join(testenv.DataDir(t), "seed", "imperialism-hits-the-rocks.txt")
	out, stderr, err := runCLI(t, "", "extract", "--published-at", "2019-08-21", seed)
	if err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	got := decodeLines(t, out)
	if len(got) != 1 {
		t.Fatalf("%d articles out, want 1", len(got))
	}
	e := got[0]
	places := map[string]article.Place{}
	for _, p := range e.Places {
		places[p.Entity] = p
	}
	for _, w := range seedPlaces {
		p, ok := places[w.entity]
		if !ok {
			t.Errorf("%s: not resolved (places %+v)", w.entity, e.Places)
			continue
		}
		if p.Country != w.country {
			t.Errorf("%s: resolved to %s in %s, want a place in %s", w.entity, p.Name, p.Country, w.country)
		}
		if w.box != ([4]float64{}) {
			if p.Kind != "country" || p.Lat < w.box[0] || p.Lat > w.box[1] || p.Lon < w.box[2] || p.Lon > w.box[3] {
				t.Errorf("%s: %s %s at %v,%v, want a country inside %v", w.entity, p.Kind, p.Name, p.Lat, p.Lon, w.box)
			}
			t.Logf("%s -> %s (%s, %s) at %.4f,%.4f", w.entity, p.Name, p.Country, p.Kind, p.Lat, p.Lon)
			continue
		}
		d := kmBetween(p.Lat, p.Lon, w.lat, w.lon)
		if d > 50 {
			t.Errorf("%s: %s at %v,%v is %.0f km from the real place (%v,%v)", w.entity, p.Name, p.Lat, p.Lon, d, w.lat, w.lon)
		}
		t.Logf("%s -> %s (%s, %s) at %.4f,%.4f, %.1f km from the real place", w.entity, p.Name, p.Country, p.Kind, p.Lat, p.Lon, d)
	}
	// Every place is one of the article's LOC entities.
	locs := map[string]bool{}
	for _, en := range e.Entities {
		if en.Type == article.TypeLoc {
			locs[en.Name] = true
		}
	}
	for _, p := range e.Places {
		if !locs[p.Entity] {
			t.Errorf("place %+v is not of a LOC entity", p)
		}
	}
}

// kmBetween is the great-circle distance.
func kmBetween(lat1, lon1, lat2, lon2 float64) float64 {
	r := math.Pi / 180
	h := math.Pow(math.Sin((lat2-lat1)*r/2), 2) + math.Cos(lat1*r)*math.Cos(lat2*r)*math.Pow(math.Sin((lon2-lon1)*r/2), 2)
	return 6371 * 2 * math.Asin(math.Sqrt(h))
}
