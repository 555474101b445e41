// Package scope decides which records a bounded run owns, so that runs over neighbouring days
// count every record exactly once while each reads what it needs from its neighbours.
//
// A batch run is for the event-time days [From, To). It reads the lake partitions of those days
// and of their neighbours, and sorts each record into one of three kinds:
//
//   - owned: counted by this run (read, then processed, filtered, duplicate or dead-lettered);
//   - context: an event another run owns that this run needs to decide its own events (an
//     earlier copy of an ID within the dedupe TTL, the events before a session that starts in
//     the range, the continuation of a session after it). Context is counted only as
//     "context", and never reaches a view row or the dead-letter sink;
//   - neither: a record another run owns that this run does not need (counted as context too).
//
// Ownership depends only on the record, never on the run, so per-day runs and one run over the
// whole range agree (see Owner):
//
//   - a record that is not a valid event (a dead letter) is owned by the day of its partition;
//   - a valid event is owned by the day of its event time when that day is at most Reach away
//     from its partition's day (a late or misfiled record is counted by the run of its own
//     day); further away, it is owned by its partition's day and filtered there as
//     "out_of_range".
//
// The package is plain Go: parse.Scoped applies these rules to lake records, and filter, dedupe
// and aggregate take the owned Range to count only owned events.
package scope

import (
	"time"
)

// Day is one day of event time.
const Day = 24 * time.Hour

// Reach is how far an event's day may be from its partition's day and still be owned by its
// own day: one day, so lakes filled by arrival time and archives that filed late data are
// counted right.
const Reach = Day

// Range is a half-open range of event time [From, To). The zero Range contains every time: a
// streaming job owns everything it reads.
type Range struct {
	From, To time.Time
}

// Contains reports whether t is in r.
func (r Range) Contains(t time.Time) bool {
	if r.IsZero() {
		return true
	}
	return !t.Before(r.From) && t.Before(r.To)
}

// IsZero reports whether r is the zero Range (everything).
func (r Range) IsZero() bool { return r.From.IsZero() && r.To.IsZero() }

// Days returns the range of the days first..last (midnight UTC, last inclusive).
func Days(first, last time.Time) Range {
	return Range{From: dayOf(first), To: dayOf(last).Add(Day)}
}

func dayOf(t time.Time) time.Time { return t.UTC().Truncate(Day) }

// Owner returns the day that owns a record of partition day partition whose event time is
// eventTime (the zero time for a record that is not a valid event), and whether the record is
// an event for dedupe and the views (false: a dead letter or an out_of_range event, counted by
// its partition's run). A zero partition (a record that does not come from a lake partition)
// is owned by its event time's day.
func Owner(partition, eventTime time.Time) (day time.Time, isEvent bool) {
	switch {
	case eventTime.IsZero():
		return dayOf(partition), false
	case partition.IsZero():
		return dayOf(eventTime), true
	}
	p, t := dayOf(partition), dayOf(eventTime)
	if d := t.Sub(p); d > Reach || d < -Reach {
		return p, false
	}
	return t, true
}

// Config is what a run owns and which context it keeps.
type Config struct {
	// Owned is the event-time range of the run's days.
	Owned Range
	// Context is the event-time range of the events the run needs, owned or not (it contains
	// Owned). Events of other runs outside it are dropped as soon as they are parsed.
	Context Range
	// DecideOnly ends the context events that are needed only to decide later copies of their
	// IDs (dedupe: their ID and event time), not by the views: those before it. Zero: none.
	DecideOnly time.Time
}

// ForDays returns the Config of a run over the days first..last (midnight UTC, last
// inclusive) that dedupes within ttl, splits sessions at gaps longer than gap and follows
// sessions for lookahead past its days. It needs the gap before its days (whether a session
// starts in them), ttl before that (the copies that decide those events' IDs) and lookahead
// after its days.
func ForDays(first, last time.Time, ttl, gap, lookahead time.Duration) Config {
	owned := Days(first, last)
	sessions := owned.From.Add(-gap)
	return Config{Owned: owned, Context: Range{From: sessions.Add(-ttl), To: owned.To.Add(lookahead)}, DecideOnly: sessions}
}

// Partitions returns the first and last lake partition (day) that may hold a record the run
// needs: its context, and the records it owns, are at most Reach from their partitions.
func (c Config) Partitions() (first, last time.Time) {
	return dayOf(c.Context.From.Add(-Reach)), dayOf(c.Context.To.Add(Reach - time.Millisecond))
}
