package dates

// Word classes: the scanner looks every short word up once, and the grammar only
// ever switches on these small integers, never on strings.
const (
	cNone    uint8 = iota
	cMonth         // val 1..12
	cWeekday       // val time.Weekday
	cRelDay        // val -1, 0, +1 (yesterday, today, tomorrow)
	cUnit          // val uDay..uWeekend
	cSeason        // val sSpring..sWinter
	cDeictic       // val dLast..dLatest
	cMod           // val mEarly..mLater
	cNumWord       // val the number
	cOrdWord       // val the ordinal
	cAgo
	cPod // part of day: morning, afternoon, evening, night
	cThe
	cOf
	cFiscal
	cHoliday // val hXxx
	cRef     // val rPresent..rFuture: "now", "recently", "recent", "future"
	cOther   // a word that only carries flags
)

// References to the present, past or future as a whole, which TimeML tags with
// the value PRESENT_REF, PAST_REF or FUTURE_REF rather than a calendar date.
const (
	rPresent = iota + 1
	rPast
	rFuture
)

// Holidays news dates things by.
const (
	hChristmas = iota + 1
	hThanksgiving
	hHalloween
	hEaster
	hNewYear
	hIndependence
	hElection
	hLabor
	hMemorial
	hValentine
)

// Flags give a word secondary roles for context tests.
const (
	fAbbr    uint16 = 1 << iota // month abbreviation: needs a day or year next to it
	fPlural                     // plural unit ("years")
	fYearCtx                    // a bare number after it is probably a year ("in 1996")
	fQty                        // a number after it is probably a quantity ("about 2000")
	fFuture                     // marks a sentence that looks ahead ("will", "next")
	fPast                       // marks a sentence that looks back ("said", "was")
	fTens                       // twenty, thirty...: may take "-six"
	fDet                        // a determiner or possessive: "its 1990 invasion"
	fReport                     // a reporting verb: says nothing about the tense of what is reported
)

// Units.
const (
	uDay = iota + 1
	uWeek
	uMonth
	uQuarter
	uYear
	uDecade
	uCentury
	uWeekend
)

// Seasons in TIMEX3 order of their codes.
const (
	sSpring = iota
	sSummer
	sFall
	sWinter
)

// Deictic words.
const (
	dLast = iota + 1
	dNext
	dThis
	dPast
	dComing
	dCurrent
	dLatest
)

// Modifiers that narrow a period.
const (
	mEarly = iota + 1
	mMid
	mLate
	mEarlier
	mLater
)

type lex struct {
	class uint8
	val   int8
	flags uint16
}

// maxWord is the longest word worth a lookup; longer words are never date words.
const maxWord = 12

var lexicon = map[string]lex{}

func add(class uint8, val int8, flags uint16, words ...string) {
	for _, w := range words {
		l := lexicon[w]
		if l.class == cNone || l.class == cOther {
			l.class, l.val = class, val
		}
		l.flags |= flags
		lexicon[w] = l
	}
}

func init() {
	months := []string{"january", "february", "march", "april", "may", "june", "july",
		"august", "september", "october", "november", "december"}
	abbr := []string{"jan", "feb", "mar", "apr", "", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}
	for i, m := range months {
		add(cMonth, int8(i+1), 0, m)
		if abbr[i] != "" {
			add(cMonth, int8(i+1), fAbbr, abbr[i])
		}
	}
	add(cMonth, 9, fAbbr, "sept")
	for i, d := range []string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"} {
		add(cWeekday, int8(i), 0, d)
	}
	add(cRelDay, -1, 0, "yesterday")
	add(cRelDay, 0, 0, "today", "tonight")
	add(cRelDay, 1, fFuture, "tomorrow")

	add(cUnit, uDay, 0, "day")
	add(cUnit, uDay, fPlural, "days")
	add(cUnit, uWeek, 0, "week")
	add(cUnit, uWeek, fPlural, "weeks")
	add(cUnit, uMonth, 0, "month")
	add(cUnit, uMonth, fPlural, "months")
	add(cUnit, uQuarter, 0, "quarter")
	add(cUnit, uQuarter, fPlural, "quarters")
	add(cUnit, uYear, fYearCtx, "year")
	add(cUnit, uYear, fPlural, "years")
	add(cUnit, uDecade, 0, "decade")
	add(cUnit, uDecade, fPlural, "decades")
	add(cUnit, uCentury, 0, "century")
	add(cUnit, uCentury, fPlural, "centuries")
	add(cUnit, uWeekend, 0, "weekend")

	add(cSeason, sSpring, fYearCtx, "spring")
	add(cSeason, sSummer, fYearCtx, "summer")
	add(cSeason, sFall, fYearCtx, "fall", "autumn")
	add(cSeason, sWinter, fYearCtx, "winter")

	add(cDeictic, dLast, 0, "last", "previous", "prior")
	add(cDeictic, dNext, fFuture, "next")
	add(cDeictic, dNext, 0, "following")
	add(cDeictic, dThis, 0, "this")
	add(cDeictic, dPast, 0, "past")
	add(cDeictic, dComing, fFuture, "coming", "upcoming")
	add(cDeictic, dCurrent, 0, "current")
	add(cDeictic, dLatest, 0, "latest")

	add(cMod, mEarly, fYearCtx, "early")
	add(cMod, mMid, fYearCtx, "mid", "middle")
	add(cMod, mLate, fYearCtx, "late")
	add(cMod, mEarlier, 0, "earlier")
	add(cMod, mLater, fFuture, "later")

	for i, w := range []string{"one", "two", "three", "four", "five", "six", "seven", "eight",
		"nine", "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
		"seventeen", "eighteen", "nineteen"} {
		add(cNumWord, int8(i+1), 0, w)
	}
	add(cNumWord, 1, 0, "a", "an")
	for i, w := range []string{"twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"} {
		add(cNumWord, int8(20+10*i), fTens, w)
	}
	for i, w := range []string{"first", "second", "third", "fourth", "fifth", "sixth", "seventh",
		"eighth", "ninth", "tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth",
		"sixteenth", "seventeenth", "eighteenth", "nineteenth", "twentieth"} {
		add(cOrdWord, int8(i+1), 0, w)
	}
	add(cOther, 0, fDet, "the", "a", "its", "his", "her", "their", "our", "your", "my", "this",
		"that", "both", "every", "each", "whose")
	add(cHoliday, hChristmas, 0, "christmas")
	add(cHoliday, hThanksgiving, 0, "thanksgiving")
	add(cHoliday, hHalloween, 0, "halloween")
	add(cHoliday, hEaster, 0, "easter")
	add(cHoliday, hNewYear, 0, "new")
	add(cHoliday, hIndependence, 0, "independence")
	add(cHoliday, hElection, 0, "election")
	add(cHoliday, hLabor, 0, "labor", "labour")
	add(cHoliday, hMemorial, 0, "memorial")
	add(cHoliday, hValentine, 0, "valentine")
	// "now", "currently" and "recently" are tagged on their own; "recent" only
	// before a plural unit ("in recent years") and "future" only as "the
	// future". Each form is kept only where TimeML annotators tag most of its
	// uses (TempEval-3 TBAQ: "now" 60 of 85, "recently" 12 of 19, "the future"
	// 6 of 8); "soon" (5 of 18), "previously" (3 of 23), "recent" and "future"
	// alone (about 2 in 5 and 1 in 3) cost more than they bring.
	add(cRef, rPresent, 0, "now", "currently")
	add(cRef, rPast, 0, "recently", "recent")
	add(cRef, rFuture, 0, "future")
	add(cAgo, 0, 0, "ago")
	add(cPod, 0, 0, "morning", "afternoon", "evening", "night")
	add(cThe, 0, 0, "the")
	add(cOf, 0, fYearCtx, "of")
	add(cFiscal, 0, fYearCtx, "fiscal")

	add(cOther, 0, fYearCtx, "in", "since", "by", "until", "till", "from", "to", "before", "after",
		"through", "during", "between", "and", "circa", "around", "throughout", "fy", "year", "or", "into", "post", "pre", "calendar", "end")
	add(cOther, 0, fQty, "about", "some", "nearly", "almost", "over", "under", "than",
		"approximately", "roughly", "only", "just", "least", "most", "total", "additional")
	add(cOther, 0, fFuture, "will", "shall", "ll", "due", "plans", "plan", "planned", "planning",
		"scheduled", "expected", "expects", "expect", "going", "intends", "aims", "hopes", "soon", "later", "tomorrow", "tonight")
	add(cOther, 0, fFuture, "effective", "payable", "expire", "expires", "deadline", "pending")
	add(cOther, 0, fFuture, "should", "must")
	add(cOther, 0, fReport, "said", "says", "told", "reported", "announced", "added", "stated",
		"noted", "confirmed", "declared", "explained", "insisted", "warned", "claimed")
	add(cOther, 0, fPast, "was", "were", "had", "did", "came", "went", "met",
		"held", "took", "made", "began", "won", "lost", "saw", "gave", "got", "fell", "rose",
		"ago", "yesterday", "last", "earlier", "ran", "struck", "sent", "sold", "bought", "spent",
		"paid", "led", "became", "fought", "broke", "spoke", "wrote", "drew", "brought", "thought",
		"caught", "sought", "built", "kept", "felt", "stood", "found", "knew", "grew", "threw",
		"flew", "withdrew", "chose", "drove", "fled", "shot", "stole", "swore", "taught", "meant",
		"ended", "since")
}

func lookup(s string) lex {
	if len(s) > maxWord {
		return lex{}
	}
	var buf [maxWord]byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return lexicon[string(buf[:len(s)])]
}
