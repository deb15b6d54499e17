package jsonscan

import (
	"encoding/binary"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

// TestPlain8 tries every byte value at every position of an otherwise plain word: the word test
// must flag exactly the bytes ScanString has to look at one by one.
func TestPlain8(t *testing.T) {
	for pos := range 8 {
		for c := range 256 {
			w := []byte("abcdefgh")
			w[pos] = byte(c)
			special := c < 0x20 || c == '"' || c == '\\' || c >= 0x80
			x := binary.LittleEndian.Uint64(w)
			if got := Plain8(x); got == special {
				t.Fatalf("Plain8(%q) = %v", w, got)
			}
			if want := map[bool]int{true: pos, false: 8}[special]; PlainBytes(x) != want {
				t.Fatalf("PlainBytes(%q) = %d, want %d", w, PlainBytes(x), want)
			}
			w[7] = '"' // a special byte after the first one never hides it
			if special && PlainBytes(binary.LittleEndian.Uint64(w)) != pos {
				t.Fatalf("PlainBytes(%q) = %d, want %d", w, PlainBytes(binary.LittleEndian.Uint64(w)), pos)
			}
		}
	}
}

// stringsSeeds are arrays Strings reads one copy for, or one string at a time, or declines.
var stringsSeeds = []string{`null`, `[]`, `["a"]`, `["a","bc",""]`, ` [ "a" , "b" ] `, `["a\n","b"]`, `["a","b\u00e9"]`,
	`["a",null]`, `[null]`, `["a",1]`, `"a"`, `[`, `["a"`, `["a",]`, `["\ud800"]`, "[\"\xff\"]",
	`[` + strings.Repeat(`"k",`, maxShared) + `"last"]`, `[` + strings.Repeat(`"k",`, maxShared-1) + `"last"]`}

// FuzzStrings: whatever Strings accepts, encoding/json reads the same way into a []string.
func FuzzStrings(f *testing.F) {
	for _, s := range stringsSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p := Scanner{Buf: b}
		p.WS()
		got, ok := p.Strings()
		p.WS()
		if !ok || p.I != len(b) {
			return
		}
		var want []string
		if err := json.Unmarshal(b, &want); err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: Strings gives %q, encoding/json %q, %v", b, got, want, err)
		}
	})
}

// TestStrings: the seeds Strings must read, and a shared copy where it can make one.
func TestStrings(t *testing.T) {
	took := 0
	for _, s := range stringsSeeds {
		p := Scanner{Buf: []byte(s)}
		p.WS()
		got, ok := p.Strings()
		p.WS()
		var want []string
		werr := json.Unmarshal([]byte(s), &want)
		if ok && p.I == len(s) {
			took++
			if werr != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("%q: Strings gives %q, encoding/json %q, %v", s, got, want, werr)
			}
		}
	}
	if took != 9 {
		t.Errorf("Strings read %d of the seeds, want 9", took)
	}
	p := Scanner{Buf: []byte(`["ab","cd"]`)}
	got, _ := p.Strings()
	if unsafe.Pointer(unsafe.StringData(got[1])) != unsafe.Add(unsafe.Pointer(unsafe.StringData(got[0])), 2) {
		t.Errorf("the strings of a plain array do not share one copy")
	}
}
