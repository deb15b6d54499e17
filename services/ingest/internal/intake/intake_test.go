package intake

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/newsflow/newsflow/pkg/article"
	"github.com/newsflow/newsflow/services/ingest/internal/decode"
	"github.com/newsflow/newsflow/services/ingest/internal/normalize"
	"github.com/newsflow/newsflow/services/ingest/internal/publish"
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
	b := Prepare(items, time.Now(), normalize.DefaultLimits)
	acc, dup, rej := b.Counts()
	// Titles repeat every 150 items: items 0..49 are superseded by 150..199, except the pairs
	// (7, 157) and (9, 159), which are rejected on both sides.
	if rej != 8 || acc+dup+rej != 200 || acc != 144 || len(b.Records) != acc || dup != 48 {
		t.Fatalf("accepted %d duplicates %d rejected %d", acc, dup, rej)
	}
	ids := map[string]bool{}
	for _, r := range b.Records {
		if ids[r.Article.ID] {
			t.Fatalf("article %s published twice", r.Article.ID)
		}
		ids[r.Article.ID] = true
	}
	for i, r := range b.Results {
		if r.Index != i || r.Line != i+1 {
			t.Fatalf("result %d out of order: %+v", i, r)
		}
	}
	// The later copy is kept: item 0 is superseded by item 150, which is accepted.
	if r := b.Results[0]; r.Status != StatusDuplicate || r.SupersededBy != 150 || r.ID != b.Results[150].ID || len(r.Notes) != 1 {
		t.Fatalf("item 0 should be superseded by item 150: %+v", r)
	}
	if b.Results[150].Status != StatusAccepted {
		t.Fatalf("item 150, the later copy, should be accepted: %+v", b.Results[150])
	}
}

// TestPrepareKeepsLaterCopy: the same article sent twice with different bodies (same URL, so the
// same id) is published once, with the later body.
func TestPrepareKeepsLaterCopy(t *testing.T) {
	u := "https://news.example.com/story"
	items := []decode.Item{
		{Index: 0, Raw: decode.Raw{Title: "Story", Body: "First version.", URL: u}},
		{Index: 1, Raw: decode.Raw{Title: "Other", Body: "Unrelated."}},
		{Index: 2, Raw: decode.Raw{Title: "Story", Body: "Corrected version.", URL: u}},
		{Index: 3, Raw: decode.Raw{Title: "Story", Body: "", URL: u}}, // invalid: supersedes nothing
	}
	b := Prepare(items, time.Now(), normalize.DefaultLimits)
	if acc, dup, rej := b.Counts(); acc != 2 || dup != 1 || rej != 1 {
		t.Fatalf("accepted %d duplicates %d rejected %d", acc, dup, rej)
	}
	if len(b.Records) != 2 || b.Records[1].Article.Body != "Corrected version." || !strings.Contains(string(b.Records[1].Value), `"body":"Corrected version."`) {
		t.Fatalf("published %+v, want the corrected version last", b.Records)
	}
	if r := b.Results[0]; r.Status != StatusDuplicate || r.SupersededBy != 2 {
		t.Fatalf("item 0: %+v", r)
	}
}

// TestPrepareRejectsOversizedRecord: an article whose fields are each within their limits but
// whose record Kafka could not take (a body of quotes, each escaped to two bytes) is rejected on
// its own with the reason; the other items of the batch are accepted.
func TestPrepareRejectsOversizedRecord(t *testing.T) {
	lim := normalize.Limits{MaxTitleBytes: 2048, MaxBodyBytes: 900 << 10}
	big := strings.Repeat(`"quoted" `, (900<<10)/9)            // 900 KiB of text, ~1.1 MB as JSON
	markup := strings.Repeat("a < b && c > d. ", (800<<10)/16) // fits only if '<', '>', '&' stay one byte
	items := []decode.Item{
		{Index: 0, Line: 1, Raw: decode.Raw{Title: "Fine", Body: "Body.", Language: "en"}},
		{Index: 1, Line: 2, Raw: decode.Raw{Title: "Too big", Body: big, Language: "en"}},
		{Index: 2, Line: 3, Raw: decode.Raw{Title: "Markup", Body: markup, Language: "en"}},
	}
	b := Prepare(items, time.Now(), lim)
	if acc, _, rej := b.Counts(); acc != 2 || rej != 1 || len(b.Records) != 2 {
		t.Fatalf("accepted %d rejected %d: %+v", acc, rej, b.Results)
	}
	r := b.Results[1]
	if r.Status != StatusRejected || r.Error.Code != decode.CodeTooLarge || !strings.Contains(r.Error.Reason, "Kafka record") {
		t.Fatalf("oversized item: %+v %+v", r, r.Error)
	}
	if _, err := publish.Messages(b.Records); err != nil {
		t.Fatalf("what Prepare accepts must encode within the limit: %v", err)
	}
	for _, rec := range b.Records {
		if v, err := article.Marshal(&rec.Article); err != nil || string(v) != string(rec.Value) {
			t.Fatalf("record of %s is not its article's encoding: %v", rec.Article.ID, err)
		}
	}
}
