package article

import (
	"bytes"
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
	want, werr := Marshal(a)
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

// TestPlain8 tries every byte value at every position of an otherwise plain word: the word test
// must flag exactly the bytes AppendString escapes or decodes as UTF-8.
func TestPlain8(t *testing.T) {
	for pos := range 8 {
		for c := range 256 {
			w := []byte("abcdefgh")
			w[pos] = byte(c)
			special := c < 0x20 || c == '"' || c == '\\' || c >= 0x80
			if got := plain8(string(w)); got == special {
				t.Fatalf("plain8(%q) = %v", w, got)
			}
		}
	}
}
