package httpdate

import (
	"bytes"
	"time"

	"github.com/flowcache/flowcache/internal/httplex"
)

// Parse parses an HTTP date in any of the three formats of RFC 9110,
// Section 5.6.7, and returns it in UTC. ok is false if b is not a valid date.
// It does not allocate.
func Parse(b []byte) (t time.Time, ok bool) {
	return parse(b, 0)
}

// parse is Parse with the current year given, for RFC 850 two-digit years;
// 0 reads it from the clock, only when needed.
func parse(b []byte, nowYear int) (time.Time, bool) {
	b = httplex.TrimOWS(b)
	if len(b) < 4 {
		return time.Time{}, false
	}
	switch {
	case b[3] == ',':
		return parseIMF(b)
	case b[3] == ' ':
		return parseASC(b)
	default:
		return parseRFC850(b, nowYear)
	}
}

// parseIMF parses "Sun, 06 Nov 1994 08:49:37 GMT".
func parseIMF(b []byte) (time.Time, bool) {
	if len(b) != 29 || dayName(b[0:3]) < 0 || b[4] != ' ' || b[7] != ' ' || b[11] != ' ' ||
		b[16] != ' ' || string(b[25:]) != " GMT" {
		return time.Time{}, false
	}
	day, ok1 := digits(b[5:7])
	mon := monthName(b[8:11])
	year, ok2 := digits(b[12:16])
	if !ok1 || !ok2 || mon < 0 {
		return time.Time{}, false
	}
	return build(year, mon, day, b[17:25])
}

// parseRFC850 parses "Sunday, 06-Nov-94 08:49:37 GMT".
func parseRFC850(b []byte, nowYear int) (time.Time, bool) {
	comma := bytes.IndexByte(b[:min(len(b), 10)], ',')
	if comma < 0 || !longDayName(b[:comma]) {
		return time.Time{}, false
	}
	b = b[comma:]
	// ", 06-Nov-94 08:49:37 GMT"
	if len(b) != 24 || b[1] != ' ' || b[4] != '-' || b[8] != '-' || b[11] != ' ' ||
		string(b[20:]) != " GMT" {
		return time.Time{}, false
	}
	day, ok1 := digits(b[2:4])
	mon := monthName(b[5:8])
	yy, ok2 := digits(b[9:11])
	if !ok1 || !ok2 || mon < 0 {
		return time.Time{}, false
	}
	if nowYear == 0 {
		nowYear = time.Now().UTC().Year()
	}
	year := nowYear - nowYear%100 + yy
	if year > nowYear+50 {
		year -= 100
	}
	return build(year, mon, day, b[12:20])
}

// parseASC parses "Sun Nov  6 08:49:37 1994".
func parseASC(b []byte) (time.Time, bool) {
	if len(b) != 24 || dayName(b[0:3]) < 0 || b[7] != ' ' || b[10] != ' ' || b[19] != ' ' {
		return time.Time{}, false
	}
	mon := monthName(b[4:7])
	d := b[8:10]
	if d[0] == ' ' {
		d = d[1:]
	}
	day, ok1 := digits(d)
	year, ok2 := digits(b[20:24])
	if !ok1 || !ok2 || mon < 0 {
		return time.Time{}, false
	}
	return build(year, mon, day, b[11:19])
}

// build checks the ranges and assembles the time; clock is "hh:mm:ss".
func build(year, mon, day int, clock []byte) (time.Time, bool) {
	if clock[2] != ':' || clock[5] != ':' {
		return time.Time{}, false
	}
	h, ok1 := digits(clock[0:2])
	m, ok2 := digits(clock[3:5])
	s, ok3 := digits(clock[6:8])
	if !ok1 || !ok2 || !ok3 || h > 23 || m > 59 || s > 60 ||
		day < 1 || day > daysIn(time.Month(mon+1), year) {
		return time.Time{}, false
	}
	secs := daysFromCivil(year, mon+1, day)*86400 + int64(h*3600+m*60+s)
	return time.Unix(secs, 0).UTC(), true
}

// daysFromCivil returns the number of days from 1970-01-01 to the given
// proleptic Gregorian date (H. Hinnant's algorithm); cheaper than time.Date.
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 { // only January and February of year 0
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12 // March = 0
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

func daysIn(m time.Month, year int) int {
	switch m {
	case time.February:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	default:
		return 31
	}
}

// digits parses 1 to 4 ASCII digits.
func digits(b []byte) (int, bool) {
	if len(b) == 0 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

const (
	days   = "SunMonTueWedThuFriSat"
	months = "JanFebMarAprMayJunJulAugSepOctNovDec"
)

var longDays = [7]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}

// dayName returns the index of the three-letter day name b, or -1.
func dayName(b []byte) int {
	for i := 0; i < 7; i++ {
		if string(b) == days[3*i:3*i+3] {
			return i
		}
	}
	return -1
}

// monthName returns the index (0 = January) of the month name b, or -1.
func monthName(b []byte) int {
	for i := 0; i < 12; i++ {
		if string(b) == months[3*i:3*i+3] {
			return i
		}
	}
	return -1
}

func longDayName(b []byte) bool {
	for _, d := range longDays {
		if string(b) == d {
			return true
		}
	}
	return false
}

// Append appends t, converted to UTC and truncated to the second, as an
// IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") to dst and returns the
// extended buffer. Years outside 0..9999 are clamped to that range. It does
// not allocate when dst has room for 29 more bytes.
func Append(dst []byte, t time.Time) []byte {
	t = t.UTC()
	year, mon, day := t.Date()
	h, m, s := t.Clock()
	switch {
	case year < 0:
		year, mon, day, h, m, s = 0, time.January, 1, 0, 0, 0
	case year > 9999:
		year, mon, day, h, m, s = 9999, time.December, 31, 23, 59, 59
	}
	wd := int(time.Date(year, mon, day, 0, 0, 0, 0, time.UTC).Weekday())
	dst = append(dst, days[3*wd:3*wd+3]...)
	dst = append(dst, ',', ' ')
	dst = append2(dst, day)
	dst = append(dst, ' ')
	dst = append(dst, months[3*(mon-1):3*mon]...)
	dst = append(dst, ' ')
	dst = append2(dst, year/100)
	dst = append2(dst, year%100)
	dst = append(dst, ' ')
	dst = append2(dst, h)
	dst = append(dst, ':')
	dst = append2(dst, m)
	dst = append(dst, ':')
	dst = append2(dst, s)
	return append(dst, " GMT"...)
}

func append2(dst []byte, n int) []byte {
	return append(dst, byte('0'+n/10), byte('0'+n%10))
}
