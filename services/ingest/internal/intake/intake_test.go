package intake

import (
	"fmt"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/newsflow/newsflow/services/ingest/internal/decode"
	"github.com/newsflow/newsflow/services/ingest/internal/normalize"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestPrepare(t *testing.T) {
	var items []decode.Item
	for i := range 200 { // enough to run on several workers
		raw := decode.Raw{Title: fmt.Sprintf("Title %d", i%150), Body: "Body."}
		it := decode.Item{Index: i, Line: i + 1, Raw: raw}
		if i%50 == 7 {
			it.Err = &decode.FieldError{Code: decode.CodeMalformed, Reason: "bad"}
		}
		if i%50 == 9 {
			it.Raw.Title = ""
		}
		items = append(items, it)
	}
	seen := map[string]bool{}
	b := Prepare(items, time.Now(), normalize.DefaultLimits, seen)
	acc, dup, rej := b.Counts()
	if rej != 8 || acc+dup+rej != 200 || acc != 144 || len(b.Articles) != acc || len(seen) != acc {
		t.Fatalf("accepted %d duplicates %d rejected %d", acc, dup, rej)
	}
	for i, r := range b.Results {
		if r.Index != i || r.Line != i+1 {
			t.Fatalf("result %d out of order: %+v", i, r)
		}
	}
	if b.Results[150].Status != StatusDuplicate || b.Results[0].ID != b.Results[150].ID {
		t.Fatalf("item 150 repeats item 0: %+v", b.Results[150])
	}
	// The same seen map makes a second batch all duplicates (an import across files).
	b2 := Prepare(items[:5], time.Now(), normalize.DefaultLimits, seen)
	if _, dup, _ := b2.Counts(); dup != 5 {
		t.Fatalf("second batch: %d duplicates, want 5", dup)
	}
}
