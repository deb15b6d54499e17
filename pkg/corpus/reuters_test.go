package corpus

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/newsflow/newsflow/pkg/article"
	"github.com/newsflow/newsflow/pkg/testenv"
)

func TestReadReuters(t *testing.T) {
	in := `<REUTERS TOPICS="YES" NEWID="7">
<DATE>26-FEB-1987 15:01:01.79</DATE>
<TEXT>&#2;
<TITLE>BAHIA COCOA &lt;REVIEW&gt;</TITLE>
<DATELINE>    SALVADOR, Feb 26 - </DATELINE><BODY>Showers continued in Bahia caf` + "\xe9" + `.
 Reuter
&#3;</BODY></TEXT>
</REUTERS>
<REUTERS NEWID="8"><DATE>26-FEB-1987 15:02:20.00</DATE><TEXT TYPE="BRIEF">&#2;
<TITLE>BRIEF ONLY</TITLE></TEXT></REUTERS>
`
	var got []article.Article
	if err := ReadReuters(strings.NewReader(in), func(a article.Article) error { got = append(got, a); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("got %d stories, want 1 (briefs without a body are skipped)", len(got))
	}
	a := got[0]
	if a.Title != "BAHIA COCOA <REVIEW>" || a.Body != "Showers continued in Bahia café." || a.Source != "reuters" ||
		!a.PublishedAt.Equal(time.Date(1987, 2, 26, 15, 1, 1, 790000000, time.UTC)) || a.ID == "" || !strings.HasSuffix(a.URL, "/7") {
		t.Fatalf("got %+v", a)
	}
}

func TestWholeCorpus(t *testing.T) {
	dir := filepath.Join(testenv.DataDir(t), "reuters21578")
	n, ids := 0, map[string]bool{}
	err := ReadReutersDir(dir, 0, func(a article.Article) error {
		n++
		ids[a.ID] = true
		if !utf8.ValidString(a.Body) || a.PublishedAt.Year() != 1987 {
			t.Fatalf("bad article %s: %+v %s", a.ID, a.PublishedAt, a.URL)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// 21,578 stories, of which those with a title and a body.
	if n < 18000 || n > 21578 || len(ids) != n {
		t.Fatalf("read %d stories with %d distinct ids", n, len(ids))
	}
	t.Logf("Reuters-21578: %d stories with title and body", n)
}

func TestDetokenize(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{[]string{"EU", "rejects", "German", "call", "."}, "EU rejects German call."},
		{[]string{"He", "said", `"`, "no", `"`, "(", "again", ")", ",", "it", "'s", "5", "%"}, `He said "no" (again), it's 5%`},
	} {
		if got := Detokenize(tc.in); got != tc.want {
			t.Errorf("Detokenize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCoNLLDocs(t *testing.T) {
	dir := filepath.Join(testenv.DataDir(t), "conll2003")
	total := 0
	for _, f := range []string{"train.txt", "valid.txt"} {
		fh, err := os.Open(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		err = ReadCoNLLDocs(fh, f, func(a article.Article) error {
			n++
			if a.Title == "" || a.Body == "" || a.PublishedAt.Year() < 1996 || a.ID == "" {
				t.Fatalf("bad document %d of %s: %+v", n, f, a)
			}
			return nil
		})
		fh.Close()
		if err != nil {
			t.Fatal(err)
		}
		total += n
	}
	// train has 946 documents and valid 216; a few are too short to be an article.
	if total < 1100 || total > 1162 {
		t.Fatalf("%d CoNLL documents", total)
	}
	t.Logf("CoNLL-2003 train+valid: %d documents", total)
}
