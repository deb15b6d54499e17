package ner

import (
	"strings"
	"sync"
	"syscall"
	"testing"
	"unicode/utf8"

	"github.com/newsflow/newsflow/pkg/article"
)

func TestTokenize(t *testing.T) {
	tests := []struct {
		in   string
		want string // tokens joined by |, sentences by ||
	}{
		{"the anti-Assad forces", "the|anti|-|Assad|forces"},
		// A lower-case suffix stays on its word, as CoNLL writes (and tags) it: MISC as a whole.
		{"US AND UK-backed Islamists", "US|AND|UK-backed|Islamists"},
		{"The Khan-Shaykhun-bound convoy", "The|Khan-Shaykhun-bound|convoy"},
		{"the U.S.-led coalition", "the|U.S.-led|coalition"},
		{"Syria’s al-Watan newspaper", "Syria|'s|al-Watan|newspaper"},
		{"‘The army’ — said", "'|The|army|'|-|said"},
		{"the democratically-elected Government", "the|democratically-elected|Government"},
		{"Mr. Smith went to the U.S. on Monday. Then he left.", "Mr.|Smith|went|to|the|U.S.|on|Monday|.||Then|he|left|."},
		{"Café Müller, São Paulo", "Café|Müller|,|São|Paulo"},
		{"para one\n\npara two", "para|one||para|two"},
		{"", ""},
		{"bad \xff\xfe bytes", "bad|bytes"},
		// Clitics written apart, as in CoNLL text joined by spaces: one token, as when attached.
		{"Magna 's unit , I 'm sure they ’ve", "Magna|'s|unit|,|I|'m|sure|they|'ve"},
		{"a 'sorry' note , ' s", "a|'|sorry|'|note|,|'|s"},
		{"1,000 shares at 5,616.21 ; 1, 2", "1,000|shares|at|5,616.21|;|1|,|2"},
		{"fell C$ 0.45 to US$1.15 , not ABCD$ 2", "fell|C$|0.45|to|US$|1.15|,|not|ABCD|$|2"},
		{"ST. LOUIS 1996-08-30 Inc. of St. Petersburg, Fla., and Kansas City, Mo.-based Co", "ST.|LOUIS|1996-08-30||Inc.|of|St.|Petersburg|,|Fla.|,|and|Kansas|City|,|Mo.-based|Co"},
		// A dateline is a sentence of its own, and so is a byline before it; a date in a sentence
		// is not a dateline.
		{"WARSAW 1996-08-30 The National Bank of Poland", "WARSAW|1996-08-30||The|National|Bank|of|Poland"},
		{"CHISINAU , Moldova 1996-08-31 England 's Paul Gascoigne", "CHISINAU|,|Moldova|1996-08-31||England|'s|Paul|Gascoigne"},
		{"Larry Fine NEW YORK 1996-08-30 Andre Agassi", "Larry|Fine||NEW|YORK|1996-08-30||Andre|Agassi"},
		{"LONDON, Aug 30 Shares fell", "LONDON|,|Aug|30||Shares|fell"},
		{"It said on 1996-08-30 The Times and on Aug 30 Reuters", "It|said|on|1996-08-30|The|Times|and|on|Aug|30|Reuters"},
		// A closing quote ends the sentence with it; an opening one starts the next.
		{"He said , \" We go . \" Then , \" No . \" She left . \" Yes \" .", "He|said|,|\"|We|go|.|\"||Then|,|\"|No|.|\"||She|left|.||\"|Yes|\"|."},
		{"\"We go.\" Then “Stop.” Now ‘pressure.’ Next", "\"|We|go|.|\"||Then|\"|Stop|.|\"||Now|'|pressure|.|'||Next"},
		// A list's item number on one line, a table row's numbers, a paragraph a line.
		{"1. Tiger Woods ( U.S. ) 65 2. Nick Faldo 66 . He was 45. His wife", "1|.||Tiger|Woods|(|U.S.|)|65||2.|Nick|Faldo|66|.||He|was|45|.||His|wife"},
		{"Alloa 3 1 1 1 3 3 4 Queen 's Park 3 1 , in 1996 Smith", "Alloa|3|1|1|1|3|3|4||Queen|'s|Park|3|1|,|in|1996|Smith"},
		{"Drexel Burnham\nLambert said", "Drexel|Burnham|Lambert|said"},
		{"Rebels retreat\nThe Syrian army, backed by Russian air strikes, took the town of Khan Shaykhun on Monday after weeks of fighting", "Rebels|retreat||The|Syrian|army|,|backed|by|Russian|air|strikes|,|took|the|town|of|Khan|Shaykhun|on|Monday|after|weeks|of|fighting"},
	}
	for _, tt := range tests {
		var sents []string
		for _, s := range tokenize(tt.in, nil) {
			var ws []string
			for _, tk := range s {
				ws = append(ws, tk.text)
				if tk.start < 0 || tk.end > len(tt.in) || tk.start >= tk.end {
					t.Errorf("%q: bad offsets %d..%d", tt.in, tk.start, tk.end)
				}
			}
			sents = append(sents, strings.Join(ws, "|"))
		}
		if got := strings.Join(sents, "||"); got != tt.want {
			t.Errorf("tokenize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestExtractEdgeCases(t *testing.T) {
	r, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Extract("", ""); len(got) != 0 {
		t.Errorf("empty article: %+v", got)
	}
	huge := strings.Repeat("Angela Merkel met Emmanuel Macron in Berlin on Monday without any stop ", 20000)
	ents := r.Extract("", huge)
	if len(ents) == 0 {
		t.Error("huge article: no entities")
	}
	checkInvariants(t, "", huge, ents)
	got := r.Extract("BRITAIN SAYS NO", "British Prime Minister John Major said on Friday that Britain would not join.")
	types := map[string]string{}
	for _, e := range got {
		types[e.Name] = e.Type
	}
	if types["John Major"] != article.TypePerson || types["British"] != article.TypeMisc {
		t.Errorf("simple sentence: %+v", got)
	}
}

func TestConcurrent(t *testing.T) {
	r, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	want := r.Extract("Iran talks", "Iran's foreign minister Javad Zarif met officials in Vienna.")
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				got := r.Extract("Iran talks", "Iran's foreign minister Javad Zarif met officials in Vienna.")
				if len(got) != len(want) {
					t.Errorf("concurrent result differs: %v vs %v", got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func checkInvariants(t *testing.T, title, body string, ents []article.Entity) {
	t.Helper()
	valid := map[string]bool{article.FieldTitle: utf8.ValidString(title), article.FieldBody: utf8.ValidString(body)}
	for _, e := range ents {
		switch e.Type {
		case article.TypePerson, article.TypeOrg, article.TypeLoc, article.TypeMisc:
		default:
			t.Fatalf("bad type %q", e.Type)
		}
		if e.Name == "" || len(e.Mentions) == 0 {
			t.Fatalf("empty entity %+v", e)
		}
		for _, m := range e.Mentions {
			text := body
			switch m.Field {
			case article.FieldTitle:
				text = title
			case article.FieldBody:
			default:
				t.Fatalf("bad field %q", m.Field)
			}
			if m.Start < 0 || m.End > len(text) || m.Start >= m.End {
				t.Fatalf("mention %+v out of range (len %d)", m, len(text))
			}
			if valid[m.Field] && !utf8.ValidString(text[m.Start:m.End]) {
				t.Fatalf("mention %+v cuts a rune", m)
			}
			if strings.TrimSpace(text[m.Start:m.End]) != text[m.Start:m.End] {
				t.Fatalf("mention %q has surrounding space", text[m.Start:m.End])
			}
		}
	}
}

func FuzzExtract(f *testing.F) {
	f.Add("As Imperialism Hits The Rocks", "The Syrian Observatory for Human Rights (SOHR) said anti-Assad forces left Khan Shaykhun.")
	f.Add("", "Iran’s al-Watan — “quotes” … Müller\xff\xfe (A) () (AB")
	f.Add("US AND UK-backed", "Trump. Donald Trump's Trump-backed -- -x- x- -X")
	r, err := Default()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, title, body string) {
		ents := r.Extract(title, body)
		checkInvariants(t, title, body, ents)
	})
}

func BenchmarkExtract(b *testing.B) {
	title, body := readSeed(b)
	benchExtract(b, title, body)
}

// BenchmarkExtractShort measures a Reuters-sized article: the seed's title and its first ~150
// words.
func BenchmarkExtractShort(b *testing.B) {
	title, body := readSeed(b)
	n, words := 0, 0
	for n < len(body) && words < 150 {
		if body[n] == ' ' {
			words++
		}
		n++
	}
	benchExtract(b, title, body[:n])
}

func benchExtract(b *testing.B, title, body string) {
	r, err := Default()
	if err != nil {
		b.Fatal(err)
	}
	ntok := 0
	for _, s := range tokenize(title, nil) {
		ntok += len(s)
	}
	for _, s := range tokenize(body, nil) {
		ntok += len(s)
	}
	b.SetBytes(int64(len(title) + len(body)))
	b.ReportAllocs()
	cpu0 := cpuSeconds()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.Extract(title, body)
	}
	sec := b.Elapsed().Seconds()
	cpu := cpuSeconds() - cpu0
	b.ReportMetric(float64(ntok*b.N)/sec, "tokens/s")
	b.ReportMetric(float64(b.N)/sec, "articles/s")
	// On a shared machine wall time understates speed; CPU time of the process does not.
	if cpu > 0 {
		b.ReportMetric(float64(ntok*b.N)/cpu, "tokens/cpu-s")
	}
}

func BenchmarkDefault(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if _, err := Load(strings.NewReader(string(embeddedModel))); err != nil {
			b.Fatal(err)
		}
	}
}

// cpuSeconds is the user+system CPU time of this process so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
