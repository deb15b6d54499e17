package importer

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/newsflow/newsflow/pkg/article"
	"github.com/newsflow/newsflow/services/ingest/internal/normalize"
	"github.com/newsflow/newsflow/services/ingest/internal/publish"
)

// encodingPub checks records as the real publisher does (publish.Messages, with its record
// limit).
type encodingPub struct{ arts []article.Article }

func (p *encodingPub) Publish(_ context.Context, recs []publish.Record) error {
	if _, err := publish.Messages(recs); err != nil {
		return err
	}
	for _, r := range recs {
		p.arts = append(p.arts, r.Article)
	}
	return nil
}

// TestImportOversizedRecord: an article whose record Kafka could not take (900 KiB of quotes,
// within --max-body-bytes, that JSON escaping makes larger than 1 MB) is reported as file:line
// with the reason, and the import goes on with the lines after it.
func TestImportOversizedRecord(t *testing.T) {
	dir := t.TempDir()
	huge := strings.Repeat(`\"q\" `, (900<<10)/4)
	write(t, dir, "big.jsonl", `{"title":"One","body":"First."}`+"\n"+
		fmt.Sprintf(`{"title":"Huge","body":"%s"}`, huge)+"\n"+`{"title":"Three","body":"Third."}`+"\n")
	pub := &encodingPub{}
	st, err := Import(context.Background(), []string{dir}, pub, Options{
		Limits: normalize.Limits{MaxTitleBytes: 2048, MaxBodyBytes: 900 << 10}, MaxFileBytes: 8 << 20, BatchSize: 500})
	if err != nil {
		t.Fatalf("import stopped: %v", err)
	}
	if st.Read != 3 || st.Accepted != 2 || st.Rejected != 1 || len(pub.arts) != 2 {
		t.Fatalf("stats %+v, %d published", st, len(pub.arts))
	}
	r := st.Rejections[0].String()
	if !strings.HasPrefix(r, filepath.Join(dir, "big.jsonl")+":2: ") || !strings.Contains(r, "Kafka record") {
		t.Fatalf("rejection %q: want file:2 and the reason", r)
	}
}
