package decode

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/newsflow/newsflow/pkg/articleio"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name     string
		f        articleio.Format
		in       string
		max      int
		want     int    // items
		wantErr  string // request-level error substring
		itemErr  string // Code of item 0's error ("" = none)
		errField string
		title    string // title of item 0
	}{
		{name: "one object", f: articleio.FormatJSON, in: `{"title":"T","body":"B"}`, want: 1, title: "T"},
		{name: "array", f: articleio.FormatJSON, in: `[{"title":"a","body":"b"},{"title":"c","body":"d"}]`, want: 2, title: "a"},
		{name: "empty array", f: articleio.FormatJSON, in: `[]`, want: 0},
		{name: "BOM", f: articleio.FormatJSON, in: "\uFEFF{\"title\":\"T\"}", want: 1, title: "T"},
		{name: "empty", f: articleio.FormatJSON, in: "  ", wantErr: "empty input"},
		{name: "truncated array", f: articleio.FormatJSON, in: `[{"title":"a"},{"tit`, wantErr: "malformed JSON"},
		{name: "trailing garbage after array", f: articleio.FormatJSON, in: `[{"title":"a"}] x`, wantErr: "malformed"},
		{name: "malformed object", f: articleio.FormatJSON, in: `{"title":`, want: 1, itemErr: CodeMalformed},
		{name: "number not object", f: articleio.FormatJSON, in: `[1]`, want: 1, itemErr: CodeMalformed},
		{name: "null item", f: articleio.FormatJSON, in: `[null]`, want: 1, itemErr: CodeMalformed},
		{name: "title a number", f: articleio.FormatJSON, in: `{"title":5,"body":"b"}`, want: 1, itemErr: CodeType, errField: "title"},
		{name: "body an object", f: articleio.FormatJSON, in: `{"title":"t","body":{}}`, want: 1, itemErr: CodeType, errField: "body"},
		{name: "authors a number", f: articleio.FormatJSON, in: `{"title":"t","authors":3}`, want: 1, itemErr: CodeType, errField: "authors"},
		{name: "authors one string", f: articleio.FormatJSON, in: `{"title":"t","authors":"Ann"}`, want: 1, title: "t"},
		{name: "null fields are absent", f: articleio.FormatJSON, in: `{"title":null,"url":null}`, want: 1},
		{name: "invalid utf8 in title", f: articleio.FormatJSON, in: "{\"title\":\"a\xff\",\"body\":\"b\"}", want: 1, itemErr: CodeUTF8, errField: "title"},
		{name: "too many in array", f: articleio.FormatJSON, in: `[{},{},{}]`, max: 2, wantErr: "too many items"},
		{name: "ndjson", f: articleio.FormatJSONLines, in: "{\"title\":\"a\"}\n\n{\"title\":\"b\"}\r\n", want: 2, title: "a"},
		{name: "ndjson bad line", f: articleio.FormatJSONLines, in: "nope\n{\"title\":\"b\"}", want: 2, itemErr: CodeMalformed},
		{name: "ndjson too many", f: articleio.FormatJSONLines, in: "{}\n{}\n{}\n", max: 2, wantErr: "too many items"},
		{name: "text", f: articleio.FormatText, in: "Title\r\n\r\n\nBody line 1\n\nline 2\n", want: 1, title: "Title"},
		{name: "text invalid utf8", f: articleio.FormatText, in: "T\n\xc3\x28", want: 1, itemErr: CodeUTF8, errField: "body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items, err := Decode(tt.f, []byte(tt.in), TextMeta{}, tt.max)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if len(items) != tt.want {
				t.Fatalf("%d items, want %d", len(items), tt.want)
			}
			if tt.want == 0 {
				return
			}
			it := items[0]
			if tt.itemErr == "" && it.Err != nil {
				t.Fatalf("item error %v, want none", it.Err)
			}
			if tt.itemErr != "" && (it.Err == nil || it.Err.Code != tt.itemErr || it.Err.Field != tt.errField) {
				t.Fatalf("item error %+v, want code %q field %q", it.Err, tt.itemErr, tt.errField)
			}
			if tt.title != "" && it.Raw.Title != tt.title {
				t.Fatalf("title %q, want %q", it.Raw.Title, tt.title)
			}
		})
	}
}

func TestDecodeLines(t *testing.T) {
	in := "[\n  {\"title\":\"a\"},\n\n  {\"title\":\"b\"}\n]"
	items, err := Decode(articleio.FormatJSON, []byte(in), TextMeta{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if items[0].Line != 2 || items[1].Line != 4 {
		t.Fatalf("lines %d, %d; want 2, 4", items[0].Line, items[1].Line)
	}
	items, _ = Decode(articleio.FormatJSONLines, []byte("\n{\"title\":\"a\"}\n\n{\"title\":\"b\"}"), TextMeta{}, 0)
	if items[0].Line != 2 || items[1].Line != 4 || items[1].Index != 1 {
		t.Fatalf("ndjson lines %+v", items)
	}
	_, err = Decode(articleio.FormatJSON, []byte("[\n{\"title\":\"a\"},\n{\"ti"), TextMeta{}, 0)
	var me *MalformedError
	if !errors.As(err, &me) || me.Line != 3 {
		t.Fatalf("err %v, want a MalformedError on line 3", err)
	}
}

func TestDecodeTextKeepsBody(t *testing.T) {
	body := "First  paragraph,\twith ‘quotes’ – and dashes.\n\n\nSecond.\n  "
	items, _ := Decode(articleio.FormatText, []byte("The title \n\n"+body), TextMeta{Source: "s", URL: "u", PublishedAt: "p"}, 0)
	r := items[0].Raw
	if r.Title != "The title " || r.Body != body || r.Source != "s" || r.URL != "u" || r.PublishedAt != "p" {
		t.Fatalf("got %+v", r)
	}
}

// FuzzDecode feeds arbitrary bytes to every format: Decode must never panic, and whatever it
// returns must be well-formed (valid UTF-8 strings, an error or a reason for every rejection).
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"title":"t","body":"b"}`, `[{"title":"a","body":"b","authors":["x"]},{}]`,
		"{\"title\":\"a\"}\n{\"body\":1}\n", "Title\n\nBody", "[1,null,\"x\",{\"title\":{}}]", "\xff\xfe", "[", "{\"authors\":\"a\"}"} {
		f.Add([]byte(s), uint8(0))
		f.Add([]byte(s), uint8(1))
		f.Add([]byte(s), uint8(2))
	}
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		format := []articleio.Format{articleio.FormatJSON, articleio.FormatJSONLines, articleio.FormatText}[int(which)%3]
		items, err := Decode(format, data, TextMeta{}, 1000)
		if err != nil {
			if items != nil {
				t.Fatalf("items and error together")
			}
			return
		}
		for _, it := range items {
			if it.Err != nil {
				if it.Err.Code == "" || it.Err.Reason == "" {
					t.Fatalf("rejection without code or reason: %+v", it.Err)
				}
				continue
			}
			for _, s := range append([]string{it.Raw.Title, it.Raw.Body, it.Raw.Source, it.Raw.URL, it.Raw.PublishedAt, it.Raw.Language}, it.Raw.Authors...) {
				if !utf8.ValidString(s) {
					t.Fatalf("accepted invalid UTF-8 %q", s)
				}
			}
			if it.Line < 1 {
				t.Fatalf("line %d", it.Line)
			}
		}
	})
}

// TestFastPathAgreesWithFieldByField: the one-pass decoder gives exactly what the field-by-field
// decoder gives for good items, and declines what it cannot decide the same way.
func TestFastPathAgreesWithFieldByField(t *testing.T) {
	for _, in := range []string{
		`{"title":"T","body":"B\nC \"q\" \u00e9","source":"s","url":"https://x.test/a","language":"en","published_at":"2019-08-21","authors":["A","B"]}`,
		`{"title":"T","body":"B","authors":"Only One"}`,
		`{"title":"T","body":"B","authors":null,"source":null,"extra":{"x":[1,{"title":"nested"}]},"Other":"x"}`,
		` {"body":"é", "title" : "t" } `,
	} {
		fast, ok := decodeObjectFast([]byte(in))
		if !ok {
			t.Fatalf("fast path declined a good item: %s", in)
		}
		slow, ferr := decodeObjectFieldByField([]byte(in))
		if ferr != nil || !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%s: fast %+v, field by field %+v (%v)", in, fast, slow, ferr)
		}
	}
	for _, in := range []string{`{"title":5}`, "{\"title\":\"caf\xe9\"}", `["x"]`, `null`, `{"authors":{"a":1}}`, `{"title":"x"`,
		`{"Title":"x","body":"b"}`, `{"title":"x","title":null}`, `{"\u0074itle":"x"}`} {
		if _, ok := decodeObjectFast([]byte(in)); ok {
			t.Errorf("fast path accepted %q", in)
		}
	}
}

// TestFastPathTakesWhatClientsSend: the hand-written fast path takes the shapes real clients
// send (escapes of every kind, UTF-16 pairs as Python's json.dumps writes them, numbers, booleans
// and nesting in fields ingest ignores, an empty authors list) and agrees with the field-by-field
// decoder on them; it refuses what is not JSON, as the field-by-field decoder does, and declines
// what it leaves to it (a lone surrogate, invalid UTF-8 in an ignored field, deep nesting).
func TestFastPathTakesWhatClientsSend(t *testing.T) {
	deep := strings.Repeat(`[`, 100) + strings.Repeat(`]`, 100)
	for _, in := range []string{
		`{"title":"Caf\u00e9 \ud83d\ude00 \/ \b\f\n\r\t \\ \"","body":"b\u0000c"}`,
		`{"id":"x","score":-0.5e+10,"n":0,"big":123456789012345678901234567890,"ok":true,"no":false,"x":null,"title":"t","body":"b"}`,
		`{"title":"t","body":"b","authors":[],"tags":["a",{"b":[1,2,[]]},{}]}`,
		`{"title":"t","authors":[ "A" , "B\n" ]}`,
		"{\"title\":\"  \u2028 ü\"}",
		`{}`,
		`{"a":` + strings.Repeat(`[`, 40) + strings.Repeat(`]`, 40) + `,"title":"t"}`,
	} {
		fast, ok := decodeObjectFast([]byte(in))
		if !ok {
			t.Fatalf("fast path declined a good item: %s", in)
		}
		slow, ferr := decodeObjectFieldByField([]byte(in))
		if ferr != nil || !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%s: fast %+v, field by field %+v (%v)", in, fast, slow, ferr)
		}
	}
	for _, in := range []string{`{"title":"t",}`, `{"x":01,"title":"t"}`, `{"x":-,"title":"t"}`, `{"x":1.,"title":"t"}`,
		`{"x":1e,"title":"t"}`, `{"x":.5}`, `{"x":+1}`, `{"x":tru}`, `{"x":nul}`, `{"x":[1,]}`, `{"x":{"a"}}`, `{"x":{"a":1,}}`,
		"{\"title\":\"a\x01b\"}", `{"title":"\x"}`, `{"title":"\u12g4"}`, `{"title":"t"}x`, `{"title":"t"}{}`, `{"title" "t"}`,
		`{title:"t"}`, `{"title":'t'}`, `{"title":"t"`, `{"title":"t`, "{\"title\":\"t\"}\v", `{,}`, `{"a":1 "b":2}`} {
		if _, ok := decodeObjectFast([]byte(in)); ok {
			t.Errorf("fast path accepted %q, which is not JSON", in)
		}
		if _, ferr := decodeObjectFieldByField([]byte(in)); ferr == nil || ferr.Code != CodeMalformed {
			t.Errorf("field by field took %q: %v", in, ferr)
		}
	}
	for _, in := range []string{`{"title":"\ud83d"}`, `{"title":"\ude00\ud83d"}`, `{"title":"\ud83d\u0041"}`,
		"{\"x\":\"\xff\",\"title\":\"t\"}", `{"x":` + deep + `,"title":"t"}`, `{"ti\u0074le":"t"}`, `{"authors":["a",null]}`} {
		if _, ok := decodeObjectFast([]byte(in)); ok {
			t.Errorf("fast path accepted %q, which it should leave to the field-by-field decoder", in)
		}
		if _, ferr := decodeObjectFieldByField([]byte(in)); ferr != nil {
			t.Errorf("field by field refused %q: %v", in, ferr)
		}
	}
}

// FuzzFastPath: whenever the one-pass decoder accepts an item, the field-by-field decoder accepts
// it too and agrees on every field.
func FuzzFastPath(f *testing.F) {
	for _, s := range []string{`{"title":"T","body":"B","authors":["a"]}`, `{"authors":"x"}`, `{"title":null}`, `{"a":{"b":"}"},"title":"t"}`,
		`{"title":"\u00e9\ud83d\ude00\n\"","x":[-1.5e3,true,false,null,{}],"authors":[]}`, `{"body":"a\\b\/","Body":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fast, ok := decodeObjectFast(b)
		if !ok {
			return
		}
		slow, ferr := decodeObjectFieldByField(b)
		if ferr != nil || !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q: fast %+v, field by field %+v (%v)", b, fast, slow, ferr)
		}
	})
}
