package aggregate

import (
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/timers"
)

// The stateful DoFns of the speed views (minuteFn, gateFn) keep, for each of their timers, the
// time it is set to fire in a value state (the SDK does not tell OnTimer when a timer was set
// to fire), and a clock: the latest time one of their timers fired at, which the watermark has
// passed.

// fireEarlier sets the timer tag to fire at at (Unix ms), holding the watermark there, unless
// setAt says it is set to fire no later. The hold is the firing time: Prism panics on a timer
// set again at the same time with another hold ("negative watermark hold count").
func fireEarlier(sp state.Provider, tp timers.Provider, timer *timers.EventTime, setAt *state.Value[int64], tag string, at int64) error {
	set, ok, err := setAt.Read(sp)
	if err != nil || (ok && set <= at) {
		return err
	}
	if err := setAt.Write(sp, at); err != nil {
		return err
	}
	timer.Set(tp, time.UnixMilli(at), timers.WithTag(tag), timers.WithOutputTimestamp(time.UnixMilli(at)))
	return nil
}

// advanceClock handles the firing of the timer whose firing time setAt holds: it clears setAt,
// moves clock up to that time, and returns the clock.
func advanceClock(sp state.Provider, setAt, clock *state.Value[int64]) (int64, error) {
	now, _, err := setAt.Read(sp)
	if err != nil {
		return 0, err
	}
	if err := setAt.Clear(sp); err != nil {
		return 0, err
	}
	c, _, err := clock.Read(sp)
	if err != nil || now <= c {
		return c, err
	}
	return now, clock.Write(sp, now)
}
