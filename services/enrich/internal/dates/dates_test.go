package dates

import (
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/newsflow/newsflow/pkg/article"
)

// pub is the seed article's publication time, a Wednesday.
var pub = time.Date(2019, 8, 21, 8, 0, 0, 0, time.UTC)

func TestPhrases(t *testing.T) {
	type want struct {
		text, value, gran, gte, lte string
		rel                         bool
	}
	cases := []struct {
		in   string
		want []want // every mention, in order
	}{
		// absolute days
		{"It opened on 21 August 2019.", []want{{"21 August 2019", "2019-08-21", "day", "2019-08-21", "2019-08-21", false}}},
		{"It opened on August 21, 2019, in Paris.", []want{{"August 21, 2019", "2019-08-21", "day", "2019-08-21", "2019-08-21", false}}},
		{"The deal was signed Sept. 11, 2001.", []want{{"Sept. 11, 2001", "2001-09-11", "day", "2001-09-11", "2001-09-11", false}}},
		{"The form is dated 8/21/2019.", []want{{"8/21/2019", "2019-08-21", "day", "2019-08-21", "2019-08-21", false}}},
		{"Released 2019-08-21 by the agency.", []want{{"2019-08-21", "2019-08-21", "day", "2019-08-21", "2019-08-21", false}}},
		{"The vote is on 21.08.2019 in Berlin.", []want{{"21.08.2019", "2019-08-21", "day", "2019-08-21", "2019-08-21", false}}},
		{"He said on Monday, August 19, 2019, that he would go.", []want{{"Monday, August 19, 2019", "2019-08-19", "day", "2019-08-19", "2019-08-19", false}}},
		// days without a year
		{"Shares fell on Aug. 20 after the report.", []want{{"Aug. 20", "2019-08-20", "day", "2019-08-20", "2019-08-20", true}}},
		{"The report is due on Sept. 3.", []want{{"Sept. 3", "2019-09-03", "day", "2019-09-03", "2019-09-03", true}}},
		{"He arrived on the 21st of August.", []want{{"the 21st of August", "2019-08-21", "day", "2019-08-21", "2019-08-21", true}}},
		{"Prices peaked on 2 January after the holiday.", []want{{"2 January", "2019-01-02", "day", "2019-01-02", "2019-01-02", true}}},
		// months, seasons, quarters
		{"The talks collapsed in March.", []want{{"March", "2019-03", "month", "2019-03-01", "2019-03-31", true}}},
		{"Elections will be held in October.", []want{{"October", "2019-10", "month", "2019-10-01", "2019-10-31", true}}},
		{"The law passed in May.", []want{{"May", "2019-05", "month", "2019-05-01", "2019-05-31", true}}},
		{"Prices fell in late November.", []want{{"late November", "2018-11", "month", "2018-11-21", "2018-11-30", true}}},
		{"Output rose in March 2019.", []want{{"March 2019", "2019-03", "month", "2019-03-01", "2019-03-31", false}}},
		{"It happened in March last year.", []want{{"March last year", "2018-03", "month", "2018-03-01", "2018-03-31", true}}},
		{"The launch is set for spring 2020.", []want{{"spring 2020", "2020-SP", "season", "2020-03-01", "2020-05-31", false}}},
		{"The sale happened last summer.", []want{{"last summer", "2018-SU", "season", "2018-06-01", "2018-08-31", true}}},
		{"It has been hot this summer.", []want{{"this summer", "2019-SU", "season", "2019-06-01", "2019-08-31", true}}},
		{"It was cold in the winter of 1994.", []want{{"the winter of 1994", "1994-WI", "season", "1993-12-01", "1994-02-28", false}}},
		{"Profit rose in the third quarter.", []want{{"the third quarter", "2019-Q3", "quarter", "2019-07-01", "2019-09-30", true}}},
		{"Third-quarter profit rose.", []want{{"Third-quarter", "2019-Q3", "quarter", "2019-07-01", "2019-09-30", true}}},
		{"It expects Q3 results soon.", []want{{"Q3", "2019-Q3", "quarter", "2019-07-01", "2019-09-30", true}}},
		{"Sales in Q3 2018 fell.", []want{{"Q3 2018", "2018-Q3", "quarter", "2018-07-01", "2018-09-30", false}}},
		{"Sales in the fourth quarter of 2018 fell.", []want{{"the fourth quarter of 2018", "2018-Q4", "quarter", "2018-10-01", "2018-12-31", false}}},
		// years, decades, centuries
		{"occupied since 2014.", []want{{"2014", "2014", "year", "2014-01-01", "2014-12-31", false}}},
		{"He was born in 1996 in Ohio.", []want{{"1996", "1996", "year", "1996-01-01", "1996-12-31", false}}},
		{"after the 2008 crash", []want{{"2008", "2008", "year", "2008-01-01", "2008-12-31", false}}},
		// a determiner or a temporal word before keeps a year before a company a date
		{"the 1986 Chevron Corp offer", []want{{"1986", "1986", "year", "1986-01-01", "1986-12-31", false}}},
		{"In 1986 Shell Oil Co sold more.", []want{{"1986", "1986", "year", "1986-01-01", "1986-12-31", false}}},
		{"Pence vs 140.0 pence for 1985 Group net profit.", []want{{"1985", "1985", "year", "1985-01-01", "1985-12-31", false}}},
		{"He won the 2012 Olympic time trial.", []want{{"2012", "2012", "year", "2012-01-01", "2012-12-31", false}}},
		{"Output fell to 1986 levels after 1987 est. figures.", []want{{"1986", "1986", "year", "1986-01-01", "1986-12-31", false}, {"1987", "1987", "year", "1987-01-01", "1987-12-31", false}}},
		{"its 1990 invasion of Kuwait", []want{{"1990", "1990", "year", "1990-01-01", "1990-12-31", false}}},
		{"The company's 2014 results were poor.", []want{{"2014", "2014", "year", "2014-01-01", "2014-12-31", false}}},
		{"2014 was a good year.", []want{{"2014", "2014", "year", "2014-01-01", "2014-12-31", false}}},
		{"Growth slowed in early 2019.", []want{{"early 2019", "2019", "year", "2019-01-01", "2019-04-30", false}}},
		{"Profit rose in fiscal 2018.", []want{{"fiscal 2018", "2018", "year", "2018-01-01", "2018-12-31", false}}},
		{"Music of the 1990s is back.", []want{{"the 1990s", "199", "decade", "1990-01-01", "1999-12-31", false}}},
		{"It began in the mid-1990s.", []want{{"the mid-1990s", "199", "decade", "1993-01-01", "1996-12-31", false}}},
		{"a hit in the '80s", []want{{"the '80s", "198", "decade", "1980-01-01", "1989-12-31", false}}},
		{"the wars of the 20th century", []want{{"the 20th century", "19", "century", "1900-01-01", "1999-12-31", false}}},
		// relative days
		{"He said yesterday that", []want{{"yesterday", "2019-08-20", "day", "2019-08-20", "2019-08-20", true}}},
		{"Today the market rose.", []want{{"Today", "2019-08-21", "day", "2019-08-21", "2019-08-21", true}}},
		{"They meet tomorrow.", []want{{"tomorrow", "2019-08-22", "day", "2019-08-22", "2019-08-22", true}}},
		{"Troops crossed the border on Monday.", []want{{"Monday", "2019-08-19", "day", "2019-08-19", "2019-08-19", true}}},
		{"The ministers will meet on Monday.", []want{{"Monday", "2019-08-26", "day", "2019-08-26", "2019-08-26", true}}},
		{"The report is due to be published on Friday.", []want{{"Friday", "2019-08-23", "day", "2019-08-23", "2019-08-23", true}}},
		{"He said on Monday that he will resign.", []want{{"Monday", "2019-08-19", "day", "2019-08-19", "2019-08-19", true}}},
		{"It happened last Friday.", []want{{"last Friday", "2019-08-16", "day", "2019-08-16", "2019-08-16", true}}},
		{"They meet next Tuesday.", []want{{"next Tuesday", "2019-08-27", "day", "2019-08-27", "2019-08-27", true}}},
		{"Fighting raged last night.", []want{{"last night", "2019-08-20", "day", "2019-08-20", "2019-08-20", true}}},
		{"He spoke this morning.", []want{{"this morning", "2019-08-21", "day", "2019-08-21", "2019-08-21", true}}},
		{"Shops open before Christmas.", []want{{"Christmas", "2019-12-25", "day", "2019-12-25", "2019-12-25", true}}},
		// relative periods
		{"Sales fell last week.", []want{{"last week", "2019-W33", "week", "2019-08-12", "2019-08-18", true}}},
		{"Sales fell this week.", []want{{"this week", "2019-W34", "week", "2019-08-19", "2019-08-25", true}}},
		{"The festival takes place this weekend.", []want{{"this weekend", "2019-W34-WE", "week", "2019-08-24", "2019-08-25", true}}},
		{"Talks resume next month.", []want{{"next month", "2019-09", "month", "2019-09-01", "2019-09-30", true}}},
		{"Prices rose last month.", []want{{"last month", "2019-07", "month", "2019-07-01", "2019-07-31", true}}},
		{"Growth this year is slow.", []want{{"this year", "2019", "year", "2019-01-01", "2019-12-31", true}}},
		{"Growth last year was slow.", []want{{"last year", "2018", "year", "2018-01-01", "2018-12-31", true}}},
		{"Growth next year will be slow.", []want{{"next year", "2020", "year", "2020-01-01", "2020-12-31", true}}},
		{"He resigned earlier this year.", []want{{"earlier this year", "2019", "year", "2019-01-01", "2019-08-21", true}}},
		{"It doubled over the past decade.", []want{{"the past decade", "201", "decade", "2009-08-21", "2019-08-21", true}}},
		{"‘66 years ago today, a coup", []want{{"66 years ago today", "1953-08-21", "day", "1953-08-21", "1953-08-21", true}}},
		{"He left two years ago.", []want{{"two years ago", "2017", "year", "2017-01-01", "2017-12-31", true}}},
		{"He left a week ago.", []want{{"a week ago", "2019-W33", "week", "2019-08-12", "2019-08-18", true}}},
		{"He left three months ago.", []want{{"three months ago", "2019-05", "month", "2019-05-01", "2019-05-31", true}}},
		{"They meet two weeks from now.", []want{{"two weeks from now", "2019-W36", "week", "2019-09-02", "2019-09-08", true}}},
		{"It will be built a year from now.", []want{{"a year from now", "2020", "year", "2020-01-01", "2020-12-31", true}}},
		// references to the present, past and future: a TIMEX3 token, no day range
		{"Morek is now surrounded.", []want{{"now", "PRESENT_REF", "ref", "", "", true}}},
		{"Now that he is in a confrontation, Iran wavers.", []want{{"Now", "PRESENT_REF", "ref", "", "", true}}},
		{"The company currently holds 4.2 million shares.", []want{{"currently", "PRESENT_REF", "ref", "", "", true}}},
		{"Kellogg's current share is under 40%.", []want{{"current", "PRESENT_REF", "ref", "", "", true}}},
		{"Up from the current four flights a week.", []want{{"current", "PRESENT_REF", "ref", "", "", true}}},
		{"at 50% of the then current market price", []want{{"then current", "PAST_REF", "ref", "", "", true}}},
		{"Magna recently cut its dividend.", []want{{"recently", "PAST_REF", "ref", "", "", true}}},
		{"More recently it has followed the militias.", []want{{"More recently", "PAST_REF", "ref", "", "", true}}},
		{"As the yen soared in recent years, losses grew.", []want{{"recent years", "PAST_REF", "ref", "", "", true}}},
		{"In the past, Russia has often claimed that.", []want{{"the past", "PAST_REF", "ref", "", "", true}}},
		{"than they have in the past.", []want{{"the past", "PAST_REF", "ref", "", "", true}}},
		{"clients more often in the future.", []want{{"the future", "FUTURE_REF", "ref", "", "", true}}},
		{"an offering in the near future.", []want{{"the near future", "FUTURE_REF", "ref", "", "", true}}},
		// the current quarter is still a period
		{"Sales in the current quarter rose.", []want{{"the current quarter", "2019-Q3", "quarter", "2019-07-01", "2019-09-30", true}}},
		// not dates
		{"the freed Iranian supertanker, Adrian Darya 1, to use Greek ports", nil},
		{"cutting interest rates by one percentage point", nil},
		{"The fund holds 3.5 million shares.", nil},
		{"More than 1,500 people fled.", nil},
		{"United won with a 2-1 win.", nil},
		{"The watch costs $2014.", nil},
		{"The camp holds 2014 people.", nil},
		{"The meeting starts at 10:30 and ends at 11.", nil},
		{"They shipped about 2000 tonnes.", nil},
		{"The Airbus A320 landed.", nil},
		{"Theresa May said Britain would leave.", nil},
		{"May I ask a question?", nil},
		{"the fall of Rome", nil},
		{"Turnout rose 12.5% and 2014% is not a year.", nil},
		{"Call 555-2014 or room 2014b.", nil},
		{"He scored 1999 points in his career.", nil},
		{"The Sunday Times reported it after Black Friday sales.", nil},
		// words TimeML tags in too few of their uses, and the nouns
		{"The recent sale and future earnings will soon show it.", nil},
		{"The current account deficit widened.", nil},
		{"That is important to the future of our peoples.", nil},
		{"Prices rose over the past four years and the past few days.", nil},
		{"NOW president Patricia Ireland said so.", nil},
		// years that are part of a name, and clock times
		{"It has acquired 2001 Distributors Inc of West Babylon.", nil},
		{"Spectrum 2000 Inc said the Army ordered more.", nil},
		{"notes backed by leases of Volvo 1986 Lease Finance Corp, a unit", nil},
		{"sold via California Cars Grantor Trust 1986-A, 514 mln dlrs", nil},
		{"Orders must be entered by 1530 EST Friday.", []want{{"Friday", "2019-08-23", "day", "2019-08-23", "2019-08-23", true}}},
		{"Trading runs from 1700 to 2100 local time.", nil},
		{"The trades entered by 1000 London time count.", nil},
		{"", nil},
	}
	x := New()
	for _, c := range cases {
		got := x.Extract("body", c.in, pub)
		if len(got) != len(c.want) {
			t.Errorf("%q: got %d mentions %+v, want %d", c.in, len(got), got, len(c.want))
			continue
		}
		for k, w := range c.want {
			g := got[k]
			gw := want{g.Text, g.Value, g.Granularity, g.GTE, g.LTE, g.Relative}
			if gw != w {
				t.Errorf("%q:\n got  %+v\n want %+v", c.in, gw, w)
			}
			if c.in[g.Start:g.End] != g.Text || g.Field != "body" {
				t.Errorf("%q: span %d:%d does not hold %q", c.in, g.Start, g.End, g.Text)
			}
		}
	}
}

// TestNeverPanics feeds awkward inputs: empty, invalid UTF-8, other scripts,
// zero and far-away publication times.
func TestNeverPanics(t *testing.T) {
	x := New()
	inputs := []string{"", " ", "\xff\xfe\xfd", "2019-", "Aug.", "the", "on Monday",
		"In 1996 und am 3. März 2019 — 北京 2008年8月8日", "66 years ago today", "9999 years ago",
		"Q", "Q9", "'9", "the '", strings.Repeat("1", 400), "August 99, 2019", "February 30, 2019", "Feb. 29"}
	times := []time.Time{{}, pub, time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC),
		time.Date(-50, 1, 1, 0, 0, 0, 0, time.UTC)}
	for _, in := range inputs {
		for _, p := range times {
			checkInvariants(t, in, x.Extract("title", in, p))
		}
	}
}

func checkInvariants(t testing.TB, text string, ms []article.DateMention) {
	t.Helper()
	last := -1
	for _, m := range ms {
		if m.Start < 0 || m.Start >= m.End || m.End > len(text) {
			t.Fatalf("%q: bad span %d:%d", text, m.Start, m.End)
		}
		if text[m.Start:m.End] != m.Text {
			t.Fatalf("%q: text %q != text[%d:%d]", text, m.Text, m.Start, m.End)
		}
		if m.Start < last {
			t.Fatalf("%q: mentions out of order or overlapping", text)
		}
		last = m.End
		if m.Granularity == "ref" {
			// a reference to the present, past or future has no range
			if m.GTE != "" || m.LTE != "" || !m.Relative ||
				m.Value != "PRESENT_REF" && m.Value != "PAST_REF" && m.Value != "FUTURE_REF" {
				t.Fatalf("%q: bad reference %+v", text, m)
			}
			continue
		}
		if m.GTE == "" || m.LTE == "" || m.GTE > m.LTE || m.Value == "" || m.Granularity == "" {
			t.Fatalf("%q: bad range %+v", text, m)
		}
		if _, err := time.Parse("2006-01-02", m.GTE); err != nil {
			t.Fatalf("%q: gte %q: %v", text, m.GTE, err)
		}
		if _, err := time.Parse("2006-01-02", m.LTE); err != nil {
			t.Fatalf("%q: lte %q: %v", text, m.LTE, err)
		}
		if utf8.ValidString(text) && !utf8.ValidString(m.Text) {
			t.Fatalf("%q: mention %q cuts a rune", text, m.Text)
		}
	}
}

// TestHugeText checks the scan stays linear: 4 MB of dense dates must take
// well under a second even with -race.
func TestHugeText(t *testing.T) {
	text := strings.Repeat("On Monday, in 1996, 21 August 2019 and the 1990s. ", 80_000)
	start := time.Now()
	ms := New().Extract("body", text, pub)
	if len(ms) != 4*80_000 {
		t.Errorf("got %d mentions, want %d", len(ms), 4*80_000)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("4 MB took %v", d)
	}
}

func TestConcurrent(t *testing.T) {
	x := New()
	text := "He said on Monday that in 1996 and last week prices fell."
	want := x.Extract("body", text, pub)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 200; k++ {
				got := x.Extract("body", text, pub)
				if len(got) != len(want) || got[0] != want[0] {
					t.Errorf("concurrent result differs: %+v", got)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func FuzzExtract(f *testing.F) {
	for _, s := range []string{"On Monday, 21 August 2019", "the mid-1990s", "66 years ago today",
		"8/21/2019", "Q3 2019", "last weekend", "\xff2014", "‘90s", "New Year's Eve"} {
		f.Add(s, int64(1566374400))
	}
	x := New()
	f.Fuzz(func(t *testing.T, text string, unix int64) {
		p := time.Unix(unix%(400*365*86400), 0)
		checkInvariants(t, text, x.Extract("body", text, p))
	})
}
