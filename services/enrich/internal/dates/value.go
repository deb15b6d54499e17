package dates

import (
	"strconv"
	"time"
)

// Granularities, as docs/ARCHITECTURE.md names them (article.DateMention's granularity).
const (
	gDay = iota + 1
	gWeek
	gWeekend
	gMonth
	gQuarter
	gSeason
	gYear
	gDecade
	gCentury
	gRef // PRESENT_REF, PAST_REF, FUTURE_REF: no calendar period, so no day range
)

var granName = [...]string{gDay: "day", gWeek: "week", gWeekend: "week", gMonth: "month",
	gQuarter: "quarter", gSeason: "season", gYear: "year", gDecade: "decade", gCentury: "century",
	gRef: "ref"}

// refValue is the TIMEX3 value of a reference to the present, past or future.
var refValue = [...]string{rPresent: "PRESENT_REF", rPast: "PAST_REF", rFuture: "FUTURE_REF"}

// refVal is "now" (rPresent), "recently" (rPast) or "the future" (rFuture).
func refVal(r int) val { return val{gran: gRef, n: r, rel: true} }

var seasonCode = [...]string{sSpring: "SP", sSummer: "SU", sFall: "FA", sWinter: "WI"}

// val is a resolved date before formatting: a period of granularity gran that
// starts on day t (UTC midnight). For seasons and quarters n is the season or
// quarter number and y its year.
type val struct {
	gran int
	t    time.Time
	y, n int
	mod  int
	rel  bool
	// lo/hi, when set, replace the period's own first/last day (e.g. "the past decade").
	lo, hi time.Time
}

func day(y, m, d int) time.Time { return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC) }

func daysIn(y, m int) int { return day(y, m+1, 0).Day() }

// mondayOf returns the Monday of t's ISO week.
func mondayOf(t time.Time) time.Time {
	wd := (int(t.Weekday()) + 6) % 7 // Monday = 0
	return t.AddDate(0, 0, -wd)
}

func dayVal(t time.Time, rel bool) val  { return val{gran: gDay, t: t, rel: rel} }
func weekVal(t time.Time, rel bool) val { return val{gran: gWeek, t: mondayOf(t), rel: rel} }
func monthVal(y, m int, rel bool) val   { return val{gran: gMonth, t: day(y, m, 1), rel: rel} }
func yearVal(y int, rel bool) val       { return val{gran: gYear, t: day(y, 1, 1), rel: rel} }
func decadeVal(y int, rel bool) val     { return val{gran: gDecade, t: day(y-y%10, 1, 1), rel: rel} }
func quarterVal(y, q int, rel bool) val {
	return val{gran: gQuarter, t: day(y, 3*q-2, 1), y: y, n: q, rel: rel}
}
func weekendVal(sat time.Time, rel bool) val {
	return val{gran: gWeekend, t: sat, rel: rel}
}

// seasonVal: spring is March-May, summer June-August, fall September-November and
// winter December of the year before to February (so "winter 2020" is the one 2020 starts in).
func seasonVal(y, s int, rel bool) val {
	m := 3 + 3*s
	yy := y
	if s == sWinter {
		m, yy = 12, y-1
	}
	return val{gran: gSeason, t: day(yy, m, 1), y: y, n: s, rel: rel}
}

// centuryVal takes the TIMEX3 century number: 19 is 1900-1999 ("the 20th century").
func centuryVal(c int, rel bool) val { return val{gran: gCentury, t: day(c*100, 1, 1), y: c, rel: rel} }

// bounds returns the first and last day the period covers.
func (v val) bounds() (lo, hi time.Time) {
	lo = v.t
	switch v.gran {
	case gDay:
		hi = lo
	case gWeek:
		hi = lo.AddDate(0, 0, 6)
	case gWeekend:
		hi = lo.AddDate(0, 0, 1)
	case gMonth:
		hi = lo.AddDate(0, 1, -1)
	case gQuarter, gSeason:
		hi = lo.AddDate(0, 3, -1)
	case gYear:
		hi = lo.AddDate(1, 0, -1)
	case gDecade:
		hi = lo.AddDate(10, 0, -1)
	case gCentury:
		hi = lo.AddDate(100, 0, -1)
	}
	// early/mid/late narrow the range to its first, middle or last part:
	// days 1-10/11-20/21- of a month, Jan-Apr/May-Aug/Sep-Dec of a year,
	// years 0-3/3-6/7-9 of a decade; other periods by thirds of their days.
	if v.mod == mEarly || v.mod == mMid || v.mod == mLate {
		k := v.mod - mEarly // 0, 1, 2
		switch v.gran {
		case gMonth:
			lo, hi = lo.AddDate(0, 0, 10*k), lo.AddDate(0, 0, 10*k+9)
			if k == 2 {
				hi = lo.AddDate(0, 1, -lo.Day())
			}
		case gYear:
			lo, hi = lo.AddDate(0, 4*k, 0), lo.AddDate(0, 4*k+4, -1)
		case gDecade:
			a, b := [3]int{0, 3, 7}[k], [3]int{3, 6, 9}[k]
			lo, hi = lo.AddDate(a, 0, 0), lo.AddDate(b+1, 0, -1)
		case gCentury:
			a, b := [3]int{0, 33, 67}[k], [3]int{33, 66, 99}[k]
			lo, hi = lo.AddDate(a, 0, 0), lo.AddDate(b+1, 0, -1)
		default:
			n := int(hi.Sub(lo).Hours()/24) + 1
			if n >= 3 {
				a, b := n/3, 2*n/3
				switch k {
				case 0:
					hi = lo.AddDate(0, 0, a-1)
				case 1:
					lo, hi = lo.AddDate(0, 0, a), lo.AddDate(0, 0, b-1)
				case 2:
					lo = lo.AddDate(0, 0, b)
				}
			}
		}
	}
	if !v.lo.IsZero() {
		lo = v.lo
	}
	if !v.hi.IsZero() {
		hi = v.hi
	}
	if hi.Before(lo) {
		hi = lo
	}
	return lo, hi
}

// format writes the TIMEX3 value and the day range. It reports false for dates
// outside years 1-9999, which TIMEX3 and the search index cannot hold.
//
// A reference (gRef) has a value but no range: "now" or "the past" is not a
// period a date-range query or a chart should count, so gte and lte stay empty.
func (v val) format(buf []byte) (value, gte, lte string, ok bool) {
	if v.gran == gRef {
		return refValue[v.n], "", "", true
	}
	lo, hi := v.bounds()
	if lo.Year() < 1 || hi.Year() > 9999 || lo.Year() > 9999 {
		return "", "", "", false
	}
	buf = buf[:0]
	switch v.gran {
	case gDay:
		buf = appendDate(buf, v.t)
	case gWeek, gWeekend:
		y, w := v.t.ISOWeek()
		if y < 1 || y > 9999 {
			return "", "", "", false
		}
		buf = append4(buf, y)
		buf = append(buf, "-W"...)
		buf = append2(buf, w)
		if v.gran == gWeekend {
			buf = append(buf, "-WE"...)
		}
	case gMonth:
		buf = append4(buf, v.t.Year())
		buf = append(buf, '-')
		buf = append2(buf, int(v.t.Month()))
	case gQuarter:
		buf = append4(buf, v.y)
		buf = append(buf, "-Q"...)
		buf = strconv.AppendInt(buf, int64(v.n), 10)
	case gSeason:
		if v.y < 1 || v.y > 9999 {
			return "", "", "", false
		}
		buf = append4(buf, v.y)
		buf = append(buf, '-')
		buf = append(buf, seasonCode[v.n]...)
	case gYear:
		buf = append4(buf, v.t.Year())
	case gDecade:
		// TIMEX3 writes a decade as its first three digits: "199" is the 1990s
		buf = append4(buf, v.t.Year())
		buf = buf[:len(buf)-1]
	case gCentury:
		buf = append2(buf, v.y)
	default:
		return "", "", "", false
	}
	value = string(buf)
	buf = appendDate(buf[:0], lo)
	gte = string(buf)
	if hi.Equal(lo) {
		lte = gte
	} else {
		buf = appendDate(buf[:0], hi)
		lte = string(buf)
	}
	return value, gte, lte, true
}

func appendDate(b []byte, t time.Time) []byte {
	y, m, d := t.Date()
	b = append4(b, y)
	b = append(b, '-')
	b = append2(b, int(m))
	b = append(b, '-')
	return append2(b, d)
}

func append4(b []byte, n int) []byte {
	return append(b, byte('0'+n/1000%10), byte('0'+n/100%10), byte('0'+n/10%10), byte('0'+n%10))
}

func append2(b []byte, n int) []byte {
	return append(b, byte('0'+n/10%10), byte('0'+n%10))
}
