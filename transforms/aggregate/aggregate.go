// Package aggregate computes the views of DESIGN.md from events, in event-time windows.
//
// One mechanism serves every view: each event (or, for sessions, each finished session)
// contributes an Acc to a row key that names the view, the window start and the view's key;
// one combine sums the contributions per row key, and one DoFn turns the sums into views.Row
// values. The row's window is part of the row key, so a row never depends on which Beam window
// its contributions travelled in:
//
//   - page_views, country_activity, category_activity: 1-minute event-time windows (the Beam
//     fixed windows the streaming job triggers on);
//   - sessions: per user, sessions with a 30-minute gap (a gap of more than SessionGap starts a
//     new one); each session contributes to the 1-hour window of its first event, keyed by
//     that event's country. The hour travels in the row key, not in a Beam window: a grouping
//     leaves its window at the window's end (the Go SDK has no other timestamp combiner).
//
// Sessions are split explicitly, in the group of one user's events, rather than by merging
// Beam session windows: measured on Prism (v2.77), events coming out of the stateful dedupe
// (whose timers advance the watermark in steps) were grouped into 1,795 sessions where the
// independent reference has 1,787 — session windows were closed before the events that
// merge them arrived. Splitting by gap inside the group gives the same sessions on every
// runner. A streaming job can still window the points into Beam session windows before the
// group (the split is then a no-op inside each merged window).
//
// The flagged metric counts events whose Flagged field the scoring stage set.
package aggregate

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/beamline/beamline/io/views"
	"github.com/beamline/beamline/transforms/event"
)

// SessionGap is the inactivity that ends a session.
const SessionGap = 30 * time.Minute

// keySep separates the view name from the row key in combine keys.
const keySep = "\x1f"

func init() {
	register.Function2x0[event.Event, func(string, Acc)](minuteContributions)
	register.Function2x0[event.Event, func(string, point)](sessionPoint)
	register.Function3x0[string, func(*point) bool, func(string, Acc)](summarizeSessions)
	register.Function2x1[Acc, Acc, Acc](merge)
	register.DoFn3x1[string, Acc, func(views.Row), error](&toRowFn{})
	register.Emitter2[string, Acc]()
	register.Emitter2[string, point]()
	register.Emitter1[views.Row]()
	register.Iter1[point]()
}

// Views computes every view from events, a PCollection<event.Event> timestamped with event time,
// and returns a PCollection<views.Row> of the given layer, in the global window (each row
// carries its own window).
func Views(s beam.Scope, layer views.Layer, events beam.PCollection) beam.PCollection {
	s = s.Scope("aggregate.Views")
	minutes := beam.WindowInto(s, window.NewFixedWindows(time.Minute), events)
	perMinute := beam.ParDo(s, minuteContributions, minutes)
	perSession := beam.WindowInto(s, window.NewGlobalWindows(), sessions(s, events))
	return beam.Flatten(s, rows(s, layer, perMinute), rows(s, layer, perSession))
}

// rows sums contributions (PCollection<KV<string, Acc>>, keyed by rowKey) into view rows.
func rows(s beam.Scope, layer views.Layer, contributions beam.PCollection) beam.PCollection {
	sums := beam.CombinePerKey(s, merge, contributions)
	rows := beam.ParDo(s, &toRowFn{Layer: string(layer)}, sums)
	// A row carries its own window; the global window lets rows of every view flow into one sink.
	return beam.WindowInto(s, window.NewGlobalWindows(), rows)
}

// Metric positions in Acc.Counts, in the order of views.Spec.Metrics.
const (
	pvViews = 0

	caEvents, caPageviews, caClicks, caPosts, caFlagged = 0, 1, 2, 3, 4

	catEvents, catFlagged = 0, 1

	seSessions, seEvents, seDuration = 0, 1, 2
)

// rowKey names a row: view, window start (Unix ms) and key, separated by keySep. The key comes
// last because it is the only part that may contain anything.
func rowKey(view string, start time.Time, key string) string {
	return view + keySep + strconv.FormatInt(start.UnixMilli(), 10) + keySep + key
}

func minuteContributions(e event.Event, emit func(string, Acc)) {
	minute := e.Time.Truncate(time.Minute)
	flagged := int64(0)
	if e.Flagged {
		flagged = 1
	}
	country := Acc{Counts: make([]int64, 5)}
	country.Counts[caEvents], country.Counts[caFlagged] = 1, flagged
	switch e.Type {
	case event.TypePageview:
		country.Counts[caPageviews] = 1
		pv := Acc{Counts: make([]int64, 2), Users: []string{e.UserID}}
		pv.Counts[pvViews] = 1
		emit(rowKey(views.PageViews, minute, e.URL), pv)
	case event.TypeClick:
		country.Counts[caClicks] = 1
	case event.TypePost:
		country.Counts[caPosts] = 1
	}
	emit(rowKey(views.CountryActivity, minute, e.Country), country)
	emit(rowKey(views.CategoryActivity, minute, e.Category), Acc{Counts: []int64{1, flagged}})
}

// point is what sessionization needs of an event.
type point struct {
	TimeMs  int64
	ID      string
	Country string
}

func sessionPoint(e event.Event, emit func(string, point)) {
	emit(e.UserID, point{TimeMs: e.Time.UnixMilli(), ID: e.ID, Country: e.Country})
}

// sessions returns one contribution per session, PCollection<KV<string, Acc>>.
func sessions(s beam.Scope, events beam.PCollection) beam.PCollection {
	s = s.Scope("sessions")
	points := beam.ParDo(s, sessionPoint, events)
	return beam.ParDo(s, summarizeSessions, beam.GroupByKey(s, points))
}

// summarizeSessions splits the events of one user into sessions and emits one contribution
// per session. A session's first event is the earliest, ties broken by the smallest event ID.
func summarizeSessions(_ string, points func(*point) bool, emit func(string, Acc)) {
	var all []point
	var p point
	for points(&p) {
		all = append(all, p)
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].TimeMs != all[j].TimeMs {
			return all[i].TimeMs < all[j].TimeMs
		}
		return all[i].ID < all[j].ID
	})
	gap := SessionGap.Milliseconds()
	for start, i := 0, 1; i <= len(all); i++ {
		if i < len(all) && all[i].TimeMs-all[i-1].TimeMs <= gap {
			continue
		}
		first, last := all[start], all[i-1]
		acc := Acc{Counts: make([]int64, 3)}
		acc.Counts[seSessions], acc.Counts[seEvents], acc.Counts[seDuration] = 1, int64(i-start), (last.TimeMs-first.TimeMs)/1000
		hour := time.UnixMilli(first.TimeMs).UTC().Truncate(time.Hour)
		emit(rowKey(views.Sessions, hour, first.Country), acc)
		start = i
	}
}

// toRowFn turns the sum of one row key into a row.
type toRowFn struct {
	Layer string
}

func (f *toRowFn) ProcessElement(key string, acc Acc, emit func(views.Row)) error {
	view, rest, ok1 := strings.Cut(key, keySep)
	startMs, k, ok2 := strings.Cut(rest, keySep)
	spec, known := views.Lookup(view)
	ms, err := strconv.ParseInt(startMs, 10, 64)
	if !ok1 || !ok2 || !known || err != nil {
		return fmt.Errorf("aggregate: bad row key %q", key)
	}
	metrics := make(map[string]int64, len(spec.Metrics))
	for i, m := range spec.Metrics {
		switch {
		case !m.Additive:
			metrics[m.Name] = int64(len(acc.Users))
		case i < len(acc.Counts):
			metrics[m.Name] = acc.Counts[i]
		default:
			metrics[m.Name] = 0
		}
	}
	start := time.UnixMilli(ms).UTC()
	emit(views.Row{View: view, Key: k, WindowStart: start, WindowEnd: start.Add(spec.Window), Metrics: metrics, Layer: views.Layer(f.Layer)})
	return nil
}
