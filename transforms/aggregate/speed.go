package aggregate

import (
	"fmt"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window/trigger"

	"github.com/beamline/beamline/io/views"
)

// Defaults of SpeedOptions.
const (
	DefaultEarlyFiring     = 5 * time.Second
	DefaultAllowedLateness = 10 * time.Minute
	DefaultLateFiring      = time.Second
)

// SpeedOptions configure Speed. The zero value of a field means its default.
type SpeedOptions struct {
	// EarlyFiring is the processing-time delay after the first element of a pane at which an
	// early pane fires (DefaultEarlyFiring).
	EarlyFiring time.Duration
	// FireCount, when positive, also fires an early or a late pane once a window has that many
	// new inputs, whichever comes first; an input is the sum of a bundle's events for a row.
	// Tests use it: teststream cannot drive processing time on Prism.
	FireCount int
	// AllowedLateness is how long after the end of a window late events still count
	// (DefaultAllowedLateness). It must be positive: Prism panics on a closing window with
	// none.
	AllowedLateness time.Duration
	// LateFiring is the processing-time delay after the first late element of a pane at which
	// a late pane fires (DefaultLateFiring).
	LateFiring time.Duration
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
	if o.LateFiring == 0 {
		o.LateFiring = DefaultLateFiring
	}
	return o
}

// Validate reports options that cannot be right.
func (o SpeedOptions) Validate() error {
	o = o.withDefaults()
	switch {
	case o.EarlyFiring < 0:
		return fmt.Errorf("aggregate: early firing delay %s is negative", o.EarlyFiring)
	case o.AllowedLateness < 0:
		return fmt.Errorf("aggregate: allowed lateness %s is negative (it must be positive)", o.AllowedLateness)
	case o.LateFiring < 0:
		return fmt.Errorf("aggregate: late firing delay %s is negative", o.LateFiring)
	case o.FireCount < 0:
		return fmt.Errorf("aggregate: fire count %d is negative", o.FireCount)
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
// page_views, country_activity and category_activity group events in 1-minute fixed windows of
// event time, in accumulating mode: an early pane at most EarlyFiring after new events, the
// on-time pane when the watermark passes the end of the window, and a late pane LateFiring
// after late events, until AllowedLateness after the end of the window; later events are
// dropped by the runner. Each pane carries the full sums so far.
//
// # Sessions
//
// Beam session windows cannot be used (on Prism, late events do not merge sessions and
// accumulating mode repeats session panes; see BEAM-FACTS.md), so sessions are computed from a
// per-user state that holds the events of the user's open sessions. A session is final once
// the watermark passes its last event + SessionGap + AllowedLateness + one window + a margin:
// no event that can still arrive (the same lateness gate as the minute views drops later ones)
// can extend or merge it. Only final sessions are added to the hourly sums, each exactly once,
// so the sessions view lags event time by about that horizon and never counts a session
// twice or a session that later merges with another. An event that arrives after the session
// it would join was finalized (possible only within the late-firing delay) is counted as
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
	sums := beam.ParDo(s, &bundleSumFn{}, events)
	windowed := beam.WindowInto(s, window.NewFixedWindows(time.Minute), sums,
		beam.Trigger(minuteTrigger(opts)), beam.AllowedLateness(opts.AllowedLateness), beam.PanesAccumulate())
	minutes := rows(s, views.Speed, windowed)
	global := beam.WindowInto(s, window.NewGlobalWindows(), minutes)
	return beam.Flatten(s, global, speedSessions(s, opts, events))
}

// minuteTrigger fires early panes, the on-time pane and late panes (see Speed).
func minuteTrigger(o SpeedOptions) trigger.Trigger {
	return trigger.AfterEndOfWindow().
		EarlyFiring(trigger.Repeat(o.orCount(trigger.AfterProcessingTime().PlusDelay(o.EarlyFiring)))).
		LateFiring(trigger.Repeat(o.orCount(trigger.AfterProcessingTime().PlusDelay(o.LateFiring))))
}

// orCount returns t, or t or FireCount new elements, whichever comes first.
func (o SpeedOptions) orCount(t trigger.Trigger) trigger.Trigger {
	if o.FireCount <= 0 {
		return t
	}
	return trigger.AfterAny([]trigger.Trigger{t, trigger.AfterCount(int32(o.FireCount))})
}
