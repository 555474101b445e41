// Package aggregate computes the views of DESIGN.md from events, in event-time windows.
//
// One mechanism serves every view: each event (or, for sessions, each session) contributes an
// Acc to a row key that names the view, the event-time window start and the view's key; the
// contributions are summed per bundle (sums.go), travel as one batch per bucket of row keys,
// and are summed per row key and turned into views.Row values (batch: Views) or kept as the
// state of open rows (streaming: Speed).
//
//   - page_views, country_activity, category_activity: 1-minute windows of event time;
//   - sessions: per user, sessions with a 30-minute gap (a gap of more than SessionGap starts a
//     new one); each session contributes to the 1-hour window of its first event, keyed by
//     that event's country.
//
// # Windows are assigned explicitly
//
// The window of a row is computed from the event time and carried in the row key, not taken
// from a Beam window: Views (batch) groups in the global window and gets final rows; Speed
// (streaming) keeps its rows in stateful DoFns with event-time timers and upserts the rows it
// emits, since a row key names exactly one row. Sessions are split by gap inside the group of
// one user's events, the same on every runner, and one summing serves every view. Why, as
// measured on Prism: docs/design-notes.md "Windows in row keys" and "The batch job on one
// machine".
//
// The flagged metric counts events whose Flagged field the scoring stage set.
package aggregate

import (
	"context"
	"fmt"
	"time"

	"github.com/beamline/beamline/io/spill"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/beamline/beamline/io/event"
	"github.com/beamline/beamline/io/views"
	_ "github.com/beamline/beamline/io/views/rowcoder" // the coder of the rows Views and Speed emit
	"github.com/beamline/beamline/transforms/scope"
)

// SessionGap is the inactivity that ends a session.
const SessionGap = 30 * time.Minute

func init() {
	register.DoFn3x1[int, func(*rowSums) bool, func(views.Row), error](&toRowsFn{})
	register.Iter1[rowSums]()
	register.Emitter1[views.Row]()
	register.DoFn2x0[event.Event, func(int, pointBatch)](&bucketPointsFn{})
	register.DoFn4x0[context.Context, int, func(*pointBatch) bool, func(beam.EventTime, int, rowSums)](&sessionsFn{})
	register.DoFn4x1[context.Context, int, func(*spill.Ref) bool, func(beam.EventTime, int, rowSums), error](&spilledSessionsFn{})
	register.Emitter2[int, pointBatch]()
	register.Iter1[pointBatch]()
}

// Views computes every view of a batch run and returns a PCollection<views.Row> of the given
// layer. events are bounded PCollection<event.Event>s in the global window: together, the
// run's kept events and its context (package scope). They are taken apart rather than
// flattened: on Prism a flatten is a stage boundary that every event would cross, while the
// per-bundle sums and session batches made of each are few. With a spillDir, the session
// points cross their grouping as spill files under it (see dedupe.ByID and package spill).
//
// The minute views count the events in cfg.Owned; sessions are split over all events and emitted when their first event is in cfg.Owned, so
// a session that crosses the edge of the range is counted whole, by the run of its first day.
// Each row carries its own window (see the package doc).
//
// The run sees no event at or after cfg.Context.To (its horizon): a session that starts in
// the range and whose last event is within SessionGap of the horizon may go on past it. Such
// sessions are counted in the metric "sessions_at_horizon" (namespace "beamline").
func Views(s beam.Scope, layer views.Layer, cfg scope.Config, spillDir string, events ...beam.PCollection) beam.PCollection {
	s = s.Scope("aggregate.Views")
	var perMinute, points []beam.PCollection
	for _, in := range events {
		if in.WindowingStrategy().Fn.Kind != window.GlobalWindows {
			panic("aggregate.Views needs a bounded input in the global window; use Speed in streaming")
		}
		perMinute = append(perMinute, beam.ParDo(s, &bucketSumFn{Owned: cfg.Owned}, in))
		points = append(points, beam.ParDo(s, &bucketPointsFn{}, in))
	}
	return rows(s, layer, beam.Flatten(s, append(perMinute, sessions(s, cfg, spillDir, beam.Flatten(s, points...)))...))
}

// rows sums contributions (PCollection<KV<int, rowSums>>, keyed by bucket of the row key) into
// view rows.
func rows(s beam.Scope, layer views.Layer, contributions beam.PCollection) beam.PCollection {
	return beam.ParDo(s, &toRowsFn{Layer: string(layer)}, beam.GroupByKey(s, contributions))
}

// Metric positions in Acc.Counts: the order of views.Spec.Metrics, which the schema owns.
var (
	pvViews = metricIndex(views.PageViews, views.MetricViews)

	caEvents    = metricIndex(views.CountryActivity, views.MetricEvents)
	caPageviews = metricIndex(views.CountryActivity, views.MetricPageviews)
	caClicks    = metricIndex(views.CountryActivity, views.MetricClicks)
	caPosts     = metricIndex(views.CountryActivity, views.MetricPosts)
	caFlagged   = metricIndex(views.CountryActivity, views.MetricFlagged)

	catEvents  = metricIndex(views.CategoryActivity, views.MetricEvents)
	catFlagged = metricIndex(views.CategoryActivity, views.MetricFlagged)

	seSessions = metricIndex(views.Sessions, views.MetricSessions)
	seEvents   = metricIndex(views.Sessions, views.MetricEvents)
	seDuration = metricIndex(views.Sessions, views.MetricDuration)
)

// metricIndex returns the position of metric in view's counts; the schema has it.
func metricIndex(view, metric string) int {
	spec, _ := views.Lookup(view)
	i := spec.Index(metric)
	if i < 0 {
		panic("aggregate: view " + view + " has no metric " + metric)
	}
	return i
}

// toRowsFn sums the contributions to the row keys of one bucket and emits their rows.
type toRowsFn struct {
	Layer string
}

func (f *toRowsFn) ProcessElement(_ int, batches func(*rowSums) bool, emit func(views.Row)) error {
	sums := map[string]Acc{}
	var b rowSums
	for batches(&b) {
		for i, k := range b.Keys {
			if old, ok := sums[k]; ok {
				sums[k] = merge(old, b.Accs[i])
			} else {
				sums[k] = b.Accs[i]
			}
		}
	}
	for key, acc := range sums {
		row, err := rowOf(views.Layer(f.Layer), key, acc)
		if err != nil {
			return err
		}
		emit(row)
	}
	return nil
}

// rowOf returns the row of layer that the row key key and its sum acc make.
func rowOf(layer views.Layer, key string, acc Acc) (views.Row, error) {
	view, start, k, err := views.ParseRowKey(key)
	spec, known := views.Lookup(view)
	if err != nil || !known {
		return views.Row{}, fmt.Errorf("aggregate: bad row key %q", key)
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
	return views.Row{View: view, Key: k, WindowStart: start, WindowEnd: start.Add(spec.Window), Metrics: metrics, Layer: layer}, nil
}
