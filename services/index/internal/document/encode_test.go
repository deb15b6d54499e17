package document

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// sameDocument wants AppendJSON to fail where json.Marshal fails and otherwise to write valid
// JSON that encoding/json decodes to exactly what it decodes from json.Marshal's bytes.
func sameDocument(t *testing.T, d *Document) {
	t.Helper()
	want, werr := json.Marshal(d)
	got, gerr := d.AppendJSON(nil)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("json.Marshal error %v, AppendJSON error %v for %+v", werr, gerr, d)
	}
	if werr != nil {
		return
	}
	if !json.Valid(got) {
		t.Fatalf("AppendJSON wrote invalid JSON:\n%s", got)
	}
	var fromWant, fromGot Document
	if err := json.Unmarshal(want, &fromWant); err != nil {
		t.Fatalf("decoding json.Marshal's %s: %v", want, err)
	}
	if err := json.Unmarshal(got, &fromGot); err != nil {
		t.Fatalf("decoding AppendJSON's %s: %v", got, err)
	}
	if !reflect.DeepEqual(fromGot, fromWant) {
		t.Fatalf("AppendJSON wrote\n%s\njson.Marshal wrote\n%s\ndecoded: %+v\nwant     %+v", got, want, fromGot, fromWant)
	}
}

// fill sets every field under v, whatever fields Document has: a field of a type it does not
// know fails the test, so that a field added to Document is added to AppendJSON and here.
func fill(t *testing.T, v reflect.Value, name string, n *int) {
	t.Helper()
	*n++
	switch v.Interface().(type) {
	case string:
		v.SetString(name + " <&> \"\\\n\x01\u2028\u2029\xff é")
		return
	case []string:
		v.Set(reflect.ValueOf([]string{name, "b\tc", ""}))
		return
	case time.Time:
		v.Set(reflect.ValueOf(time.Date(2019, 8, 21, 8, 0, *n, 123456789, time.FixedZone("x", 5400))))
		return
	case *time.Time:
		tm := time.Date(1987, 3, 2, 10, 0, *n, 5000, time.UTC)
		v.Set(reflect.ValueOf(&tm))
		return
	case float64:
		v.SetFloat(-35.1318 + float64(*n)/7) // not a short decimal
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			fill(t, v.Field(i), name+"."+v.Type().Field(i).Name, n)
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() != reflect.Struct {
			t.Fatalf("field %s of type %s: teach AppendJSON and this test", name, v.Type())
		}
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range v.Len() {
			fill(t, v.Index(i), name, n)
		}
	default:
		t.Fatalf("field %s of type %s: teach AppendJSON and this test", name, v.Type())
	}
}

// TestAppendJSONCoversEveryField fills every field of Document and wants AppendJSON to agree
// with json.Marshal; then the omitempty cases one by one.
func TestAppendJSONCoversEveryField(t *testing.T) {
	var d Document
	var n int
	fill(t, reflect.ValueOf(&d).Elem(), "Document", &n)
	sameDocument(t, &d)

	// Each field left out in turn: omitempty and the commas around what is left.
	v := reflect.ValueOf(&d).Elem()
	for i := range v.NumField() {
		c := d
		cv := reflect.ValueOf(&c).Elem()
		cv.Field(i).SetZero()
		sameDocument(t, &c)
		if cv.Field(i).Kind() == reflect.Slice {
			cv.Field(i).Set(reflect.MakeSlice(cv.Field(i).Type(), 0, 0)) // empty, not nil
			sameDocument(t, &c)
		}
	}
	for _, e := range []Entities{
		{}, {Person: []string{}}, {Misc: []string{"m"}}, {Org: []string{"o"}, Loc: []string{"l"}},
	} {
		c := d
		c.Entities = e
		sameDocument(t, &c)
	}
	for _, r := range []DateRange{{}, {GTE: "1987-03-02"}, {LTE: "1987-03-02"}} {
		c := d
		c.DateMentions = []DateRange{r, r}
		sameDocument(t, &c)
	}
	// Places with members left out, and points in every form a float64 takes in JSON.
	for _, p := range []Place{
		{}, {Name: "Ḩamāh"}, {Country: "SY"}, {Kind: "city"}, {Name: "Hama", Kind: "region"},
		{Location: GeoPoint{Lat: 35.1318, Lon: 36.7578}}, {Location: GeoPoint{Lat: -90, Lon: 180}},
		{Location: GeoPoint{Lat: 1e-7, Lon: -1.5e-9}}, {Location: GeoPoint{Lat: 1e21, Lon: 5e-324}},
		{Location: GeoPoint{Lat: math.Copysign(0, -1), Lon: 123456789012345678}},
	} {
		c := d
		c.Places = []Place{p, p}
		sameDocument(t, &c)
	}
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		c := d
		c.Places = []Place{{Name: "x", Location: GeoPoint{Lat: 1, Lon: bad}}}
		sameDocument(t, &c) // json.Marshal fails: AppendJSON must too
		c.Places = []Place{{Location: GeoPoint{Lat: bad}}}
		sameDocument(t, &c)
	}

	zero := time.Time{}
	sameDocument(t, &Document{})
	sameDocument(t, &Document{ID: "x", IngestedAt: &zero, EnrichedAt: &zero}) // a zero time is not omitted
	sameDocument(t, &Document{ID: "x", Authors: []string{}, DateValues: []string{}, DateMentions: []DateRange{}})
}

// TestAppendJSONRefusesYearsJSONCannotHold: a year outside 0–9999 is an error, as in
// json.Marshal, in every time field; the error names the field.
func TestAppendJSONRefusesYearsJSONCannotHold(t *testing.T) {
	far := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	before := time.Date(-1, 12, 31, 0, 0, 0, 0, time.UTC)
	ok := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		field string
		doc   Document
	}{
		{"published_at", Document{PublishedAt: far, IndexedAt: ok}},
		{"ingested_at", Document{PublishedAt: ok, IngestedAt: &before, IndexedAt: ok}},
		{"enriched_at", Document{PublishedAt: ok, EnrichedAt: &far, IndexedAt: ok}},
		{"indexed_at", Document{PublishedAt: ok, IndexedAt: before}},
	} {
		if _, err := json.Marshal(&tc.doc); err == nil {
			t.Fatalf("%s: json.Marshal took it", tc.field)
		}
		_, err := tc.doc.AppendJSON(nil)
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Fatalf("%s: AppendJSON error %v", tc.field, err)
		}
	}
}

// FuzzAppendJSON holds AppendJSON to json.Marshal for any text (escapes, control characters,
// invalid UTF-8, U+2028), any time (zones, years outside 0–9999 fail in both) and any mix of
// nil, empty and filled slices and pointers.
func FuzzAppendJSON(f *testing.F) {
	f.Add("id", "Title <b>", "Body \"quoted\" \\ \x00\x1f\x7f\u2028\u2029\xff\xfe", "Fed", "1987-03-02", "", int64(1566374400), int64(5), 3600, uint16(0xffff))
	f.Add("", "", "", "", "", "", int64(0), int64(0), 0, uint16(0))
	f.Add("x", "t", "b", "caf\xe9", "", "1987", int64(-62135596801), int64(253402300800), 86399, uint16(0x5555))
	f.Fuzz(func(t *testing.T, id, title, body, name, gte, lte string, sec, nsec int64, zone int, mask uint16) {
		// Longer text finds nothing shorter text does not (pkg/article fuzzes the string
		// encoder itself), and minimizing ten long arguments stalled the fuzzer for a minute.
		const most = 200
		if len(id) > most || len(title) > most || len(body) > most || len(name) > most || len(gte) > most || len(lte) > most {
			t.Skip("text longer than", most, "bytes")
		}
		loc := time.FixedZone("z", zone%(48*3600))
		tm := time.Unix(sec, nsec%1e9).In(loc)
		tm2 := time.Unix(nsec, sec%1e9).UTC()
		// Each bit of mask picks nil, empty or filled for one field.
		list := func(bit uint, ss ...string) []string {
			switch {
			case mask&(1<<bit) == 0:
				return nil
			case mask&(1<<(bit+8)) == 0:
				return []string{}
			}
			return ss
		}
		d := Document{
			ID: id, Source: name, URL: lte, Title: title, Body: body, Language: gte,
			Authors:     list(0, name, body),
			PublishedAt: tm, IndexedAt: tm2,
			EnrichmentVersion: gte, EnrichmentNote: title,
			Entities: Entities{
				Person: list(1, name), Org: list(2, title, name), Loc: list(3, gte), Misc: list(4, lte, id),
			},
			DateValues: list(5, gte, lte),
		}
		if mask&(1<<6) != 0 {
			d.IngestedAt = &tm2
		}
		if mask&(1<<14) != 0 {
			d.EnrichedAt = &tm
		}
		// Places nil, empty or two (mask has no bits left: the zone picks), at points from the
		// bits of the times: any float64, NaN and the infinities included.
		if pick := (zone%3 + 3) % 3; pick > 0 {
			d.Places = []Place{}
			for i := range 2 * (pick - 1) {
				d.Places = append(d.Places, Place{Name: []string{name, title}[i], Country: gte, Kind: lte,
					Location: GeoPoint{Lat: math.Float64frombits(uint64(sec) + uint64(i)), Lon: float64(nsec) / 1e7}})
			}
		}
		if ranges := list(7, gte, lte); ranges != nil {
			d.DateMentions = []DateRange{}
			for i := range ranges {
				d.DateMentions = append(d.DateMentions, DateRange{GTE: ranges[i], LTE: ranges[len(ranges)-1-i]})
			}
		}
		sameDocument(t, &d)
	})
}

// reutersDocument is a document as a Reuters article makes one: a 2 KB body, a few entities of
// each type, a few dates.
func reutersDocument() Document {
	body := strings.Repeat("The Federal Reserve said on Monday it would add reserves to the banking system "+
		"through customer repurchase agreements, a spokesman said. \"We expect the funds rate to ease\", "+
		"dealers said; Fed funds were trading at 6-1/8 pct & economists at Salomon Brothers Inc <SB> said.\n", 8)[:2048]
	ingested := time.Date(2026, 12, 1, 10, 0, 0, 123456789, time.UTC)
	enriched := ingested.Add(850 * time.Millisecond)
	return Document{
		ID:                "5f2b9c0e8d1a4e7b9c3d2f1a0b8e7d6c",
		Source:            "reuters",
		URL:               "http://reuters.example/1987/03/02/fed-adds-reserves-via-customer-repurchases",
		Title:             "FED ADDS RESERVES VIA CUSTOMER REPURCHASES",
		Body:              body,
		Authors:           []string{"Reuters"},
		Language:          "en",
		PublishedAt:       time.Date(1987, 3, 2, 15, 37, 12, 0, time.UTC),
		IngestedAt:        &ingested,
		EnrichedAt:        &enriched,
		IndexedAt:         enriched.Add(90 * time.Millisecond),
		EnrichmentVersion: "ner-2",
		Entities: Entities{
			Person: []string{"Paul Volcker", "James Baker", "Alan Greenspan"},
			Org:    []string{"Federal Reserve", "Salomon Brothers Inc", "Fed", "Treasury"},
			Loc:    []string{"New York", "Washington", "U.S."},
			Misc:   []string{"American", "Fed funds"},
		},
		DateMentions: []DateRange{
			{GTE: "1987-03-02", LTE: "1987-03-02"},
			{GTE: "1987-03-01", LTE: "1987-03-31"},
			{GTE: "1987-02-27", LTE: "1987-02-27"},
		},
		DateValues: []string{"1987-03-02", "1987-03", "1987-02-27"},
	}
}

// BenchmarkEncode compares json.Marshal (what prepare used) with AppendJSON on a Reuters-sized
// document, each encoding into a fresh buffer as prepare does.
func BenchmarkEncode(b *testing.B) {
	d := reutersDocument()
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(&d); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("AppendJSON", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := d.AppendJSON(nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestReutersDocumentAgrees keeps the benchmark's document honest: both encoders agree on it.
// And sizeHint covers its encoding, so that AppendJSON(nil) allocates once (the length, not
// testing.AllocsPerRun, which counts differently under -race).
func TestReutersDocumentAgrees(t *testing.T) {
	d := reutersDocument()
	sameDocument(t, &d)
	b, err := d.AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > d.sizeHint() {
		t.Fatalf("AppendJSON wrote %d bytes, more than sizeHint's %d: it grew the buffer again", len(b), d.sizeHint())
	}
}
