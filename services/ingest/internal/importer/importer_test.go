package importer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/newsflow/newsflow/pkg/article"
	"github.com/newsflow/newsflow/services/ingest/internal/decode"
	"github.com/newsflow/newsflow/services/ingest/internal/normalize"
	"github.com/newsflow/newsflow/services/ingest/internal/publish"
)

type fakePub struct {
	calls [][]article.Article
	err   error
}

func (f *fakePub) Publish(_ context.Context, recs []publish.Record) error {
	if f.err != nil {
		return f.err
	}
	arts := make([]article.Article, len(recs))
	for i := range recs {
		arts[i] = recs[i].Article
	}
	f.calls = append(f.calls, arts)
	return nil
}

func write(t *testing.T, dir, name, s string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestImport(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a.txt", "Title A\n\nBody A.")
	write(t, dir, "b.json", "[\n{\"title\":\"B1\",\"body\":\"x\"},\n{\"title\":5}\n]")
	write(t, dir, "d/c.ndjson", "{\"title\":\"C\",\"body\":\"y\"}\n\n{\"title\":\"B1\",\"body\":\"x\"}\nnot json\n")
	write(t, dir, "d/e.JSONL", "{\"title\":\"E\",\"body\":\"z\",\"published_at\":\"someday\"}")
	write(t, dir, "bad.json", "[{\"title\":\"x\"},")
	write(t, dir, "skip.csv", "a,b")
	other := write(t, t.TempDir(), "x.xml", "<a/>")

	pub := &fakePub{}
	var progress int
	st, err := Import(context.Background(), []string{dir, other, filepath.Join(dir, "missing.txt")}, pub, Options{
		Meta: decode.TextMeta{Source: "src"}, Limits: normalize.DefaultLimits, BatchSize: 2,
		Now: func() time.Time { return time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC) }, Progress: func(Stats) { progress++ },
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 5 || st.Read != 7 || st.Accepted != 3 || st.Duplicates != 1 || st.Rejected != 6 || st.Skipped != 1 {
		t.Fatalf("stats %+v", st)
	}
	var got []string
	for _, r := range st.Rejections {
		got = append(got, strings.TrimPrefix(r.String(), dir+string(filepath.Separator)))
	}
	want := []string{
		"b.json:3: title: want a string, got a number",
		"bad.json:1: JSON: unexpected end of input (is the array closed?)",
		"d/c.ndjson:4: not valid JSON: invalid character 'o' in literal null (expecting 'u')",
		"d/e.JSONL:1: published_at: \"someday\" is not RFC 3339 (2019-08-21T08:00:00Z) or a common news date format",
	}
	for i, w := range want {
		if i >= len(got) || got[i] != w {
			t.Errorf("rejection %d = %q, want %q", i, got[i], w)
		}
	}
	if !strings.HasSuffix(got[4], "x.xml: unsupported file type: want .txt, .json, .jsonl or .ndjson") || !strings.Contains(got[5], "missing.txt") {
		t.Errorf("rejections %q", got[4:])
	}
	n := 0
	for _, c := range pub.calls {
		if len(c) > 2 {
			t.Errorf("batch of %d, limit 2", len(c))
		}
		n += len(c)
	}
	// B1 was written in the first batch; its later copy in d/c.ndjson is written again, so 4
	// records for 3 distinct articles.
	if n != 4 || pub.calls[0][0].Source != "src" || progress == 0 {
		t.Fatalf("%d published, calls %+v, progress %d", n, pub.calls, progress)
	}
	if len(st.Superseded) != 1 || strings.TrimPrefix(st.Superseded[0].String(), dir+string(filepath.Separator)) !=
		"b.json:2: superseded by "+filepath.Join(dir, "d", "c.ndjson")+":3, a later copy of the same article (same id)" {
		t.Errorf("superseded %v", st.Superseded)
	}
}

// TestImportLaterCopyWins: an article repeated in one import is written with its latest text,
// whether the earlier copy is in the same batch or was already written; the earlier copies are
// reported as duplicates with file:line, and Accepted counts distinct articles. An out-of-range
// publication date is reported as file:line too.
func TestImportLaterCopyWins(t *testing.T) {
	dir := t.TempDir()
	line := func(body, published string) string {
		return `{"title":"Story","url":"https://news.example.com/s","body":"` + body + `","published_at":"` + published + "\"}\n"
	}
	write(t, dir, "a.jsonl", line("v1", "2019-08-21")+`{"title":"Other","body":"o"}`+"\n"+line("v2", "2019-08-21")+
		`{"title":"Old","body":"o","published_at":"1850-01-01"}`+"\n")
	write(t, dir, "b.jsonl", `{"title":"Third","body":"t"}`+"\n"+line("v3", "2019-08-22"))
	pub := &fakePub{}
	st, err := Import(context.Background(), []string{dir}, pub, Options{Limits: normalize.DefaultLimits, BatchSize: 2,
		Now: func() time.Time { return time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	if st.Read != 6 || st.Accepted != 3 || st.Duplicates != 2 || st.Rejected != 1 {
		t.Fatalf("stats %+v", st)
	}
	if r := st.Rejections[0].String(); !strings.HasSuffix(r, "a.jsonl:4: published_at: 1850-01-01T00:00:00Z is before 1900-01-01, the earliest publication date taken (--min-published-at)") {
		t.Errorf("rejection %q", r)
	}
	var last article.Article
	bodies := map[string]string{} // id -> body of the last record written
	for _, c := range pub.calls {
		for _, a := range c {
			bodies[a.ID] = a.Body
			if a.Title == "Story" {
				last = a
			}
		}
	}
	if len(bodies) != 3 || last.Body != "v3" {
		t.Fatalf("bodies %v, last Story %q; want the v3 copy last", bodies, last.Body)
	}
	want := []string{"a.jsonl:1: superseded by " + filepath.Join(dir, "a.jsonl") + ":3", "a.jsonl:3: superseded by " + filepath.Join(dir, "b.jsonl") + ":2"}
	for i, w := range want {
		if i >= len(st.Superseded) || !strings.HasPrefix(strings.TrimPrefix(st.Superseded[i].String(), dir+string(filepath.Separator)), w) {
			t.Errorf("superseded %d: %v, want %q", i, st.Superseded, w)
		}
	}
}

func TestImportPublishFailure(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a.jsonl", "{\"title\":\"A\",\"body\":\"b\"}\n")
	st, err := Import(context.Background(), []string{dir}, &fakePub{err: errors.New("kafka down")}, Options{})
	if err == nil || st.Accepted != 0 {
		t.Fatalf("err %v stats %+v", err, st)
	}
}

func TestLongLine(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a.jsonl", "{\"title\":\"A\",\"body\":\""+strings.Repeat("x", 5000)+"\"}\n{\"title\":\"B\",\"body\":\"b\"}\n")
	pub := &fakePub{}
	st, err := Import(context.Background(), []string{dir}, pub, Options{MaxFileBytes: 1000})
	if err != nil || st.Accepted != 1 || st.Rejected != 1 || !strings.Contains(st.Rejections[0].String(), "a.jsonl:1: line longer than 1000 bytes") {
		t.Fatalf("err %v stats %+v", err, st)
	}
}
