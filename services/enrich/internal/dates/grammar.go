package dates

import "time"

// parser holds one Extract call's state; it is never shared between goroutines.
type parser struct {
	text string
	toks []tok
	pub  time.Time // publication day, UTC midnight
	pubY int
	pubM int
	emit func(s, e int, v val)
	// lastQ is the last quarter mentioned, which "the quarter" and "a year
	// earlier" refer back to in company reports; hasQ says it is set.
	lastQ val
	hasQ  bool
}

// run walks the tokens once. At each token it tries the few rules its word class
// can start; a match skips past its tokens, so every token is looked at a bounded
// number of times and the whole pass is linear.
func (p *parser) run() {
	for i := 0; i < len(p.toks); {
		if end := p.at(i); end > i {
			i = end
			continue
		}
		i++
	}
}

// emitAnaphor emits a quarter that refers back to lastQ without becoming
// lastQ itself, so "a year earlier" twice does not go back two years.
func (p *parser) emitAnaphor(s, e int, v val) {
	q := p.lastQ
	p.emit(s, e, v)
	p.lastQ = q
}

// Token helpers; all are safe at any index.

func (p *parser) kind(i int) uint8 {
	if i < 0 || i >= len(p.toks) {
		return 0
	}
	return p.toks[i].kind
}

func (p *parser) class(i int) uint8 {
	if p.kind(i) != kWord {
		return 0
	}
	return p.toks[i].class
}

func (p *parser) flags(i int) uint16 {
	if p.kind(i) != kWord {
		return 0
	}
	return p.toks[i].flags
}

// adj reports that token i directly follows token i-1 with no space between.
func (p *parser) adj(i int) bool {
	return i > 0 && i < len(p.toks) && p.toks[i].s == p.toks[i-1].e
}

func (p *parser) isPunct(i int, c byte) bool {
	return p.kind(i) == kPunct && p.toks[i].num == int32(c)
}

func (p *parser) isWord(i int, w string) bool {
	if p.kind(i) != kWord {
		return false
	}
	t := p.toks[i]
	s := p.text[t.s:t.e]
	if len(s) != len(w) {
		return false
	}
	for k := 0; k < len(s); k++ {
		c := s[k]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != w[k] {
			return false
		}
	}
	return true
}

// isApos matches ' and the typographic ’ used for "'90s".
func (p *parser) isApos(i int) bool {
	return p.isPunct(i, '\'') || p.kind(i) == kOther && (p.toks[i].num == 0x2019 || p.toks[i].num == 0x2018)
}

// isDash matches -, – and — between two adjacent tokens.
func (p *parser) isDash(i int) bool {
	return p.isPunct(i, '-') || p.kind(i) == kOther && (p.toks[i].num == 0x2013 || p.toks[i].num == 0x2014)
}

// num returns the value of a number token with at most maxDigits digits, or -1.
func (p *parser) num(i, maxDigits int) int {
	if p.kind(i) != kNum || int(p.toks[i].nd) > maxDigits {
		return -1
	}
	return int(p.toks[i].num)
}

// year returns the value of a four-digit number in the range news uses, or -1.
func (p *parser) year(i int) int {
	if p.kind(i) != kNum || p.toks[i].nd != 4 {
		return -1
	}
	y := int(p.toks[i].num)
	if y < 1000 || y > 2100 {
		return -1
	}
	// "2019.5", "2014,500" and "2014%" are quantities.
	if p.adj(i+1) && (p.isPunct(i+1, '%') || (p.isPunct(i+1, '.') || p.isPunct(i+1, ',') || p.isPunct(i+1, ':')) && p.kind(i+2) == kNum && p.adj(i+2)) {
		return -1
	}
	if p.adj(i) && p.moneyOrNumber(i-1) {
		return -1
	}
	return y
}

// moneyOrNumber reports a token that turns a following adjacent number into a
// price, a decimal or part of a bigger number.
func (p *parser) moneyOrNumber(i int) bool {
	switch p.kind(i) {
	case kPunct:
		switch byte(p.toks[i].num) {
		case '$', '#', '+', '=':
			return true
		case '.', ',', ':', '/':
			return p.kind(i-1) == kNum && p.adj(i)
		}
	case kOther:
		switch p.toks[i].num {
		case '€', '£', '¥', '₹':
			return true
		}
	case kWord:
		return true // "A320", "F2014"
	}
	return false
}

// endsSentence bounds the tense search: . ! ? and ; end a sentence, except a
// period right after a short word such as "Aug" or "U.S"; a paragraph break
// (tok.nl) also starts a new one.
func (p *parser) endsSentence(i int) bool {
	if p.kind(i) != kPunct {
		return false
	}
	switch byte(p.toks[i].num) {
	case '!', '?', ';':
		return true
	case '.':
		if p.kind(i-1) == kWord && p.adj(i) && p.toks[i-1].e-p.toks[i-1].s <= 3 {
			return false
		}
		return true
	}
	return false
}

// direction decides whether the sentence around tokens [s,e) speaks of the
// future (+1) or the past (-1), or gives no cue (0): the nearest tense cue wins,
// so "said on Monday it will" is past.
func (p *parser) direction(s, e int) int {
	// "by Oct. 31", "until mid-November": a deadline, either side of publication
	b := s - 1
	if p.isWord(b, "on") {
		b--
	}
	if p.isWord(b, "by") || p.isWord(b, "until") || p.isWord(b, "till") {
		return 0
	}
	// "said on Monday": the saying is what the date is about
	if p.flags(b)&fReport != 0 {
		return -1
	}
	l, r := s-1, e
	lok, rok := true, true
	for step := 0; step < 12 && (lok || rok); step++ {
		if lok {
			if l < 0 || p.endsSentence(l) || p.toks[l+1].nl {
				lok = false
			} else {
				if f := p.tense(l); f != 0 {
					return f
				}
				l--
			}
		}
		if rok && step < 8 {
			if r >= len(p.toks) || p.endsSentence(r) || p.toks[r].nl {
				rok = false
			} else {
				if f := p.tense(r); f != 0 {
					return f
				}
				r++
			}
		}
	}
	return 0
}

// looksAhead is direction for rules that default to the past: with no cue,
// news speaks of what happened.
func (p *parser) looksAhead(s, e int) bool { return p.direction(s, e) > 0 }

// pick chooses among candidate periods (in time order) the one a writer on the
// publication day most likely meant: the latest one begun by then when the
// sentence looks back, the first one not yet over when it looks ahead, and
// otherwise the nearest, counting future ones as futurePenalty times further.
func (p *parser) pick(cands []val, dir int, futurePenalty float64) val {
	best, bestD := cands[0], -1.0
	for _, v := range cands {
		a, b := v.bounds()
		switch {
		case dir < 0 && a.After(p.pub), dir > 0 && b.Before(p.pub):
			continue
		case dir < 0:
			best, bestD = v, 0 // the latest begun so far
			continue
		case dir > 0:
			return v
		}
		d := 0.0
		if a.After(p.pub) {
			d = a.Sub(p.pub).Hours() * futurePenalty
		} else if b.Before(p.pub) {
			d = p.pub.Sub(b).Hours()
		}
		if bestD < 0 || d < bestD {
			best, bestD = v, d
		}
	}
	return best
}

// tense returns +1 for a future cue, -1 for a past cue, 0 otherwise.
func (p *parser) tense(i int) int {
	if p.kind(i) != kWord {
		return 0
	}
	f := p.toks[i].flags
	if f&fReport != 0 {
		return 0
	}
	if f&fFuture != 0 {
		return 1
	}
	if f&fPast != 0 && !p.auxBefore(i) {
		return -1
	}
	t := p.toks[i]
	if !t.cap && t.e-t.s > 4 && p.text[t.e-2:t.e] == "ed" && !p.auxBefore(i) {
		return -1
	}
	return 0
}

// auxBefore reports "be", "been", "to"... before a participle: "must be
// returned by Jan. 14" is not a past tense.
func (p *parser) auxBefore(i int) bool {
	for _, w := range [...]string{"be", "been", "being", "is", "are", "am", "has", "have", "to", "must", "should", "can", "may", "s"} {
		if p.isWord(i-1, w) {
			return true
		}
	}
	return false
}

// prevCtx reports that the word before token i makes a following number or
// month name a date ("in", "since", "by", "early"...).
func (p *parser) prevCtx(i int) bool {
	j := i - 1
	if p.kind(j) != kWord {
		return false
	}
	t := p.toks[j]
	return t.flags&fYearCtx != 0 || t.class == cDeictic || t.class == cMonth
}

// at tries the rules that can start at token i and returns the token after the
// match, or i when nothing matched.
func (p *parser) at(i int) int {
	t := p.toks[i]
	switch t.kind {
	case kNum:
		if e := p.numericDate(i); e > i {
			return e
		}
		if e := p.ago(i); e > i {
			return e
		}
		return p.phrase(i)
	case kWord:
		switch t.class {
		case cRelDay:
			return p.relDay(i)
		case cNumWord:
			if e := p.ago(i); e > i {
				return e
			}
		case cRef:
			return p.ref(i)
		case cNone, cOther, cAgo, cOf, cPod:
			if t.cap && p.text[t.s:t.e] == "Q" {
				return p.phrase(i)
			}
			return i
		}
		return p.phrase(i)
	case kPunct, kOther:
		if p.isApos(i) {
			return p.phrase(i)
		}
	}
	return i
}

// relDay: "yesterday", "today", "tomorrow", "tonight", with an optional part of day.
func (p *parser) relDay(i int) int {
	t := p.pub.AddDate(0, 0, int(p.toks[i].val))
	e := i + 1
	if p.class(e) == cPod {
		e++
	}
	p.emit(i, e, dayVal(t, true))
	return e
}

// count reads a small cardinal: "66", "two", "a", "sixty-six".
func (p *parser) count(i int) (n, next int) {
	switch p.kind(i) {
	case kNum:
		if p.toks[i].nd > 4 || p.adj(i) && p.moneyOrNumber(i-1) {
			return 0, i
		}
		return int(p.toks[i].num), i + 1
	case kWord:
		if p.toks[i].class != cNumWord {
			return 0, i
		}
		n = int(p.toks[i].val)
		if p.toks[i].flags&fTens != 0 && p.isDash(i+1) && p.adj(i+1) && p.adj(i+2) &&
			p.class(i+2) == cNumWord && p.toks[i+2].val < 10 {
			return n + int(p.toks[i+2].val), i + 3
		}
		return n, i + 1
	}
	return 0, i
}

// ago: "two years ago", "66 years ago today", "a week ago", "a year from now".
func (p *parser) ago(i int) int {
	n, j := p.count(i)
	if j == i || n <= 0 || n > 5000 || p.class(j) != cUnit {
		return i
	}
	// "a year ago", "a year earlier" after a quarter: that quarter a year before
	if n == 1 && p.toks[j].val == uYear && p.hasQ && (p.class(j+1) == cAgo || p.isWord(j+1, "earlier")) {
		p.emitAnaphor(i, j+2, quarterVal(p.lastQ.y-1, p.lastQ.n, true))
		return j + 2
	}
	e := j + 2
	switch {
	case p.class(j+1) == cAgo:
	case p.isWord(j+1, "from") && p.isWord(j+2, "now"):
		// "two years from now": the same count forward
		n, e = -n, j+3
	default:
		return i
	}
	u := int(p.toks[j].val)
	var v val
	switch u {
	case uDay:
		v = dayVal(p.pub.AddDate(0, 0, -n), true)
	case uWeek:
		v = weekVal(p.pub.AddDate(0, 0, -7*n), true)
	case uMonth:
		t := p.pub.AddDate(0, -n, 0)
		v = monthVal(t.Year(), int(t.Month()), true)
	case uYear:
		v = yearVal(p.pubY-n, true)
	case uDecade:
		v = decadeVal(p.pubY-10*n, true)
	case uCentury:
		v = centuryVal((p.pubY-100*n)/100, true)
	default:
		return i
	}
	if n > 0 && u >= uMonth && p.class(e) == cRelDay && p.toks[e].val == 0 && p.isWord(e, "today") {
		// "66 years ago today": the same calendar day then
		switch u {
		case uMonth:
			v = dayVal(p.pub.AddDate(0, -n, 0), true)
		case uYear:
			v = dayVal(p.pub.AddDate(-n, 0, 0), true)
		case uDecade:
			v = dayVal(p.pub.AddDate(-10*n, 0, 0), true)
		case uCentury:
			v = dayVal(p.pub.AddDate(-100*n, 0, 0), true)
		}
		e++
	}
	p.emit(i, e, v)
	return e
}

// numericDate: "2019-08-21", "2019/08/21", "8/21/2019", "21.08.2019".
func (p *parser) numericDate(i int) int {
	if p.adj(i) && (p.kind(i-1) == kNum || p.isPunct(i-1, '/') || p.isPunct(i-1, '.') || p.isPunct(i-1, '-') || p.kind(i-1) == kWord) {
		return i
	}
	sep := p.kind(i+1) == kPunct && p.adj(i+1)
	if !sep || !p.adj(i+2) || !p.adj(i+3) || !p.adj(i+4) || p.kind(i+2) != kNum || p.kind(i+4) != kNum {
		return i
	}
	c := byte(p.toks[i+1].num)
	if !p.isPunct(i+3, c) || c != '-' && c != '/' && c != '.' {
		return i
	}
	// a trailing "/7" or "-3" means a longer code, not a date
	if p.adj(i+5) && (p.isPunct(i+5, c) || p.kind(i+5) == kNum) {
		return i
	}
	a, b, d := p.toks[i], p.toks[i+2], p.toks[i+4]
	var y, m, dd int
	switch {
	case a.nd == 4 && b.nd == 2 && d.nd == 2 && c != '.':
		y, m, dd = int(a.num), int(b.num), int(d.num)
	case a.nd <= 2 && b.nd <= 2 && (d.nd == 4 || d.nd == 2 && c == '/'):
		y = int(d.num)
		if d.nd == 2 {
			y += 1900
			if y < 1950 {
				y += 100
			}
		}
		m, dd = int(a.num), int(b.num)
		// month first with slashes (US news), day first with dots and dashes;
		// either way round when the first number cannot be a month
		if c != '/' && int(b.num) <= 12 || m > 12 {
			m, dd = dd, m
		}
	default:
		return i
	}
	if y < 1000 || y > 2100 || m < 1 || m > 12 || dd < 1 || dd > daysIn(y, m) {
		return i
	}
	p.emit(i, i+5, dayVal(day(y, m, dd), false))
	return i + 5
}

// ordinal reads "third", "3rd", "twenty-first".
func (p *parser) ordinal(i int) (n, next int) {
	switch p.kind(i) {
	case kNum:
		if p.toks[i].nd <= 2 && p.kind(i+1) == kWord && p.adj(i+1) &&
			(p.isWord(i+1, "st") || p.isWord(i+1, "nd") || p.isWord(i+1, "rd") || p.isWord(i+1, "th")) {
			return int(p.toks[i].num), i + 2
		}
	case kWord:
		switch p.toks[i].class {
		case cOrdWord:
			return int(p.toks[i].val), i + 1
		case cNumWord:
			if p.toks[i].flags&fTens != 0 && p.isDash(i+1) && p.adj(i+1) && p.adj(i+2) && p.class(i+2) == cOrdWord && p.toks[i+2].val < 10 {
				return int(p.toks[i].val) + int(p.toks[i+2].val), i + 3
			}
		}
	}
	return 0, i
}

// dayNum reads a day of month, "21" or "21st", that is not part of a time or a decimal.
func (p *parser) dayNum(i int) (d, next int) {
	if n, j := p.ordinal(i); j > i && p.kind(i) == kNum {
		if n >= 1 && n <= 31 {
			return n, j
		}
		return 0, i
	}
	d = p.num(i, 2)
	if d < 1 || d > 31 {
		return 0, i
	}
	if p.adj(i+1) && (p.isPunct(i+1, '%') || p.kind(i+1) == kWord ||
		(p.isPunct(i+1, ':') || p.isPunct(i+1, '.') || p.isPunct(i+1, ',')) && p.kind(i+2) == kNum && p.adj(i+2)) {
		return 0, i
	}
	if p.adj(i) && p.moneyOrNumber(i-1) {
		return 0, i
	}
	return d, i + 1
}

// yearAfter reads an optional ", 2019" or " 2019" after a month or day.
func (p *parser) yearAfter(i int) (y, next int) {
	j := i
	if p.isPunct(j, ',') {
		j++
	}
	if y = p.year(j); y > 0 && !(p.adj(j+1) && p.kind(j+1) == kWord) {
		return y, j + 1
	}
	return 0, i
}

// monthYear resolves a month (and day) given without a year: see pick.
func (p *parser) monthYear(m, d, s, e int) int {
	var c [3]val
	for k := range c {
		if d > 0 {
			dd := min(d, daysIn(p.pubY-1+k, m))
			c[k] = dayVal(day(p.pubY-1+k, m, dd), true)
		} else {
			c[k] = monthVal(p.pubY-1+k, m, true)
		}
	}
	return p.pick(c[:], p.direction(s, e), 1).t.Year()
}

// phrase parses [the] [early|mid|late|earlier|later] [last|next|this...] [fiscal] HEAD
// where HEAD is a month, a day and month, a weekday, a season, a unit, a quarter,
// a year or a decade.
func (p *parser) phrase(i int) int {
	j := i
	the := p.class(j) == cThe
	if the {
		j++
	}
	mod := 0
	if p.class(j) == cMod {
		mod = int(p.toks[j].val)
		j++
		if p.isDash(j) && p.adj(j) && p.adj(j+1) {
			j++
		}
	}
	deic := 0
	if p.class(j) == cDeictic {
		deic = int(p.toks[j].val)
		j++
		if deic == dThis && p.class(j) == cDeictic && p.toks[j].val == dPast { // "this past spring"
			deic = dLast
			j++
		}
	}
	fiscal := false
	if p.class(j) == cFiscal {
		fiscal = true
		j++
		if p.isDash(j) && p.adj(j) {
			j++
		}
	}
	// Where the span starts: TimeML keeps "the" with quarters, decades and
	// seasons, but not with a plain year ("the 2008 crash").
	start := i
	if the && mod == 0 && deic == 0 {
		start = i + 1
		// "the future", "the near future"; not "the future of the party"
		k := j
		if p.isWord(k, "near") || p.isWord(k, "distant") {
			k++
		}
		if p.class(k) == cRef && p.toks[k].val == rFuture && !fiscal && p.class(k+1) != cOf {
			p.emit(i, k+1, refVal(rFuture))
			return k + 1
		}
	}
	if e := p.head(i, start, j, mod, deic, fiscal, the); e > i {
		return e
	}
	return p.deicticRef(i, j, mod, deic, fiscal, the)
}

// head parses what follows phrase's determiner, modifier and deictic word:
// see phrase.
func (p *parser) head(i, start, j, mod, deic int, fiscal, the bool) int {
	switch p.kind(j) {
	case kWord:
		switch p.toks[j].class {
		case cMonth:
			return p.month(i, start, j, mod, deic)
		case cWeekday:
			if mod != 0 || fiscal {
				return i
			}
			return p.weekday(start, j, deic)
		case cSeason:
			return p.season(i, j, mod, deic, the)
		case cUnit:
			return p.unit(i, j, mod, deic, the)
		case cPod:
			// "this morning", "last night"
			if mod == 0 && (deic == dThis || deic == dLast && p.isWord(j, "night")) {
				off := 0
				if deic == dLast {
					off = -1
				}
				p.emit(start, j+1, dayVal(p.pub.AddDate(0, 0, off), true))
				return j + 1
			}
			return i
		case cOrdWord, cNumWord:
			return p.ordinalHead(i, j, mod, deic, the, fiscal)
		case cHoliday:
			if mod != 0 || fiscal {
				return i
			}
			return p.holiday(start, j, deic)
		}
		if p.toks[j].cap && p.text[p.toks[j].s:p.toks[j].e] == "Q" {
			return p.qQuarter(i, j)
		}
	case kNum:
		if e := p.ordinalHead(i, j, mod, deic, the, fiscal); e > i {
			return e
		}
		if e := p.dayMonth(i, j, mod); e > i {
			return e
		}
		if deic == 0 {
			return p.yearHead(i, j, mod, fiscal, the)
		}
	case kPunct, kOther:
		if p.isApos(j) && deic == 0 {
			return p.yearHead(i, j, mod, fiscal, the)
		}
	}
	return i
}

// deicticRef: "in the past", "current" (TimeML's PRESENT_REF in "its current
// chairman"), "the then current price" (PAST_REF), when no period follows them.
func (p *parser) deicticRef(i, j, mod, deic int, fiscal, the bool) int {
	if mod != 0 || fiscal {
		return i
	}
	switch deic {
	case dPast:
		// "in the past", "the past, present and future"; not "the past four
		// years", "the past few days", "the past tumultuous year" (durations)
		if !the || j != i+2 || p.quantityNext(j) {
			return i
		}
		p.emit(i, j, refVal(rPast))
		return j
	case dCurrent:
		// "current" qualifies the word after it; "the current" on its own is
		// the noun, and "current account", "current assets" are accounting terms
		c := j - 1
		if k := p.kind(j); k != kNum && k != kWord || p.toks[j].nl {
			return i
		}
		for _, w := range [...]string{"account", "accounts", "assets", "liabilities"} {
			if p.isWord(j, w) {
				return i
			}
		}
		if p.isWord(c-1, "then") {
			p.emit(c-1, j, refVal(rPast))
		} else {
			p.emit(c, j, refVal(rPresent))
		}
		return j
	}
	return i
}

// quantityNext reports a count or a period word at j or just after it: "the
// past" then starts a duration, not a reference to the past.
func (p *parser) quantityNext(j int) bool {
	if p.kind(j) == kNum {
		return true
	}
	switch p.class(j) {
	case cNumWord, cOrdWord, cMonth, cWeekday, cSeason, cPod, cHoliday, cDeictic, cMod:
		return true
	}
	for k := j; k < j+3; k++ {
		if p.class(k) == cUnit || p.kind(k) == kNum {
			return true
		}
		if p.kind(k) != kWord {
			break
		}
	}
	for _, w := range [...]string{"few", "several", "couple", "many", "dozen"} {
		if p.isWord(j, w) {
			return true
		}
	}
	return false
}

// ref: "now", "currently", "recently", "more recently", "in recent years".
// "recent" alone and "future" alone are left out: TimeML tags them in too few of
// their uses ("recent sales", "future earnings").
func (p *parser) ref(i int) int {
	r := int(p.toks[i].val)
	switch {
	case r == rFuture:
		return i
	case p.isWord(i, "recent"):
		if p.class(i+1) != cUnit || p.toks[i+1].flags&fPlural == 0 {
			return i
		}
		p.emit(i, i+2, refVal(rPast))
		return i + 2
	case r == rPresent && p.acronym(i):
		return i // NOW, the National Organization for Women
	}
	s := i
	if r == rPast && p.isWord(i-1, "more") {
		s = i - 1
	}
	p.emit(s, i+1, refVal(r))
	return i + 1
}

// acronym reports an all-capitals word in mixed-case text: "NOW" in "NOW
// president" is a name, while "WTI NOW 17.00 DLRS" is a headline.
func (p *parser) acronym(i int) bool {
	caps := func(k int) bool {
		if p.kind(k) != kWord {
			return false
		}
		w := p.text[p.toks[k].s:p.toks[k].e]
		for n := 0; n < len(w); n++ {
			if w[n] >= 'a' {
				return false
			}
		}
		return len(w) > 1 || k == i
	}
	return caps(i) && !caps(i-1) && !caps(i+1)
}

// month: "August 21, 2019", "Aug. 21", "August 2019", "March of last year",
// "late November", "last March", "March".
func (p *parser) month(i, start, j, mod, deic int) int {
	t := p.toks[j]
	if !t.cap {
		return i
	}
	m := int(t.val)
	abbr := t.flags&fAbbr != 0
	k := j + 1
	if abbr && p.isPunct(k, '.') && p.adj(k) {
		k++
	}
	if p.kind(k) == kWord && p.adj(k) && !abbr {
		return i // "Mayor", caught by the scanner anyway
	}
	if mod == 0 && deic == 0 {
		if d, k2 := p.dayNum(k); k2 > k {
			if y, k3 := p.yearAfter(k2); y > 0 {
				if d > daysIn(y, m) {
					return i
				}
				p.emit(start, k3, dayVal(day(y, m, d), false))
				return k3
			}
			if d > 29 && m == 2 || d > daysIn(2000, m) {
				return i
			}
			y := p.monthYear(m, d, start, k2)
			if d > daysIn(y, m) {
				d = daysIn(y, m)
			}
			p.emit(start, k2, dayVal(day(y, m, d), true))
			return k2
		}
	}
	// an explicit year: "August 2019", "August, 2019", "March of 2019"
	kk := k
	if p.class(kk) == cOf || p.isPunct(kk, ',') {
		kk++
	}
	if y := p.year(kk); y > 0 && !(p.adj(kk+1) && p.kind(kk+1) == kWord) && deic == 0 {
		v := monthVal(y, m, false)
		v.mod = mod
		p.emit(start, kk+1, v)
		return kk + 1
	}
	// "March last year", "March of next year"
	kk = k
	if p.class(kk) == cOf {
		kk++
	}
	if deic == 0 && p.class(kk) == cDeictic && p.class(kk+1) == cUnit && p.toks[kk+1].val == uYear {
		y := p.pubY + deicticStep(int(p.toks[kk].val))
		v := monthVal(y, m, true)
		v.mod = mod
		p.emit(start, kk+2, v)
		return kk + 2
	}
	// a bare month: not an abbreviation, not "the March for Life" or "March of the Mothers"
	if abbr || start > i || p.class(k) == cOf {
		return i
	}
	// "May" is also a verb and a name, "May" is also a verb and a name, so it needs a date context
	if m == 5 && mod == 0 && deic == 0 && !p.prevCtx(start) {
		return i
	}
	var y int
	switch deic {
	case dLast, dPast:
		y = p.pubY
		if m >= p.pubM {
			y--
		}
	case dNext, dComing:
		y = p.pubY
		if m <= p.pubM {
			y++
		}
	case dThis, dCurrent:
		y = p.pubY
	case 0:
		y = p.monthYear(m, 0, start, k)
	default:
		return i
	}
	v := monthVal(y, m, true)
	v.mod = mod
	p.emit(start, k, v)
	return k
}

// dayMonth: "21 August 2019", "21st August", "the 21st of August".
func (p *parser) dayMonth(i, j, mod int) int {
	if mod != 0 {
		return i
	}
	d, k := p.dayNum(j)
	if k == j {
		return i
	}
	of := false
	if p.class(k) == cOf {
		of = true
		k++
	}
	if p.class(k) != cMonth || !p.toks[k].cap {
		return i
	}
	if of && p.kind(j+1) != kWord { // "21 of August" without an ordinal is a count
		return i
	}
	m := int(p.toks[k].val)
	k++
	if p.toks[k-1].flags&fAbbr != 0 && p.isPunct(k, '.') && p.adj(k) {
		k++
	}
	if y, k2 := p.yearAfter(k); y > 0 {
		if d > daysIn(y, m) {
			return i
		}
		p.emit(i, k2, dayVal(day(y, m, d), false))
		return k2
	}
	if d > daysIn(2000, m) {
		return i
	}
	y := p.monthYear(m, d, i, k)
	if d > daysIn(y, m) {
		d = daysIn(y, m)
	}
	p.emit(i, k, dayVal(day(y, m, d), true))
	return k
}

// weekday: "Monday", "last Monday", "next Friday morning", "Monday, Aug. 19".
func (p *parser) weekday(start, j, deic int) int {
	wd := int(p.toks[j].val)
	k := j + 1
	if p.weekdayName(j) {
		return start
	}
	// an explicit date right after wins: "Monday, August 19, 2019"
	kk := k
	if p.isPunct(kk, ',') {
		kk++
	}
	if p.class(kk) == cMonth || p.kind(kk) == kNum {
		var got val
		var ok bool
		saved := p.emit
		p.emit = func(s, e int, v val) { got, ok = v, true }
		e := p.phrase(kk)
		p.emit = saved
		if ok && e > kk && got.gran == gDay {
			p.emit(start, e, got)
			return e
		}
	}
	if p.class(k) == cPod {
		k++
	}
	pwd := int(p.pub.Weekday())
	var off int
	switch deic {
	case dLast, dPast:
		off = -((pwd-wd+6)%7 + 1)
	case dNext, dComing:
		off = (wd-pwd+6)%7 + 1
	case dThis, 0:
		if p.looksAhead(start, k) {
			off = (wd - pwd + 7) % 7
		} else {
			off = -((pwd - wd + 7) % 7)
		}
	default:
		return start
	}
	p.emit(start, k, dayVal(p.pub.AddDate(0, 0, off), true))
	return k
}

// season: "spring 2020", "last fall", "this summer", "the winter of 1994", "in the summer".
func (p *parser) season(i, j, mod, deic int, the bool) int {
	s := int(p.toks[j].val)
	k := j + 1
	kk := k
	if p.class(kk) == cOf || p.isPunct(kk, ',') {
		kk++
	}
	if y := p.year(kk); y > 0 && deic == 0 && !(p.adj(kk+1) && p.kind(kk+1) == kWord) {
		v := seasonVal(y, s, false)
		v.mod = mod
		p.emit(i, kk+1, v)
		return kk + 1
	}
	// without a year a season word needs a determiner or a date context
	if deic == 0 && !p.prevCtx(i) && !(the && (mod != 0 || p.isWord(i-1, "over") || p.isWord(i-1, "for"))) {
		return i
	}
	if !the && p.isWord(i-1, "to") || s == sFall && p.class(k) == cOf { // "to spring", "the fall of Rome"
		return i
	}
	c := [3]val{seasonVal(p.pubY-1, s, true), seasonVal(p.pubY, s, true), seasonVal(p.pubY+1, s, true)}
	var best val
	switch deic {
	case dLast, dPast: // the latest one over
		for _, v := range c {
			if _, b := v.bounds(); b.Before(p.pub) {
				best = v
			}
		}
	case dNext, dComing: // the first one not begun
		for k := len(c) - 1; k >= 0; k-- {
			if a, _ := c[k].bounds(); a.After(p.pub) {
				best = c[k]
			}
		}
	case dThis, dCurrent:
		best = p.pick(c[:], 0, 1)
	default:
		best = p.pick(c[:], p.direction(i, k), 1)
	}
	if best.t.IsZero() {
		return i
	}
	best.mod = mod
	p.emit(i, k, best)
	return k
}

// unit: "last week", "next month", "this year", "the past decade", "earlier this
// year", "the weekend", "the current quarter", "this century".
func (p *parser) unit(i, j, mod, deic int, the bool) int {
	t := p.toks[j]
	if t.flags&fPlural != 0 {
		return i
	}
	u := int(t.val)
	k := j + 1
	// "the year-earlier third quarter": that quarter of the year before
	if deic == 0 && mod == 0 && u == uYear && p.yearAgoAdj(k) {
		if q, kk := p.ordinal(k + 2); kk > k+2 && q >= 1 && q <= 4 && p.class(kk) == cUnit && p.toks[kk].val == uQuarter {
			y := p.pubY
			if p.hasQ {
				y = p.lastQ.y
			}
			p.emitAnaphor(i, kk+1, quarterVal(y-1, q, true))
			return kk + 1
		}
	}
	if deic == 0 && mod == 0 && p.hasQ {
		// "the quarter": the one just mentioned
		if u == uQuarter && the {
			p.emitAnaphor(i, k, p.lastQ)
			return k
		}
		// "year-earlier", "the year-ago quarter": that quarter a year before
		if u == uYear && p.yearAgoAdj(k) {
			s, e := j, k+2
			if p.isWord(e, "quarter") || p.isWord(e, "period") {
				e++
				if the {
					s = i
				}
			}
			p.emitAnaphor(s, e, quarterVal(p.lastQ.y-1, p.lastQ.n, true))
			return e
		}
	}
	bareWeekend := false // "the weekend"
	if deic == 0 {
		if u == uWeekend && the && mod == 0 {
			deic, bareWeekend = dThis, true
		} else {
			return i
		}
	}
	step := 0
	switch deic {
	case dLast:
		step = -1
	case dNext, dComing:
		step = 1
	case dThis, dCurrent:
	case dLatest:
		if u != uQuarter {
			return i
		}
		step = -1
	case dPast:
		if u != uDecade && u != uCentury {
			return i // "the past year" is a duration
		}
	}
	if deic == dLast && (u == uDecade || u == uCentury) {
		deic = dPast // "the last decade" is the ten years up to now
	}
	var v val
	switch u {
	case uDay:
		return i
	case uWeek:
		v = weekVal(p.pub.AddDate(0, 0, 7*step), true)
	case uWeekend:
		sat := p.pub.AddDate(0, 0, (6-int(p.pub.Weekday())+7)%7) // the coming or current Saturday
		if p.pub.Weekday() == time.Sunday {
			sat = p.pub.AddDate(0, 0, -1)
		}
		// "this weekend" is the coming one unless the sentence looks back;
		// "the weekend" the last one unless it looks ahead
		inWeekend := p.pub.Weekday() == time.Saturday || p.pub.Weekday() == time.Sunday
		switch dir := p.direction(i, k); {
		case step != 0:
			sat = sat.AddDate(0, 0, 7*step)
		case inWeekend:
		case bareWeekend && dir <= 0, !bareWeekend && dir < 0:
			sat = sat.AddDate(0, 0, -7)
		}
		v = weekendVal(sat, true)
	case uMonth:
		tt := p.pub.AddDate(0, step, 1-p.pub.Day())
		v = monthVal(tt.Year(), int(tt.Month()), true)
	case uQuarter:
		q := (p.pubM-1)/3 + 1 + step
		y := p.pubY
		if q < 1 {
			q, y = 4, y-1
		} else if q > 4 {
			q, y = 1, y+1
		}
		v = quarterVal(y, q, true)
	case uYear:
		v = yearVal(p.pubY+step, true)
		// "this year's third quarter"
		if p.isApos(k) && p.adj(k) && p.isWord(k+1, "s") && mod == 0 {
			if q, kk := p.ordinal(k + 2); kk > k+2 && q >= 1 && q <= 4 {
				if p.isDash(kk) && p.adj(kk) {
					kk++
				}
				if p.class(kk) == cUnit && p.toks[kk].val == uQuarter {
					p.emit(i, kk+1, quarterVal(p.pubY+step, q, true))
					return kk + 1
				}
			}
		}
	case uDecade:
		v = decadeVal(p.pubY+10*step, true)
		if deic == dPast {
			v.lo, v.hi = p.pub.AddDate(-10, 0, 0), p.pub
		}
	case uCentury:
		v = centuryVal(p.pubY/100+step, true)
		if deic == dPast {
			v.lo, v.hi = p.pub.AddDate(-100, 0, 0), p.pub
		}
	default:
		return i
	}
	v.mod = mod
	switch mod {
	case mEarlier:
		v.mod, v.hi = 0, p.pub
	case mLater:
		v.mod, v.lo = 0, p.pub
	}
	p.emit(i, k, v)
	return k
}

// ordinalHead: "the third quarter", "third-quarter", "the fiscal first quarter",
// "Q3 2019", "the 20th century".
func (p *parser) ordinalHead(i, j, mod, deic int, the, fiscal bool) int {
	n, k := p.ordinal(j)
	if k == j || deic != 0 {
		return i
	}
	if p.isDash(k) && p.adj(k) && p.adj(k+1) {
		k++
	}
	if p.class(k) != cUnit || p.toks[k].flags&fPlural != 0 {
		return i
	}
	switch p.toks[k].val {
	case uQuarter:
		if n < 1 || n > 4 {
			return i
		}
		return p.quarterYear(i, k+1, n, mod, fiscal)
	case uCentury:
		if n < 1 || n > 99 || mod != 0 && !the {
			return i
		}
		v := centuryVal(n-1, false)
		v.mod = mod
		p.emit(i, k+1, v)
		return k + 1
	}
	return i
}

// qQuarter: "Q3", "Q3 2019".
func (p *parser) qQuarter(i, j int) int {
	n := p.num(j+1, 1)
	if n < 1 || n > 4 || !p.adj(j+1) || p.adj(j+2) && p.kind(j+2) != kPunct {
		return i
	}
	return p.quarterYear(j, j+2, n, 0, false)
}

// quarterYear finishes a quarter: "of 2019", "of last year", " 2019", or the
// quarter nearest publication in the sentence's direction.
func (p *parser) quarterYear(i, k, q, mod int, fiscal bool) int {
	kk := k
	if p.class(kk) == cOf {
		kk++
	}
	if y := p.year(kk); y > 0 && !(p.adj(kk+1) && p.kind(kk+1) == kWord) {
		v := quarterVal(y, q, false)
		v.mod = mod
		p.emit(i, kk+1, v)
		return kk + 1
	}
	if p.class(k) == cOf && p.class(k+1) == cDeictic && p.class(k+2) == cUnit && p.toks[k+2].val == uYear {
		y := p.pubY + deicticStep(int(p.toks[k+1].val))
		v := quarterVal(y, q, true)
		v.mod = mod
		p.emit(i, k+3, v)
		return k + 3
	}
	// quarters are mostly reported after they end, whatever the tense; a
	// fiscal quarter is named by the calendar year it began in at the latest
	c := [3]val{quarterVal(p.pubY-1, q, true), quarterVal(p.pubY, q, true), quarterVal(p.pubY+1, q, true)}
	dir := 0
	if fiscal {
		dir = -1
	}
	y := p.pick(c[:], dir, 1.5).y
	v := quarterVal(y, q, true)
	v.mod = mod
	p.emit(i, k, v)
	return k
}

// yearHead: "2014", "in 1996" (the preposition is left out of the span), "the
// 1990s", "mid-1990s", "the '90s", "fiscal 1989", "early 2019".
func (p *parser) yearHead(i, j, mod int, fiscal, the bool) int {
	// "'90s"
	if p.isApos(j) {
		n := p.num(j+1, 2)
		if n < 0 || p.toks[j+1].nd != 2 || n%10 != 0 || !p.adj(j+1) || !p.adj(j+2) || !p.isWord(j+2, "s") || p.adj(j+3) && p.kind(j+3) == kWord {
			return i
		}
		y := 1900 + n
		if y+100 <= p.pubY {
			y += 100
		}
		v := decadeVal(y, false)
		v.mod = mod
		p.emit(i, j+3, v)
		return j + 3
	}
	y := p.year(j)
	if y < 0 {
		return i
	}
	// decades: "1990s", "1990's"
	if p.adj(j+1) && p.isWord(j+1, "s") && y%10 == 0 && !(p.adj(j+2) && p.kind(j+2) == kWord) {
		v := decadeVal(y, false)
		v.mod = mod
		p.emit(i, j+2, v)
		return j + 2
	}
	if p.adj(j+1) && p.isApos(j+1) && p.adj(j+2) && p.isWord(j+2, "s") && y%10 == 0 {
		v := decadeVal(y, false)
		v.mod = mod
		p.emit(i, j+3, v)
		return j + 3
	}
	if p.adj(j+1) && p.kind(j+1) == kWord {
		return i // "2014th", "1500m"
	}
	// "the 1988 third quarter"
	if q, k := p.ordinal(j + 1); k > j+1 && q >= 1 && q <= 4 {
		if p.isDash(k) && p.adj(k) {
			k++
		}
		if p.class(k) == cUnit && p.toks[k].val == uQuarter {
			p.emit(i, k+1, quarterVal(y, q, false))
			return k + 1
		}
	}
	start := j
	if mod != 0 || fiscal {
		start = i
		if the && mod == 0 {
			start = i + 1
		}
	} else if !p.bareYear(j) {
		return i
	}
	v := yearVal(y, false)
	v.mod = mod
	p.emit(start, j+1, v)
	return j + 1
}

// bareYear decides whether a four-digit number with no date word of its own is
// a year: after "in", "since", "by"... or a month; after "the" before a noun
// ("the 2008 crash"); or standing alone before punctuation. Before a noun or
// after "about", "some", "than" it is a quantity ("2014 people").
func (p *parser) bareYear(j int) bool {
	if p.adj(j) && (p.isDash(j-1) || p.isPunct(j-1, '/')) {
		// "1990-2000" is a range of years, "post-1959" a year, "2-2014" neither
		return p.year(j-2) > 0 || p.isWord(j-2, "post") || p.isWord(j-2, "pre") || p.isWord(j-2, "end")
	}
	if p.clockTime(j) {
		return false // "after 1530 EST", "by 1000 local time"
	}
	if p.prevCtx(j) {
		return true
	}
	if p.nameYear(j) {
		return false // "2001 Distributors Inc", "Grantor Trust 1986-A"
	}
	// "the 1986/87 crop", "the 2014-15 season"
	if (p.isPunct(j+1, '/') || p.isDash(j+1)) && p.adj(j+1) && p.adj(j+2) && p.kind(j+2) == kNum &&
		(p.toks[j+2].nd == 2 || p.toks[j+2].nd == 4) {
		return true
	}
	prevWord := p.kind(j-1) == kWord
	if prevWord && p.toks[j-1].flags&fQty != 0 {
		return false
	}
	if p.kind(j-1) == kNum {
		return false
	}
	if p.timeWord(j + 1) {
		return false // "at 1630 GMT", "1900 hours"
	}
	next := p.kind(j + 1)
	if next != 0 && p.toks[j+1].nl {
		next = 0 // the end of a paragraph
	}
	switch next {
	case kWord:
		// "the 2008 crash", "its 1990 invasion", "the company's 1989 results",
		// "his unsuccessful 1996 campaign"; but "2014 people", "1500 soldiers"
		if p.toks[j].num < 1800 {
			return false
		}
		if p.flags(j-1)&fDet != 0 || p.isWord(j-1, "s") && p.isApos(j-2) {
			return true
		}
		return !p.countNoun(j + 1)
	case kNum:
		// "1986 4th qtr"
		_, k := p.ordinal(j + 1)
		return k > j+1
	}
	if p.class(j-1) == cThe {
		return false
	}
	return true
}

// clockTime reports a four-digit number that is a 24-hour clock time: a valid
// HHMM followed by a time zone ("1530 EST", "1300 GMT") or by "[London|local]
// time". A zone abbreviation must be capitalised, so "2019 est." (estimated)
// stays a year.
func (p *parser) clockTime(j int) bool {
	n := int(p.toks[j].num)
	if n/100 > 23 || n%100 > 59 {
		return false
	}
	k := j + 1
	// the first end of a range: "from 1700 to 2100 local time"
	if (p.isWord(k, "to") || p.isWord(k, "and") || p.isWord(k, "or") || p.isDash(k)) && p.kind(k+1) == kNum &&
		p.toks[k+1].nd == 4 && p.clockZone(k+1) {
		return true
	}
	return p.clockZone(j)
}

// clockZone is clockTime without the range: the number at j and what follows it.
func (p *parser) clockZone(j int) bool {
	n := int(p.toks[j].num)
	if n/100 > 23 || n%100 > 59 {
		return false
	}
	k := j + 1
	if p.kind(k) != kWord || !p.toks[k].cap {
		return p.isWord(k, "local") && p.isWord(k+1, "time")
	}
	for _, w := range [...]string{"gmt", "utc", "est", "edt", "cst", "cdt", "mst", "mdt", "pst", "pdt", "bst", "cet", "cest"} {
		if p.isWord(k, w) {
			return true
		}
	}
	// "1000 London time"; but "the 2012 Olympic time trial"
	return p.isWord(k+1, "time") && p.flags(j-1)&fDet == 0
}

// nameYear reports a year that is part of a name rather than a date, with no
// temporal word before it (prevCtx is checked first): one inside a capitalised
// run that ends in a company's legal form ("acquired 2001 Distributors Inc",
// "Spectrum 2000 Inc", "Volvo 1986 Lease Finance Corp"), or one that a series
// letter follows ("Grantor Trust 1986-A"). A determiner before it keeps it a
// date: "the 1986 Chevron Corp offer" is about 1986.
func (p *parser) nameYear(j int) bool {
	if p.flags(j-1)&fDet != 0 || p.isWord(j-1, "s") && p.isApos(j-2) {
		return false
	}
	prevName := p.kind(j-1) == kWord && p.toks[j-1].cap && p.class(j-1) == cNone && !p.adj(j)
	// "Trust 1986-A": a series or tranche letter
	if prevName && p.isDash(j+1) && p.adj(j+1) && p.adj(j+2) && p.kind(j+2) == kWord && p.toks[j+2].cap &&
		p.toks[j+2].e-p.toks[j+2].s == 1 && !(p.adj(j+3) && p.kind(j+3) == kWord) {
		return true
	}
	// a capitalised run after the year that ends in a legal form; a legal form
	// right after the year ("for 1985 Group net") needs a name before the year
	for n, k := 0, j+1; n < 5; n, k = n+1, k+1 {
		if p.isPunct(k, '&') {
			continue
		}
		if p.kind(k) != kWord || !p.toks[k].cap || p.class(k) != cNone && p.class(k) != cOther || p.toks[k].nl {
			return false
		}
		if legalForm(p.text[p.toks[k].s:p.toks[k].e]) {
			return n > 0 || prevName
		}
	}
	return false
}

// legalForm reports a word that ends a company's name: "Inc", "Corp", "Ltd",
// "Plc", "AG", "Trust", "Holdings"...
func legalForm(w string) bool {
	switch w {
	case "Inc", "INC", "Corp", "CORP", "Co", "CO", "Cos", "Ltd", "LTD", "Plc", "PLC", "plc", "LLC", "Llc",
		"LP", "AG", "SA", "NV", "GmbH", "Bhd", "Pty", "Corporation", "Incorporated", "Limited",
		"Company", "Trust", "Fund", "Partners", "Holdings", "Group", "Bancorp", "Associates":
		return true
	}
	return false
}

// countNoun reports a word that a number counts: a plural ("soldiers") or one
// of the few irregular ones ("people").
func (p *parser) countNoun(i int) bool {
	t := p.toks[i]
	if t.kind != kWord || t.cap {
		return t.kind != kWord
	}
	w := p.text[t.s:t.e]
	switch w {
	case "people", "men", "women", "children", "police", "staff", "feet", "cattle", "sheep", "personnel":
		return true
	}
	if len(w) <= 3 || w[len(w)-1] != 's' || w[len(w)-2] == 's' {
		return false
	}
	// plurals that a year qualifies rather than a number counts: "1986 results"
	switch w {
	case "results", "earnings", "levels", "figures", "sales", "profits", "revenues", "accounts",
		"elections", "games", "olympics", "prices", "rates", "estimates", "forecasts", "totals",
		"returns", "losses", "dividends", "quotas", "crops", "talks", "accords", "protests",
		"attacks", "floods", "championships", "finals", "exports", "imports", "plans":
		return false
	}
	return true
}

// holiday: "Christmas", "Thanksgiving Day", "last Thanksgiving", "New Year's Eve",
// "Labor Day 2019". Those that are ordinary words ("new", "election") need "Day".
func (p *parser) holiday(start, j, deic int) int {
	t := p.toks[j]
	if !t.cap {
		return start
	}
	h := int(t.val)
	k := j + 1
	eve := false
	switch h {
	case hNewYear: // "New Year's Day", "New Year's Eve"
		if !p.isWord(k, "year") || !p.isApos(k+1) || !p.isWord(k+2, "s") {
			return start
		}
		k += 3
		if !p.isWord(k, "day") && !p.isWord(k, "eve") {
			return start
		}
	case hValentine: // "Valentine's Day"
		if !p.isApos(k) || !p.isWord(k+1, "s") {
			return start
		}
		k += 2
	}
	switch {
	case p.isWord(k, "day") && p.toks[k].cap:
		k++
	case p.isWord(k, "eve") && p.toks[k].cap:
		eve = true
		k++
	case h >= hNewYear:
		return start
	}
	date := func(y int) time.Time {
		var d time.Time
		switch h {
		case hChristmas:
			d = day(y, 12, 25)
		case hThanksgiving: // fourth Thursday of November
			d = nthWeekday(y, 11, time.Thursday, 4)
		case hHalloween:
			d = day(y, 10, 31)
		case hEaster:
			d = easter(y)
		case hNewYear:
			d = day(y, 1, 1)
		case hIndependence:
			d = day(y, 7, 4)
		case hElection: // the Tuesday after the first Monday of November
			d = nthWeekday(y, 11, time.Monday, 1).AddDate(0, 0, 1)
		case hLabor: // first Monday of September (US)
			d = nthWeekday(y, 9, time.Monday, 1)
		case hMemorial: // last Monday of May
			d = nthWeekday(y, 6, time.Monday, 1).AddDate(0, 0, -7)
		case hValentine:
			d = day(y, 2, 14)
		}
		if eve {
			d = d.AddDate(0, 0, -1)
		}
		return d
	}
	if y, k2 := p.yearAfter(k); y > 0 && deic == 0 {
		p.emit(start, k2, dayVal(date(y), false))
		return k2
	}
	c := [3]val{dayVal(date(p.pubY-1), true), dayVal(date(p.pubY), true), dayVal(date(p.pubY+1), true)}
	dir := 0
	switch deic {
	case dLast, dPast:
		dir = -1
	case dNext, dComing:
		dir = 1
	case 0, dThis:
		dir = p.direction(start, k)
	default:
		return start
	}
	v := p.pick(c[:], dir, 1)
	if deic == dLast && v.t.Equal(p.pub) {
		v = c[0]
	}
	p.emit(start, k, v)
	return k
}

// nthWeekday returns the n-th weekday wd of month m (n from 1).
func nthWeekday(y, m int, wd time.Weekday, n int) time.Time {
	first := day(y, m, 1)
	off := (int(wd) - int(first.Weekday()) + 7) % 7
	return first.AddDate(0, 0, off+7*(n-1))
}

// easter is Western Easter Sunday (the anonymous Gregorian algorithm).
func easter(y int) time.Time {
	a, b, c := y%19, y/100, y%100
	d, e := b/4, b%4
	f := (b + 8) / 25
	g := (b - f + 1) / 3
	h := (19*a + b - d - g + 15) % 30
	i, k := c/4, c%4
	l := (32 + 2*e + 2*i - h - k) % 7
	m := (a + 11*h + 22*l) / 451
	month := (h + l - 7*m + 114) / 31
	dd := (h+l-7*m+114)%31 + 1
	return day(y, month, dd)
}

// yearAgoAdj matches "-earlier" or "-ago" right after "year" at k.
func (p *parser) yearAgoAdj(k int) bool {
	return p.isDash(k) && p.adj(k) && p.adj(k+1) && (p.isWord(k+1, "earlier") || p.isWord(k+1, "ago"))
}

// weekdayName reports a weekday that is part of a name rather than a date:
// "the Sunday Times", "Mail on Sunday", "Black Friday", "Super Tuesday".
func (p *parser) weekdayName(j int) bool {
	for _, w := range [...]string{"times", "telegraph", "mirror", "express", "herald", "tribune",
		"post", "mail", "independent", "night", "sport", "star", "people", "school"} {
		if p.isWord(j+1, w) && p.toks[j+1].cap {
			return true
		}
	}
	if p.isWord(j-1, "on") && p.isWord(j-2, "mail") {
		return true
	}
	if p.kind(j-1) == kWord && p.toks[j-1].cap {
		for _, w := range [...]string{"black", "good", "super", "ash", "bloody", "cyber", "palm",
			"holy", "maundy", "shrove", "easter", "manic", "whit", "giving"} {
			if p.isWord(j-1, w) {
				return true
			}
		}
	}
	return false
}

// timeWord reports a word that makes a number before it a clock time.
func (p *parser) timeWord(i int) bool {
	for _, w := range [...]string{"gmt", "utc", "est", "edt", "cst", "cdt", "pst", "pdt", "bst", "cet",
		"cest", "hours", "hrs", "hour", "local", "am", "pm", "h"} {
		if p.isWord(i, w) {
			return true
		}
	}
	return false
}

// deicticStep is the direction a deictic word points in: -1 for "last"/"past", +1 for
// "next"/"coming", 0 otherwise ("this year" is the publication year).
func deicticStep(d int) int {
	switch d {
	case dLast, dPast:
		return -1
	case dNext, dComing:
		return 1
	}
	return 0
}
