package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/newsflow/newsflow/pkg/article"
	"github.com/newsflow/newsflow/pkg/dedup"
	"github.com/newsflow/newsflow/pkg/testenv"
)

func runCLI(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := Run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), err
}

func decodeLines(t *testing.T, out string) []article.Enriched {
	t.Helper()
	var res []article.Enriched
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var e article.Enriched
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("output line is not an enriched article: %v: %s", err, l)
		}
		res = append(res, e)
	}
	return res
}

// TestExtractSeed runs `enrich extract` on the seed article: all twelve date mentions with their
// values, entities with offsets that point at their names.
func TestExtractSeed(t *testing.T) {
	seed := filepath.Join(testenv.DataDir(t), "seed", "imperialism-hits-the-rocks.txt")
	out, stderr, err := runCLI(t, "", "extract", "--published-at", "2019-08-21", seed)
	if err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	got := decodeLines(t, out)
	if len(got) != 1 {
		t.Fatalf("%d articles out, want 1", len(got))
	}
	e := got[0]
	var values []string
	for _, d := range e.Dates {
		values = append(values, d.Value)
		text := e.Body
		if d.Field == article.FieldTitle {
			text = e.Title
		}
		if text[d.Start:d.End] != d.Text {
			t.Errorf("date %q: offsets [%d,%d) point at %q", d.Text, d.Start, d.End, text[d.Start:d.End])
		}
	}
	want := "2019-08-20 2014 PRESENT_REF 2019-08-19 2019-08-20 2019-08-19 1953-08-21 1979 2008 2008 PRESENT_REF 1917"
	if strings.Join(values, " ") != want {
		t.Errorf("date values %v, want %s", values, want)
	}
	if len(e.Entities) < 20 {
		t.Errorf("only %d entities in the seed article", len(e.Entities))
	}
	for _, ent := range e.Entities {
		for _, m := range ent.Mentions {
			text := e.Body
			if m.Field == article.FieldTitle {
				text = e.Title
			}
			if m.Start < 0 || m.End > len(text) || m.Start >= m.End {
				t.Fatalf("entity %q mention out of range: %+v", ent.Name, m)
			}
		}
	}
	if e.EnrichmentVersion != Version || e.ID == "" {
		t.Errorf("version %q id %q", e.EnrichmentVersion, e.ID)
	}
	if s := e.Similarity; s == nil || s.Signature == "" || len(s.NearBands) != dedup.NearBands || len(s.StoryBands) != dedup.StoryBands {
		t.Errorf("similarity %+v, want a signature with %d near and %d story bands", s, dedup.NearBands, dedup.StoryBands)
	}
}

// TestExtractKeepsOrderAndReportsBadRecords: many JSON Lines articles come out in input order on
// every core; a bad line is reported with its place and makes the exit status non-zero.
func TestExtractKeepsOrderAndReportsBadRecords(t *testing.T) {
	var in strings.Builder
	const n = 300
	for i := 0; i < n; i++ {
		if i == 150 {
			in.WriteString("{broken\n")
		}
		fmt.Fprintf(&in, `{"id":"a%03d","title":"Story %d","body":"Officials in Paris said on Monday that talks with Germany would resume in March 2020.","published_at":"2019-08-21T08:00:00Z"}`+"\n", i, i)
	}
	out, stderr, err := runCLI(t, in.String(), "extract", "--workers", "4", "-")
	if err == nil || !strings.Contains(stderr, "stdin:151:") {
		t.Fatalf("want an error and stdin:151 reported, got err=%v stderr=%q", err, stderr)
	}
	got := decodeLines(t, out)
	if len(got) != n {
		t.Fatalf("%d articles out, want %d", len(got), n)
	}
	for i, e := range got {
		if e.ID != fmt.Sprintf("a%03d", i) {
			t.Fatalf("article %d is %s: input order lost", i, e.ID)
		}
		if len(e.Dates) != 2 || e.Dates[0].Value != "2019-08-19" || e.Dates[1].Value != "2020-03" {
			t.Fatalf("article %d dates %+v", i, e.Dates)
		}
	}
}

func TestExtractBadInputNeverCrashes(t *testing.T) {
	huge := strings.Repeat("Paris and London. ", 200000) // 3.6 MB, capped work
	for name, in := range map[string]string{
		"empty body":       `{"title":"t","body":""}`,
		"invalid utf-8":    "{\"title\":\"t\",\"body\":\"caf\xe9 in Paris\"}",
		"non-English":      `{"title":"Nachrichten","body":"Die Regierung in Berlin sagte am Montag, dass 李克强 在北京 会见."}`,
		"no published_at":  `{"title":"t","body":"It happened yesterday in Rome."}`,
		"far in the past":  `{"title":"t","body":"yesterday","published_at":"0001-01-02T00:00:00Z"}`,
		"huge body":        `{"title":"t","body":"` + huge + `"}`,
		"plain text stdin": "Title only line\nand a body about Berlin yesterday.",
	} {
		t.Run(name, func(t *testing.T) {
			out, stderr, err := runCLI(t, in, "extract")
			if err != nil {
				t.Fatalf("%v: %s", err, stderr)
			}
			if got := decodeLines(t, out); len(got) != 1 {
				t.Fatalf("%d articles out", len(got))
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{}, {"bogus"}, {"extract", "--published-at", "soon"}, {"eval", "timeml"}} {
		if _, _, err := runCLI(t, "", args...); err == nil {
			t.Errorf("%v: want a usage error", args)
		}
	}
	if _, _, err := runCLI(t, "", "extract", "/nonexistent/file.txt"); err == nil || !strings.Contains(err.Error(), "nonexistent") {
		t.Errorf("missing file: %v", err)
	}
	out, _, err := runCLI(t, "", "--help")
	if err != nil || !strings.Contains(out, "enrich extract") {
		t.Errorf("--help: %v %q", err, out)
	}
}

func TestMain(m *testing.M) {
	// The entity model is loaded once for all tests.
	if _, err := newEnricher(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}
