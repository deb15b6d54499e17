package dates

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// seedDir is where the project's shared test data lives, seen from this package.
const seedDir = "../../../../../shared/data/seed"

func readSeed(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(seedDir, "imperialism-hits-the-rocks.txt"))
	if err != nil {
		t.Skipf("seed article not available (%v); it lives in ../shared/data/seed", err)
	}
	return string(b)
}

// TestSeed checks the seed article, published Wednesday 2019-08-21: exactly
// these twelve mentions and nothing else ("years of", "Adrian Darya 1", "one
// percentage point" and "sooner" are not dates). Both "now"s are the adverb of
// time ("Morek is now effectively surrounded", "but now Trump is demanding"),
// which TimeML tags PRESENT_REF.
func TestSeed(t *testing.T) {
	text := readSeed(t)
	want := []struct{ text, value, gran string }{
		{"yesterday", "2019-08-20", "day"},          // SOHR reported yesterday
		{"2014", "2014", "year"},                    // occupied ... since 2014
		{"now", "PRESENT_REF", "ref"},               // Morek is now effectively surrounded
		{"Monday", "2019-08-19", "day"},             // On Monday, a Turkish convoy crossed
		{"yesterday", "2019-08-20", "day"},          // Shamkhani said yesterday
		{"Monday", "2019-08-19", "day"},             // interview ... on Monday
		{"66 years ago today", "1953-08-21", "day"}, // the 1953 coup
		{"1979", "1979", "year"},                    // in 1979
		{"2008", "2008", "year"},                    // the crash that began in 2008
		{"2008", "2008", "year"},                    // the 2008 crash
		{"now", "PRESENT_REF", "ref"},               // but now Trump is demanding
		{"1917", "1917", "year"},                    // in Russia in 1917
	}
	got := New().Extract("body", text, time.Date(2019, 8, 21, 8, 0, 0, 0, time.UTC))
	checkInvariants(t, text, got)
	for k := 0; k < len(got) || k < len(want); k++ {
		switch {
		case k >= len(got):
			t.Errorf("missing %+v", want[k])
		case k >= len(want):
			t.Errorf("spurious %q (%s) at %d", got[k].Text, got[k].Value, got[k].Start)
		case got[k].Text != want[k].text || got[k].Value != want[k].value || got[k].Granularity != want[k].gran:
			t.Errorf("mention %d: got %q %s %s, want %+v", k, got[k].Text, got[k].Value, got[k].Granularity, want[k])
		}
	}
}

// BenchmarkExtract measures throughput on realistic news text: the seed
// article, one article per call, as the enrich stage calls it.
func BenchmarkExtract(b *testing.B) {
	text := readSeed(b)
	x := New()
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		x.Extract("body", text, time.Date(2019, 8, 21, 8, 0, 0, 0, time.UTC))
	}
}

// BenchmarkExtractLarge is the same text as one 1 MB document, to show the
// scan stays linear.
func BenchmarkExtractLarge(b *testing.B) {
	text := strings.Repeat(readSeed(b), 256)
	x := New()
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		x.Extract("body", text, time.Date(2019, 8, 21, 8, 0, 0, 0, time.UTC))
	}
}
