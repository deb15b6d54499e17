package search

import (
	"testing"
	"unicode/utf8"
)

// TestTruncateKeepsCharactersWhole: an engine's reason quoting a non-ASCII title is cut on a
// character boundary, so a dead-letter header or a log line stays valid UTF-8.
func TestTruncateKeepsCharactersWhole(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"abcdef", 3, "abc…"},
		{"Zürich", 2, "Z…"}, // "ü" is 2 bytes: byte 2 is its second half
		{"Zürich", 3, "Zü…"},
	} {
		got := Truncate(tt.in, tt.n)
		if got != tt.want || !utf8.ValidString(got) {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}
