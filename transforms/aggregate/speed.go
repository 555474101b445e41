package aggregate

import (
	"fmt"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
)

// Defaults of SpeedOptions.
const (
	DefaultEarlyFiring     = 5 * time.Second
	DefaultAllowedLateness = 10 * time.Minute
)

// SpeedOptions configure Speed. The zero value of a field means its default.
type SpeedOptions struct {
	// EarlyFiring is the event-time step of the minute views' early panes: a row that changed
	// is emitted when the watermark passes the next multiple of it (DefaultEarlyFiring; at
	// least 1ms).
	EarlyFiring time.Duration
	// AllowedLateness is how long after the end of a window late events still count
	// (DefaultAllowedLateness). It must not be negative.
	AllowedLateness time.Duration
	// SessionsFrom, when set, keeps sessions that start before it out of the sessions view: a
	// warm restart sees only the events from SessionsFrom minus SessionGap on, so it cannot tell
	// where earlier sessions start (see Speed).
	SessionsFrom time.Time
}

func (o SpeedOptions) withDefaults() SpeedOptions {
	if o.EarlyFiring == 0 {
		o.EarlyFiring = DefaultEarlyFiring
	}
	if o.AllowedLateness == 0 {
		o.AllowedLateness = DefaultAllowedLateness
	}
	return o
}

// Validate reports options that cannot be right.
func (o SpeedOptions) Validate() error {
	o = o.withDefaults()
	switch {
	case o.EarlyFiring < time.Millisecond:
		return fmt.Errorf("aggregate: early firing step %s is under 1ms", o.EarlyFiring)
	case o.AllowedLateness < 0:
		return fmt.Errorf("aggregate: allowed lateness %s is negative (it must be positive)", o.AllowedLateness)
	}
	return nil
}

// Speed computes the speed-layer views from events, a PCollection<event.Event> in the global
// window timestamped with event time, and returns a PCollection<views.Row> (layer "speed") in
// the global window.
//
// Every row it emits is a version of the row named by its view, key and window start; a later
// version of a row dominates an earlier one metric by metric (counts only grow), and a repeated
// version is equal to the first. So a sink that keeps, of the versions it receives, one that
// dominates the others (storeio.UpsertSpeed) writes exactly the latest, whatever the order in
// which versions arrive and however often the runner repeats a pane.
//
// # Minute views
//
// page_views, country_activity and category_activity sum events into 1-minute windows of event
// time, in a stateful DoFn per bucket of row keys (minuteFn) rather than Beam windows with
// triggers (see minuteFn for why). Every version carries the full sums so far:
//   - early: a row that changed is emitted when the watermark passes the next multiple of
//     EarlyFiring (event time; the watermark of a live source follows the wall clock, so in
//     a live stream that is about EarlyFiring after the events);
//   - on time: when the watermark passes the end of the window;
//   - late: at once, for events behind the watermark, until the watermark passes the end of
//     the window plus AllowedLateness. Later events are dropped from the minute views and
//     counted as "late_events" (the nightly backfill counts them).
//
// The DoFn holds the watermark only at its pending firings, so the speed watermark that
// UpsertSpeed records follows event time by seconds, not by the allowed lateness.
//
// # Sessions
//
// Beam session windows cannot be used (on Prism, late events do not merge sessions and
// accumulating mode repeats session panes, as measured on Prism v2.77), so sessions are computed from a
// per-user state that holds the events of the user's open sessions. A session is final once
// the watermark passes its last event + SessionGap + AllowedLateness + one window + a margin:
// no event that can still arrive (the same lateness gate as the minute views drops later ones)
// can extend or merge it. Only final sessions are added to the hourly sums, each exactly once,
// so the sessions view lags event time by about that horizon and never counts a session
// twice or a session that later merges with another. An event that arrives after the session
// it would join was finalized (possible only for an event that the lateness gate, gateFn, let
// through just before its minute closed) is counted as
// "late_sessions" and left to the nightly backfill.
func Speed(s beam.Scope, opts SpeedOptions, events beam.PCollection) beam.PCollection {
	s = s.Scope("aggregate.Speed")
	if err := opts.Validate(); err != nil {
		panic(err)
	}
	opts = opts.withDefaults()
	if opts.AllowedLateness == 0 {
		panic("aggregate.Speed: allowed lateness must be positive")
	}
	minutes := beam.ParDo(s, newMinuteFn(opts), beam.ParDo(s, &bucketSumFn{}, events))
	return beam.Flatten(s, minutes, speedSessions(s, opts, events))
}
