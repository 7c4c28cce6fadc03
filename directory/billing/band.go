package billing

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // rating must work on hosts without /usr/share/zoneinfo
)

// Band is a named time-of-day window, e.g. weekday daytime. A band whose
// To is earlier than its From runs past midnight: {days: [fri], from:
// 17:00, to: 08:00} is Friday 17:00 to Saturday 08:00. Times are wall
// clock in Europe/Oslo.
type Band struct {
	Name string
	Days []time.Weekday // the days the band starts on
	From Clock
	To   Clock // 24:00 means the end of the day
}

// Clock is a wall-clock time of day in minutes after midnight, 0 to 1440.
type Clock int

const minutesPerDay = 24 * 60

// String formats the clock as HH:MM.
func (c Clock) String() string { return fmt.Sprintf("%02d:%02d", int(c)/60, int(c)%60) }

// parseClock reads HH:MM; 24:00 is accepted only as the end of a band.
func parseClock(s string, end bool) (Clock, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok || len(h) == 0 || len(h) > 2 || len(m) != 2 || !allDigits(h) || !allDigits(m) {
		return 0, errors.New("write the time as HH:MM, e.g. 08:00 (quote it in YAML)")
	}
	hh, _ := strconv.Atoi(h)
	mm, _ := strconv.Atoi(m)
	c := Clock(hh*60 + mm)
	switch {
	case mm > 59 || hh > 24:
		return 0, errors.New("not a time of day; write HH:MM between 00:00 and 24:00")
	case c > minutesPerDay:
		return 0, errors.New("past 24:00")
	case c == minutesPerDay && !end:
		return 0, errors.New("24:00 is only allowed as the end of a band; start at 00:00")
	}
	return c, nil
}

var dayNames = [...]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

func dayName(d time.Weekday) string { return dayNames[d] }

func parseDay(s string) (time.Weekday, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	for i, n := range dayNames {
		if s == n {
			return time.Weekday(i), true
		}
	}
	return 0, false
}

// mondayFirst orders weekdays as a Norwegian calendar does.
func mondayFirst(d time.Weekday) int { return (int(d) + 6) % 7 }

// Contains reports whether the Oslo wall-clock time t falls in the band.
func (b Band) Contains(t time.Time) bool {
	m := Clock(t.Hour()*60 + t.Minute())
	today := b.hasDay(t.Weekday())
	if b.From < b.To {
		return today && m >= b.From && m < b.To
	}
	// Past midnight: the evening part belongs to today's start, the
	// morning part to yesterday's.
	yesterday := b.hasDay((t.Weekday() + 6) % 7)
	return (today && m >= b.From) || (yesterday && m < b.To)
}

func (b Band) hasDay(d time.Weekday) bool {
	for _, x := range b.Days {
		if x == d {
			return true
		}
	}
	return false
}

// oslo loads the zone once. It is a package-level value only in the sense
// that a constant is: computed on first use, never changed after.
var oslo = sync.OnceValues(func() (*time.Location, error) { return time.LoadLocation("Europe/Oslo") })

// OsloTime converts a UTC time to Norwegian wall-clock time, the clock
// bands are written in.
func OsloTime(t time.Time) (time.Time, error) {
	loc, err := oslo()
	if err != nil {
		return time.Time{}, fmt.Errorf("load Europe/Oslo: %w", err)
	}
	return t.In(loc), nil
}
