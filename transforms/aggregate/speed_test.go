package aggregate

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/teststream"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/filter"

	"github.com/beamline/beamline/io/event"
	"github.com/beamline/beamline/io/views"
	"github.com/beamline/beamline/transforms/internal/beamtest"
)

func init() {
	register.Function1x1[views.Row, string](version)
}

// version names one version of a row: its view, key, window start and metrics.
func version(r views.Row) string {
	names := make([]string, 0, len(r.Metrics))
	for n := range r.Metrics {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s=%d", n, r.Metrics[n])
	}
	return fmt.Sprintf("%s %s %s %s %s", r.View, r.Key, r.WindowStart.Format("15:04"), strings.Join(parts, " "), r.Layer)
}

// step is one teststream event: elements at a time, or a watermark advance.
type step struct {
	at        time.Duration // elements' event time, from t0
	events    []event.Event
	watermark time.Duration // advance the watermark to t0 + watermark (when events is empty)
}

// stream builds a teststream of steps; it must be the first transform of the pipeline.
func stream(t *testing.T, s beam.Scope, steps []step) beam.PCollection {
	t.Helper()
	cfg := teststream.NewConfig()
	for _, st := range steps {
		var err error
		if len(st.events) > 0 {
			err = cfg.AddElementList(t0.Add(st.at).UnixMilli(), st.events)
		} else {
			err = cfg.AdvanceWatermark(t0.Add(st.watermark).UnixMilli())
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := cfg.AdvanceWatermarkToInfinity(); err != nil {
		t.Fatal(err)
	}
	return teststream.Create(s, cfg)
}

// speedVersions runs Speed over steps on Prism and checks the distinct versions of the rows of
// view: every version in want, and nothing outside want and maybe (a runner may repeat a pane,
// and UpsertSpeed absorbs repeats, so only distinct versions matter). It returns the job's
// counters.
func speedVersions(t *testing.T, opts SpeedOptions, steps []step, view string, want, maybe []string) map[string]int64 {
	t.Helper()
	p, s := beam.NewPipelineWithRoot()
	events := stream(t, s, steps)
	versions := beam.ParDo(s, version, Speed(s, opts, events))
	ofView := beam.ParDo(s, filterView, versions, beam.SideInput{Input: beam.Create(s, view)})
	got := beam.ParDo(s, withVersion, filter.Distinct(s, ofView))
	marker := beam.ParDo(s, noVersion, beam.Impulse(s)) // the check runs even when got is empty
	beam.ParDo0(s, &versionsFn{Want: want, Maybe: maybe}, beam.GroupByKey(s, beam.Flatten(s, got, marker)))
	res, err := ptest.RunWithMetrics(p)
	if err != nil {
		t.Fatal(err)
	}
	return beamtest.Counters(res, "beamline")
}

func init() {
	register.Function3x0[string, func(*string) bool, func(string)](filterView)
	register.Function1x2[string, int, string](withVersion)
	register.Function1x2[[]byte, int, string](noVersion)
	register.DoFn2x1[int, func(*string) bool, error](&versionsFn{})
	register.Emitter1[string]()
	register.Iter1[string]()
}

func withVersion(v string) (int, string) { return 0, v }

func noVersion([]byte) (int, string) { return 0, "" }

// versionsFn checks that the versions hold every one of Want and nothing outside Want and
// Maybe.
type versionsFn struct {
	Want, Maybe []string
}

func (f *versionsFn) ProcessElement(_ int, versions func(*string) bool) error {
	got := map[string]bool{}
	var v string
	for versions(&v) {
		if v != "" {
			got[v] = true
		}
	}
	var errs []string
	for _, w := range f.Want {
		if !got[w] {
			errs = append(errs, "missing "+w)
		}
		delete(got, w)
	}
	for _, m := range f.Maybe {
		delete(got, m)
	}
	for g := range got {
		errs = append(errs, "unexpected "+g)
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return fmt.Errorf("versions differ:\n%s", strings.Join(errs, "\n"))
	}
	return nil
}

// filterView keeps the versions of the view named by the side input.
func filterView(v string, view func(*string) bool, emit func(string)) {
	var name string
	for view(&name) {
		if strings.HasPrefix(v, name+" ") {
			emit(v)
		}
	}
}

func click(id, user, country string, at time.Duration) event.Event {
	return ev(id, event.TypeClick, user, "https://a.example/x", country, "x", at, false)
}

// TestSpeedMinutePanes drives one minute window through an early pane, the on-time pane, late
// events within the allowed lateness, and an event after the lateness, which is dropped.
// Every version carries the full count so far. Whether two late events added together give
// one version or two is up to how the runner bundles them (on Prism: one); the last counts
// both.
func TestSpeedMinutePanes(t *testing.T) {
	opts := SpeedOptions{AllowedLateness: 5 * time.Minute}
	steps := []step{
		{at: 5 * time.Second, events: []event.Event{click("e1", "u1", "DE", 5*time.Second), click("e2", "u2", "DE", 6*time.Second)}},
		{watermark: 30 * time.Second},
		{at: 40 * time.Second, events: []event.Event{click("e3", "u1", "DE", 40*time.Second)}},
		{watermark: time.Minute + time.Millisecond}, // on time: 3 events
		{at: 50 * time.Second, events: []event.Event{click("e4", "u3", "DE", 50*time.Second), click("e5", "u3", "DE", 51*time.Second)}},
		{watermark: 2 * time.Minute}, // late pane: 5 events
		{watermark: 7 * time.Minute}, // the window has expired (end + 5m)
		{at: 55 * time.Second, events: []event.Event{click("e6", "u4", "DE", 55*time.Second)}}, // dropped
	}
	row := func(n int) string {
		return fmt.Sprintf("country_activity DE 13:00 clicks=%d events=%d flagged=0 pageviews=0 posts=0 speed", n, n)
	}
	counters := speedVersions(t, opts, steps, views.CountryActivity, []string{row(2), row(3), row(5)}, []string{row(1), row(4)})
	if counters["late_events"] != 1 || counters["late_sessions"] != 0 {
		t.Errorf("late_events %d, late_sessions %d; want 1 (e6, after the lateness) and 0", counters["late_events"], counters["late_sessions"])
	}
}

// TestSpeedSessionsMergeLateAndCountOnce: a late event (within the allowed lateness) that
// bridges two sessions of a user merges them, and the sessions row counts the merged session
// once, only when it is final; an event beyond the allowed lateness is dropped.
func TestSpeedSessionsMergeLateAndCountOnce(t *testing.T) {
	opts := SpeedOptions{AllowedLateness: 30 * time.Minute}
	steps := []step{
		{at: 0, events: []event.Event{click("a", "u1", "DE", 0)}},
		{at: 10 * time.Minute, events: []event.Event{click("b", "u1", "FR", 10*time.Minute)}},
		{at: 50 * time.Minute, events: []event.Event{click("c", "u1", "US", 50*time.Minute)}}, // gap 40m: a new session
		{at: 55 * time.Minute, events: []event.Event{click("x", "u2", "GB", 55*time.Minute)}},
		{watermark: 55 * time.Minute},
		// Late by 25 minutes (within the lateness): gaps of 20m, so a, b, m, c are one session.
		{at: 30 * time.Minute, events: []event.Event{click("m", "u1", "IT", 30*time.Minute)}},
		{watermark: 4 * time.Hour},
		// Beyond the lateness: dropped, so u1's session stays as it was.
		{at: 40 * time.Minute, events: []event.Event{click("z", "u1", "IT", 40*time.Minute)}},
	}
	speedVersions(t, opts, steps, views.Sessions, []string{
		"sessions DE 13:00 duration_s=3000 events=4 sessions=1 speed",
		"sessions GB 13:00 duration_s=0 events=1 sessions=1 speed",
	}, nil)
}
