package queue

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // Europe/Oslo without relying on the host's zoneinfo
)

// Zone is the time zone opening hours are written in.
const Zone = "Europe/Oslo"

// oslo is loaded once; time/tzdata guarantees it, so a failure is a broken
// build. Read-only after init.
var oslo = func() *time.Location {
	loc, err := time.LoadLocation(Zone)
	if err != nil {
		panic("queue: " + err.Error())
	}
	return loc
}()

// Hours are a switchboard's opening hours in Europe/Oslo time. The zero
// value means always open.
type Hours struct {
	// days[time.Weekday] holds sorted, non-overlapping [from, to) minute
	// spans of the day; set says whether any rule was given.
	days [7][]span
	set  bool
}

type span struct{ from, to int } // minutes since midnight, to <= 1440

// Day names: English and Norwegian, three letters (Monday first).
var dayNames = [7][2]string{
	{"mon", "man"}, {"tue", "tir"}, {"wed", "ons"}, {"thu", "tor"},
	{"fri", "fre"}, {"sat", "lør"}, {"sun", "søn"},
}

// mondayFirst converts an index into dayNames to a time.Weekday.
func mondayFirst(i int) time.Weekday { return time.Weekday((i + 1) % 7) }

const hoursExample = `e.g. "mon-fri 08:00-15:30; sat 10:00-14:00"`

// ParseHours parses opening hours: rules separated by ";" (or new lines),
// each a day or day range (mon, mon-fri, fri-mon, or a comma list such as
// mon,wed,fri; "daily" for every day; Norwegian man..søn work too), a
// space, and one or more times HH:MM-HH:MM separated by commas:
//
//	mon-fri 08:00-11:30,12:00-15:30; sat 10:00-14:00
//
// Times are Europe/Oslo; a range ends before its end time, and 24:00 ends
// at midnight. A range may not pass midnight: write 22:00-24:00 on one
// day and 00:00-06:00 on the next. Rules for the same day add up. An
// empty string means always open. Errors name the bad part and say what
// to write instead.
func ParseHours(s string) (Hours, error) {
	var h Hours
	rules := strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == '\n' })
	for _, rule := range rules {
		rule = strings.TrimSpace(rule)
		if rule == "" {
			continue
		}
		fields := strings.Fields(rule)
		if len(fields) < 2 {
			return Hours{}, fmt.Errorf("opening hours %q: want days and times, %s", rule, hoursExample)
		}
		days, err := parseDays(fields[0])
		if err != nil {
			return Hours{}, err
		}
		var spans []span
		for _, t := range strings.Split(strings.Join(fields[1:], ""), ",") {
			sp, err := parseSpan(t)
			if err != nil {
				return Hours{}, err
			}
			spans = append(spans, sp)
		}
		for d, on := range days {
			if on {
				wd := mondayFirst(d)
				h.days[wd] = append(h.days[wd], spans...)
			}
		}
		h.set = true
	}
	for d := range h.days {
		h.days[d] = merge(h.days[d])
	}
	return h, nil
}

// parseDays parses "mon", "mon-fri", "fri-mon", "mon,wed,sat-sun", "daily".
func parseDays(s string) ([7]bool, error) {
	var days [7]bool
	s = strings.ToLower(s)
	if s == "daily" || s == "alle" {
		for i := range days {
			days[i] = true
		}
		return days, nil
	}
	for _, part := range strings.Split(s, ",") {
		from, to, isRange := strings.Cut(part, "-")
		a, err := dayIndex(from)
		if err != nil {
			return days, err
		}
		b := a
		if isRange {
			if b, err = dayIndex(to); err != nil {
				return days, err
			}
		}
		for i := a; ; i = (i + 1) % 7 {
			days[i] = true
			if i == b {
				break
			}
		}
	}
	return days, nil
}

func dayIndex(s string) (int, error) {
	for i, names := range dayNames {
		if s == names[0] || s == names[1] {
			return i, nil
		}
	}
	return 0, fmt.Errorf("opening hours: unknown day %q: use mon, tue, wed, thu, fri, sat, sun (or man, tir, ons, tor, fre, lør, søn), a range such as mon-fri, or daily; %s", s, hoursExample)
}

// parseSpan parses "08:00-15:30".
func parseSpan(s string) (span, error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return span{}, fmt.Errorf("opening hours: times %q: want HH:MM-HH:MM, %s", s, hoursExample)
	}
	from, err := parseClock(a)
	if err != nil {
		return span{}, err
	}
	to, err := parseClock(b)
	if err != nil {
		return span{}, err
	}
	if from == 24*60 || to <= from {
		return span{}, fmt.Errorf("opening hours: times %q: the end must be after the start on the same day; for a range past midnight write 22:00-24:00 on one day and 00:00-06:00 on the next", s)
	}
	return span{from, to}, nil
}

// parseClock parses "8:00", "08:00" or "24:00" into minutes since midnight.
func parseClock(s string) (int, error) {
	bad := fmt.Errorf("opening hours: time %q: want HH:MM from 00:00 to 24:00, e.g. 08:00 or 15:30", s)
	hh, mm, ok := strings.Cut(s, ":")
	if !ok || len(hh) < 1 || len(hh) > 2 || len(mm) != 2 {
		return 0, bad
	}
	h, err1 := strconv.Atoi(hh)
	m, err2 := strconv.Atoi(mm)
	if err1 != nil || err2 != nil || hh[0] == '+' || hh[0] == '-' || mm[0] == '+' || mm[0] == '-' ||
		h < 0 || h > 24 || m < 0 || m > 59 || (h == 24 && m != 0) {
		return 0, bad
	}
	return h*60 + m, nil
}

// merge sorts spans and joins overlapping or touching ones.
func merge(in []span) []span {
	if len(in) == 0 {
		return nil
	}
	s := append([]span(nil), in...)
	for i := 1; i < len(s); i++ { // insertion sort: a handful of spans
		for j := i; j > 0 && s[j].from < s[j-1].from; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	out := s[:1]
	for _, sp := range s[1:] {
		last := &out[len(out)-1]
		if sp.from <= last.to {
			last.to = max(last.to, sp.to)
			continue
		}
		out = append(out, sp)
	}
	return out
}

// Always reports whether h is always open (no rules).
func (h Hours) Always() bool { return !h.set }

// Open reports whether the switchboard is open at t (any zone; judged in
// Europe/Oslo).
func (h Hours) Open(t time.Time) bool {
	if !h.set {
		return true
	}
	t = t.In(oslo)
	m := t.Hour()*60 + t.Minute()
	for _, sp := range h.days[t.Weekday()] {
		if m >= sp.from && m < sp.to {
			return true
		}
	}
	return false
}

// String returns the hours in ParseHours' format, one rule per day with
// its times ("" when always open); ParseHours(h.String()) equals h.
func (h Hours) String() string {
	if !h.set {
		return ""
	}
	var rules []string
	for i, names := range dayNames {
		spans := h.days[mondayFirst(i)]
		if len(spans) == 0 {
			continue
		}
		times := make([]string, len(spans))
		for j, sp := range spans {
			times[j] = clock(sp.from) + "-" + clock(sp.to)
		}
		rules = append(rules, names[0]+" "+strings.Join(times, ","))
	}
	return strings.Join(rules, "; ")
}

func clock(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }
