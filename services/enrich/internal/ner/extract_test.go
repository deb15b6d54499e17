package ner

import (
	"strings"
	"testing"

	"github.com/newsflow/newsflow/pkg/article"
)

func mention(i int) article.Mention {
	return article.Mention{Field: article.FieldBody, Start: 10 * i, End: 10*i + 5}
}

// Tag indexes as IOB2: B-type is 2*type-1, I-type 2*type (PER 1, ORG 2, LOC 3, MISC 4).
const (
	tO = iota
	tBPer
	tIPer
	tBOrg
	tIOrg
	tBLoc
	tILoc
	tBMisc
	tIMisc
)

// TestHandListHasNoPeople: the curated lists name no specific person (issue 16: no special
// cases); given names and surnames come from the generated lists.
func TestHandListHasNoPeople(t *testing.T) {
	for _, line := range strings.Split(handGazetteer, "\n") {
		if strings.HasPrefix(line, "PER\t") {
			t.Errorf("hand gazetteer lists a person: %q", line)
		}
	}
}

// TestContextTypeIsEvidence: the words around a name type it, unless the name's own evidence
// says the context is the other reading.
func TestContextTypeIsEvidence(t *testing.T) {
	cases := []struct {
		sent            string
		start, end      int
		typ, hand, want int
	}{
		{"the town of Tavildara fell", 3, 4, 1, 0, 3},
		{"won the English county championship", 2, 3, 3, 4, 0}, // a nationality before "county"
		{"One U.S. firm bought", 1, 2, 3, 3, 0},                // a place before "firm"
		{"the Zycie Warszawy newspaper", 1, 3, 1, 0, 2},
		{"Syria 's al-Watan newspaper", 2, 3, 4, 0, 2},
		{"beat Notts County 2-1", 1, 3, 2, 0, 0},  // the tagger's club stands
		{"in Tiananmen Square on", 1, 3, 1, 0, 3}, // its person does not
		{"in Hama Province .", 1, 3, 2, 0, 3},     // nor its organisation: that is for City and County
		{"the supertanker , Adrian Darya 1 ,", 3, 5, 1, 0, 4},
		{"the tanker Stena Impero was", 2, 4, 2, 0, 4},
	}
	for _, c := range cases {
		if got := contextType(strings.Fields(c.sent), c.start, c.end, c.typ, c.hand); got != c.want {
			t.Errorf("%q [%d,%d) tagger %d list %d: type %d, want %d", c.sent, c.start, c.end, c.typ, c.hand, got, c.want)
		}
	}
}

// TestRefineListsAreEvidence: a listed place the tagger read as a club or a person stays what
// the tagger read; a listed organisation the tagger could only call MISC becomes an
// organisation; a legal form after a name makes it a company, joined to the name.
func TestRefineListsAreEvidence(t *testing.T) {
	r, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		sent       string
		tags, want []int
	}{
		{"CHICAGO 5 Houston 3", []int{tBOrg, tO, tBOrg, tO}, []int{tBOrg, tO, tBOrg, tO}},
		{"Kent beat Surrey", []int{tBOrg, tO, tBOrg}, []int{tBOrg, tO, tBOrg}},
		{"Jordan scored 30", []int{tBPer, tO, tO}, []int{tBPer, tO, tO}},
		{"peace with the Taliban in", []int{tO, tO, tO, tBMisc, tO}, []int{tO, tO, tO, tBOrg, tO}},
		{"Drexel Burnham Lambert Inc said", []int{tBPer, tIPer, tIPer, tO, tO}, []int{tBOrg, tIOrg, tIOrg, tIOrg, tO}},
		{"Ruch SA said", []int{tBPer, tBPer, tO}, []int{tBOrg, tIOrg, tO}},
		{"Drexel Burnham Lambert Inc and Donaldson ,", []int{tBPer, tIPer, tIPer, tBOrg, tIOrg, tIOrg, tO},
			[]int{tBOrg, tIOrg, tIOrg, tIOrg, tO, tBOrg, tO}}, // the tagger ran the legal form into the next name
		{"US AND UK - backed", []int{tBOrg, tIOrg, tIOrg, tO, tO}, []int{tBLoc, tO, tBLoc, tO, tO}},
	}
	for _, c := range cases {
		words := strings.Fields(c.sent)
		tags := [][]int{append([]int(nil), c.tags...)}
		r.refine([][]string{words}, tags)
		if !equalInts(tags[0], c.want) {
			t.Errorf("%q: tags %v, want %v", c.sent, tags[0], c.want)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestMergeMentions: document-level consistency. A company named with its legal form is an
// organisation in its shorter mentions too ("Drexel Burnham Lambert", "Drexel", which the tagger
// read as a person), a lone surname joins the one full name whatever the tagger typed it, and
// a lone word beside a place named by its context is a place.
func TestMergeMentions(t *testing.T) {
	r, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	acc := func(k string, typ, n int) *entityAcc {
		e := &entityAcc{key: k, names: map[string]int{}}
		e.types[typ] = n
		for i := 0; i < n; i++ {
			e.mentions = append(e.mentions, mention(i))
		}
		return e
	}
	inc, dbl, drexel := acc("drexel burnham lambert inc", 2, 1), acc("drexel burnham lambert", 1, 3), acc("drexel", 1, 2)
	trumpFull, trump := acc("donald trump", 1, 1), acc("trump", 3, 2)
	hamaP, hama := acc("hama province", 3, 1), acc("hama", 1, 1)
	kansas, kc := acc("kansas", 3, 1), acc("kansas city", 2, 1) // a listed place stays one
	uk, ukt := acc("u.k.", 2, 1), acc("u.k. treasury", 2, 1)    // so does a place of the training data
	strong := map[string]int{"hama province": 3}
	accs := []*entityAcc{inc, dbl, drexel, trumpFull, trump, hamaP, hama, kansas, kc, uk, ukt}
	byKey := map[string]*entityAcc{}
	for _, e := range accs {
		byKey[e.key] = e
	}
	merged := r.mergeMentions(accs, byKey, strong)
	if !merged[dbl] || !merged[drexel] || len(inc.mentions) != 6 || strong[inc.key] != 2 {
		t.Errorf("Drexel: merged %v %v, %d mentions, strong type %d; want both merged into the Inc, 6 mentions, ORG",
			merged[dbl], merged[drexel], len(inc.mentions), strong[inc.key])
	}
	if !merged[trump] || len(trumpFull.mentions) != 3 || trumpFull.typ() != 1 {
		t.Errorf("Trump: merged %v, %d mentions, type %d; want merged, 3 mentions, PER", merged[trump], len(trumpFull.mentions), trumpFull.typ())
	}
	if merged[hama] || strong["hama"] != 3 {
		t.Errorf("Hama: merged %v, strong type %d; want a separate place", merged[hama], strong["hama"])
	}
	if merged[kansas] || merged[uk] {
		t.Errorf("Kansas merged into Kansas City (%v), U.K. into U.K. Treasury (%v)", merged[kansas], merged[uk])
	}
}

// TestTitleKeepsKnownNames: a capitals headline keeps a name the body does not repeat when the
// lists know it as a name of one type (here a curated place), with that type, since capitals
// hide what the tagger reads types from; it still drops the unknown ones.
func TestTitleKeepsKnownNames(t *testing.T) {
	r, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	doc := [][]string{{"Prices", "rose", "."}, {"GERMANY", "REPORTS", "QTR", "LOSS"}}
	spans := []span{{sent: 1, start: 0, end: 1, typ: 2}, {sent: 1, start: 2, end: 3, typ: 2}}
	got := r.filterTitle(spans, doc, 1)
	if len(got) != 1 || got[0].start != 0 || got[0].typ != 3 {
		t.Errorf("filterTitle kept %v, want GERMANY only, as a place (3)", got)
	}
}
