package article

import (
	"bytes"
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"
)

// TestAppendJSONCoversEveryField fills every field of Article, whatever fields it has, and wants
// AppendJSON to write what Marshal writes: a field added to Article and not to AppendJSON fails
// here.
func TestAppendJSONCoversEveryField(t *testing.T) {
	var a Article
	v := reflect.ValueOf(&a).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Interface().(type) {
		case string:
			f.SetString(v.Type().Field(i).Name + " <&> \"\\\n\u2028\xff")
		case []string:
			f.Set(reflect.ValueOf([]string{"a", "b\tc"}))
		case time.Time:
			f.Set(reflect.ValueOf(time.Date(2019, 8, 21, 8, 0, i, 123456789, time.FixedZone("x", 5400))))
		default:
			t.Fatalf("field %s of type %s: teach AppendJSON and this test", v.Type().Field(i).Name, f.Type())
		}
	}
	same(t, &a)
	same(t, &Article{ID: "only the required ones"})
	same(t, &Article{ID: "x", Authors: []string{}})
}

func same(t *testing.T, a *Article) {
	t.Helper()
	want, werr := marshalReflect(a)
	got, gerr := AppendJSON(nil, a)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("Marshal error %v, AppendJSON error %v for %+v", werr, gerr, a)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("AppendJSON wrote\n%s\nMarshal wrote\n%s", got, want)
	}
}

// FuzzAppendJSON holds AppendJSON to Marshal's bytes for any text (escapes, control characters,
// invalid UTF-8, U+2028) and any time (zones, years outside 0–9999 fail in both).
func FuzzAppendJSON(f *testing.F) {
	f.Add("id", "bbc", "https://example.com/a?b=1&c=2", "Title <b>", "Body \"quoted\" \\ \x00\x1f\x7f\u2028\u2029\xff\xfe", "Jane", "en", int64(1566374400), int64(5), 3600)
	f.Add("", "", "", "", "", "", "", int64(0), int64(0), 0)
	f.Add("x", "s", "u", "t", "b", "", "", int64(-62135596801), int64(253402300800), 86399)
	f.Fuzz(func(t *testing.T, id, source, url, title, body, author, lang string, pub, ingested int64, zone int) {
		a := Article{ID: id, Source: source, URL: url, Title: title, Body: body, Language: lang}
		if author != "" {
			a.Authors = []string{author, body}
		}
		loc := time.FixedZone("z", zone%(48*3600))
		if pub != 0 {
			a.PublishedAt = time.Unix(pub, ingested%1e9).In(loc)
		}
		if ingested != 0 {
			a.IngestedAt = time.Unix(ingested, 0).UTC()
		}
		same(t, &a)
	})
}

// fill sets every field reachable from v (structs, pointers, slices of two elements) to a
// non-zero value that needs escaping where it is text; seed varies the values.
func fill(t *testing.T, v reflect.Value, seed int) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d <&> \"\\\n\u2028\xff", seed))
	case reflect.Int:
		v.SetInt(int64(seed*7 - 3))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Float64:
		v.SetFloat(float64(seed)*1.25e-7 - 33.5)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(t, v.Elem(), seed+1)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range 2 {
			fill(t, v.Index(i), seed*3+i)
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Date(2019, 8, 21, 8, 0, seed%60, 123456789, time.FixedZone("x", 5400))))
			return
		}
		for i := range v.NumField() {
			fill(t, v.Field(i), seed*5+i)
		}
	default:
		t.Fatalf("a field of kind %s: teach AppendEnrichedJSON and this test", v.Kind())
	}
}

// TestAppendEnrichedJSONCoversEveryField fills every field reachable from Enriched, whatever
// fields its types have, and wants AppendEnrichedJSON to write what encoding/json writes.
func TestAppendEnrichedJSONCoversEveryField(t *testing.T) {
	var e Enriched
	fill(t, reflect.ValueOf(&e).Elem(), 1)
	sameEnriched(t, &e)
	sameEnriched(t, &Enriched{Article: Article{ID: "bare"}})
	sameEnriched(t, &Enriched{Article: Article{ID: "empty"}, Entities: []Entity{{Name: "x"}}, Dates: []DateMention{},
		Places: []Place{{Lat: 1e-7, Lon: 1e21}, {Lat: -0.000001, Lon: 0}}, Similarity: &Similarity{}})
	if _, err := AppendEnrichedJSON(nil, &Enriched{Places: []Place{{Lat: math.NaN()}}}); err == nil {
		t.Error("NaN latitude encoded without an error")
	}
}

func sameEnriched(t *testing.T, e *Enriched) {
	t.Helper()
	want, werr := marshalReflect(e)
	got, gerr := AppendEnrichedJSON(nil, e)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("encoding/json error %v, AppendEnrichedJSON error %v for %+v", werr, gerr, e)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("AppendEnrichedJSON wrote\n%s\nencoding/json wrote\n%s", got, want)
	}
	if m, err := Marshal(*e); werr == nil && (err != nil || !bytes.Equal(m, want)) {
		t.Fatalf("Marshal(Enriched) wrote\n%s (%v)\nwant\n%s", m, err, want)
	}
}

// FuzzAppendEnrichedJSON holds AppendEnrichedJSON to encoding/json's bytes for any text,
// numbers and coordinates (NaN and the infinities fail in both).
func FuzzAppendEnrichedJSON(f *testing.F) {
	f.Add("Idlib", "LOC", "body", 3, 8, "yesterday", "2019-08-20", true, 35.93, 36.63, "sig", "b1", "")
	f.Add("", "", "", 0, 0, "", "", false, 0.0, -0.0, "", "", "note <&>")
	f.Add("\xff", "\u2028", "\x00", -1, 1<<40, "", "\"", false, 1e-7, 1e21, "", "", "")
	f.Fuzz(func(t *testing.T, name, typ, field string, start, end int, text, value string, rel bool, lat, lon float64, sig, band, note string) {
		e := Enriched{Article: Article{ID: name, Title: text, Body: note}, EnrichmentVersion: typ, EnrichmentNote: note,
			Entities: []Entity{{Name: name, Type: typ, Mentions: []Mention{{Field: field, Start: start, End: end}}}, {Name: text}},
			Dates:    []DateMention{{Text: text, Field: field, Start: start, End: end, Value: value, Granularity: typ, GTE: value, Relative: rel}},
			Places:   []Place{{Entity: name, Name: text, Kind: typ, Country: field, Lat: lat, Lon: lon}}}
		if sig != "" {
			e.Similarity = &Similarity{Signature: sig, NearBands: []string{band}, StoryBands: []string{band, sig}}
		}
		sameEnriched(t, &e)
	})
}
