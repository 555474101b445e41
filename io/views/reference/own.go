package reference

import (
	"strings"
	"time"
)

// oneDay is the length of a day in UTC, which has no leap seconds in Go's time.
const oneDay = 24 * time.Hour

// dayOf returns the day (midnight UTC) of t.
func dayOf(t time.Time) time.Time {
	return t.UTC().Truncate(oneDay)
}

// withinADay reports whether the days d and p (both midnight UTC) are at most one day apart.
func withinADay(d, p time.Time) bool {
	diff := d.Sub(p)
	return -oneDay <= diff && diff <= oneDay
}

// span is what a run covers in time: its days, for ownership and session starts, and its
// horizon, for the events that sessions look at.
type span struct {
	// from and end bound the run's days as times: [From, To + 1 day); zero when unbounded.
	from, end time.Time
	// horizon is where sessions stop looking: To + 1 day + Lookahead; zero for none.
	horizon time.Time
}

func newSpan(cfg Config) span {
	var s span
	if !cfg.From.IsZero() {
		s.from = cfg.From.UTC()
	}
	if !cfg.To.IsZero() {
		s.end = cfg.To.UTC().AddDate(0, 0, 1)
		if cfg.Lookahead > 0 {
			s.horizon = s.end.Add(cfg.Lookahead)
		}
	}
	return s
}

// contains reports whether t is in [From, To + 1 day).
func (s span) contains(t time.Time) bool {
	return (s.from.IsZero() || !t.Before(s.from)) && (s.end.IsZero() || t.Before(s.end))
}

// owns reports whether the day d (midnight UTC) is one of the run's days.
func (s span) owns(d time.Time) bool {
	return s.contains(d)
}

// beforeHorizon reports whether sessions look at an event at t: t is before the horizon, or
// there is none.
func (s span) beforeHorizon(t time.Time) bool {
	return s.horizon.IsZero() || t.Before(s.horizon)
}

// partitions finds the partition day of records by their Source, remembering the last path
// (the records of one file come one after another).
type partitions struct {
	path string    // the last path looked up
	last time.Time // its partition day
	ok   bool      // whether it has one
}

// of returns the partition day of the record from source ("<path>:<line>"): the date of the
// path's first segment that starts with "dt=", when that is a valid YYYY-MM-DD. It returns
// false when the path has no such segment or its date does not parse.
func (p *partitions) of(source string) (time.Time, bool) {
	path := source
	if i := strings.LastIndexByte(source, ':'); i >= 0 {
		path = source[:i]
	}
	if path != p.path {
		p.path = path
		p.last, p.ok = partitionDay(path)
	}
	return p.last, p.ok
}

// partitionDay returns the date of path's first "dt=" segment, and whether there is one that
// parses.
func partitionDay(path string) (time.Time, bool) {
	for rest := path; rest != ""; {
		var seg string
		seg, rest, _ = strings.Cut(rest, "/")
		if date, ok := strings.CutPrefix(seg, "dt="); ok {
			d, err := time.Parse(time.DateOnly, date)
			return d, err == nil
		}
	}
	return time.Time{}, false
}
