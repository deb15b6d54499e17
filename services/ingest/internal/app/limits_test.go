package app

import (
	"strconv"
	"strings"
	"testing"

	"github.com/newsflow/newsflow/pkg/kafkax"
)

// TestMaxBodyBytesBound: --max-body-bytes takes up to kafkax.MaxArticleBodyBytes (900 KiB, the
// bound it has always had) and refuses one byte more, naming the bound.
func TestMaxBodyBytesBound(t *testing.T) {
	for _, tc := range []struct {
		value   int
		refused bool
	}{{900 << 10, false}, {900<<10 + 1, true}, {kafkax.MaxArticleBodyBytes, false}} {
		s, cfg := serveFlags()
		if err := s.Parse([]string{"--max-body-bytes", strconv.Itoa(tc.value)}); err != nil {
			t.Fatal(err)
		}
		err := cfg.Validate()
		if refused := err != nil; refused != tc.refused {
			t.Errorf("--max-body-bytes %d: err %v, want refused=%v", tc.value, err, tc.refused)
		}
		if tc.refused && (err == nil || !strings.Contains(err.Error(), "want 1..921600")) {
			t.Errorf("--max-body-bytes %d: %v, want the bound named", tc.value, err)
		}
	}
}
