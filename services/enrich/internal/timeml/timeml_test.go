package timeml

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/newsflow/newsflow/pkg/article"
	"github.com/newsflow/newsflow/services/enrich/internal/dates"
)

// corpusDir is TempEval-3's training corpus, seen from this package.
const corpusDir = "../../../../../shared/data/tempeval3/TBAQ-cleaned"

func TestParse(t *testing.T) {
	src := `<TimeML><DCT><TIMEX3 tid="t0" type="DATE" value="1998-01-08" functionInDocument="CREATION_TIME">19980108</TIMEX3></DCT>
<TEXT>Shares fell &amp; rose <TIMEX3 tid="t1" type="DATE" value="1998-01-07">yesterday</TIMEX3>, for <TIMEX3 tid="t2" type="DURATION" value="P1W">a week</TIMEX3>.</TEXT></TimeML>`
	d, err := Parse("x.tml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if want := "Shares fell & rose yesterday, for a week."; d.Text != want {
		t.Fatalf("text %q, want %q", d.Text, want)
	}
	if !d.DCT.Equal(time.Date(1998, 1, 8, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("DCT %v", d.DCT)
	}
	if len(d.Gold) != 2 || d.Text[d.Gold[0].Start:d.Gold[0].End] != "yesterday" || d.Gold[1].Type != "DURATION" {
		t.Fatalf("gold %+v", d.Gold)
	}
	pred := []article.DateMention{
		{Start: 19, End: 28, Value: "1998-01-07"}, // exact and right
		{Start: 34, End: 40, Value: "1998-W02"},   // on the DURATION: ignored
		{Start: 0, End: 6, Value: "1998"},         // spurious
	}
	s := Score(d, pred)
	if s.Strict != (Counts{TP: 1, Pred: 2, Gold: 1}) || s.Value.TP != 1 || s.Ignored != 1 {
		t.Errorf("scores %+v", s)
	}
}

func TestSameValue(t *testing.T) {
	for _, c := range []struct {
		pred, gold string
		want       bool
	}{
		{"1998-02-06", "1998-02-06T22:19", true},
		{"1998-02-06", "1998-02-06TMO", true},
		{"1998-02", "1998-02-06", false},
		{"1989-Q3", "1989-Q3", true},
		{"1998", "1998-W02", false},
	} {
		if got := SameValue(c.pred, c.gold); got != c.want {
			t.Errorf("SameValue(%q, %q) = %v", c.pred, c.gold, got)
		}
	}
}

// The extractor reached value F1 0.813 and relaxed F1 0.933 on TBAQ-cleaned
// (1,535 gold DATE/TIME); the floors are that minus a small margin, so a
// grammar change that costs accuracy fails here. Lower them only with a reason.
const (
	valueF1Floor   = 0.80
	relaxedF1Floor = 0.92
)

func TestTempEval3(t *testing.T) {
	if _, err := os.Stat(corpusDir); err != nil {
		t.Skipf("TempEval-3 corpus not available (%v); it lives in ../shared/data/tempeval3", err)
	}
	x := dates.New()
	extract := func(text string, pub time.Time) []article.DateMention { return x.Extract("body", text, pub) }
	s, err := Evaluate(corpusDir, extract)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	s.WriteTo(&b)
	t.Log("\n" + b.String())
	if s.Value.F1() < valueF1Floor {
		t.Errorf("value F1 %.3f below the floor %.3f", s.Value.F1(), valueF1Floor)
	}
	if s.Relaxed.F1() < relaxedF1Floor {
		t.Errorf("relaxed F1 %.3f below the floor %.3f", s.Relaxed.F1(), relaxedF1Floor)
	}
	// TIMEML_DIFF=/tmp/diff.tsv writes every error, for tuning the grammar.
	if os.Getenv("TIMEML_DIFF") != "" {
		files, _ := filepath.Glob(filepath.Join(corpusDir, "*", "*.tml"))
		f, _ := os.Create(os.Getenv("TIMEML_DIFF"))
		defer f.Close()
		for _, name := range files {
			src, _ := os.ReadFile(name)
			d, _ := Parse(filepath.Base(name), src)
			for _, m := range Diff(d, extract(d.Text, d.DCT)) {
				fmt.Fprintf(f, "%s\t%s\t%q\tpred=%s\tgold=%s\t%s\n", m.Kind, m.Doc, m.Text, m.Pred, m.Gold, m.Context)
			}
		}
	}
}
