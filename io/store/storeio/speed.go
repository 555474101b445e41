package storeio

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/timers"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/beamline/beamline/io/views"
)

func init() {
	register.Function1x2[views.Row, string, views.Row](rowID)
	register.DoFn6x1[context.Context, state.Provider, timers.Provider, string, views.Row, func(int), error](&speedFn{})
}

// Timer tags of speedFn.
const (
	tagWatermark = "watermark"
	tagGC        = "gc"
)

// SpeedOptions configure UpsertSpeed.
type SpeedOptions struct {
	// AllowedLateness is the streaming job's: how long after the end of a 1-minute window its
	// row may still change. Longer windows (sessions) are kept for a day.
	AllowedLateness time.Duration
	// WatermarkFrom: the speed watermark is recorded only above it. A restarted job passes the
	// watermark it starts from, since it rebuilds older windows first.
	WatermarkFrom time.Time
}

// UpsertSpeed upserts rows, versions of speed rows (PCollection<views.Row>, as
// aggregate.Speed returns them), into the speed layer of the store at url.
//
// Versions of one row (view, key, window start) may arrive repeated or out of order: a
// runner repeats panes, and two bundles of one row may run at once. Each version dominates
// the earlier ones metric by metric, so UpsertSpeed writes a version only if it is larger
// (by the sum of its metrics) than every version of the row it wrote before: the store ends
// with the latest. The check runs per row in a stateful DoFn, which processes the versions of
// a row one bundle at a time, in order.
//
// It records the speed watermark (store.SetSpeedWatermark): the end of each 1-minute window
// once the watermark at the writer has passed it. How far that trails event time depends on
// what holds the watermark upstream: aggregate.Speed holds it only at its pending firings, so
// seconds (a Beam aggregation with allowed lateness held it until the end of a window plus the
// lateness). It never moves the recorded watermark back within a process.
//
// It returns the number of rows each bundle wrote (PCollection<int>): give it a consumer in
// another stage (see WriteBatch).
func UpsertSpeed(s beam.Scope, url string, opts SpeedOptions, rows beam.PCollection) beam.PCollection {
	s = s.Scope("storeio.UpsertSpeed")
	if opts.AllowedLateness <= 0 {
		panic("storeio.UpsertSpeed: AllowedLateness must be positive")
	}
	fn := &speedFn{
		writeFn:         writeFn{URL: url},
		LatenessMs:      opts.AllowedLateness.Milliseconds(),
		Written:         state.MakeValueState[int64]("written"),
		Timer:           timers.InEventTime("rows"),
		WatermarkFromMs: opts.WatermarkFrom.UnixMilli(),
	}
	if opts.WatermarkFrom.IsZero() {
		fn.WatermarkFromMs = 0
	}
	return beam.ParDo(s, fn, beam.ParDo(s, rowID, rows))
}

// rowID keys a row by view, key and window start.
func rowID(r views.Row) (string, views.Row) {
	return views.RowKey(r.View, r.WindowStart, r.Key), r
}

// speedFn writes the versions of speed rows that are larger than the ones written before.
type speedFn struct {
	writeFn
	LatenessMs      int64
	WatermarkFromMs int64

	Written state.Value[int64] // weight of the version last written
	Timer   timers.EventTime

	watermark  time.Time // the latest window end passed, in this bundle
	superseded beam.Counter
}

func (f *speedFn) Setup(ctx context.Context) error {
	f.superseded = beam.NewCounter("beamline", "rows_superseded")
	return f.writeFn.Setup(ctx)
}

func (f *speedFn) ProcessElement(ctx context.Context, sp state.Provider, tp timers.Provider, _ string, row views.Row, _ func(int)) error {
	w := row.Weight()
	old, ok, err := f.Written.Read(sp)
	if err != nil {
		return err
	}
	if ok && w <= old {
		f.superseded.Inc(ctx, 1)
		return nil
	}
	if err := f.Written.Write(sp, w); err != nil {
		return err
	}
	f.setTimers(tp, row)
	return f.writeFn.ProcessElement(ctx, row)
}

// setTimers sets the timer that records the speed watermark at the end of a minute window,
// and the one that forgets the row once it can no longer change.
func (f *speedFn) setTimers(tp timers.Provider, row views.Row) {
	keep := 24 * time.Hour
	if row.WindowEnd.Sub(row.WindowStart) == views.MinuteWindow {
		f.Timer.Set(tp, row.WindowEnd, timers.WithTag(tagWatermark))
		keep = time.Duration(f.LatenessMs)*time.Millisecond + views.MinuteWindow
	}
	f.Timer.Set(tp, row.WindowEnd.Add(keep), timers.WithTag(tagGC), timers.WithNoOutputTimestamp())
}

func (f *speedFn) OnTimer(_ context.Context, fired beam.EventTime, sp state.Provider, _ timers.Provider, _ string, timer timers.Context, _ func(int)) error {
	if timer.Tag == tagGC {
		f.Written.Clear(sp)
		return nil
	}
	if t := fired.ToTime(); t.After(f.watermark) { // the watermark timer's output time is its firing time
		f.watermark = t
	}
	return nil
}

func (f *speedFn) FinishBundle(ctx context.Context, emit func(int)) error {
	if err := f.writeFn.FinishBundle(ctx); err != nil {
		return err
	}
	if f.bundle > 0 {
		emit(f.bundle)
		f.bundle = 0
	}
	wm := f.watermark
	f.watermark = time.Time{}
	if wm.IsZero() || wm.UnixMilli() <= f.WatermarkFromMs || !recorded.advance(f.URL, wm) {
		return nil
	}
	if err := f.st.SetSpeedWatermark(ctx, wm); err != nil {
		return fmt.Errorf("storeio: %w", err)
	}
	return nil
}

// recorded is the latest speed watermark written to each store by this process.
var recorded = &watermarks{latest: map[string]time.Time{}}

type watermarks struct {
	mu     sync.Mutex
	latest map[string]time.Time
}

// advance reports whether t is later than the latest watermark recorded for url, and makes
// it the latest if so.
func (w *watermarks) advance(url string, t time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !t.After(w.latest[url]) {
		return false
	}
	w.latest[url] = t
	return true
}
