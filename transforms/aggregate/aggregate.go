// Package aggregate computes the views of DESIGN.md from events, in event-time windows.
//
// One mechanism serves every view: each event (or, for sessions, each session) contributes an
// Acc to a row key that names the view, the event-time window start and the view's key; one
// combine sums the contributions per row key, and one DoFn turns the sums into views.Row
// values.
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
// one user's events, the same on every runner, and one combine serves every view. Why, as
// measured on Prism: docs/design-notes.md "Windows in row keys".
//
// The flagged metric counts events whose Flagged field the scoring stage set.
package aggregate

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/beamline/beamline/io/spill"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/beamline/beamline/io/event"
	"github.com/beamline/beamline/io/views"
	_ "github.com/beamline/beamline/io/views/rowcoder" // the coder of the rows Views and Speed emit
	"github.com/beamline/beamline/transforms/bucket"
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
// points cross their grouping as spill files under it (see dedupe.ByID and package spill). The minute views count the events in cfg.Owned;
// sessions are split over all events and emitted when their first event is in cfg.Owned, so
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

// rowID is a row key in its parts: the key of sums within a bundle, whose string form
// (views.RowKey) is built once per row when the sums are emitted, not once per event.
type rowID struct {
	view    string
	startMs int64
	key     string
}

// rowKey returns id as views.RowKey makes it.
func (id rowID) rowKey() string {
	return views.RowKey(id.view, time.UnixMilli(id.startMs), id.key)
}

// stampedAcc is a sum and the earliest event time that contributed to it.
type stampedAcc struct {
	acc      Acc
	earliest time.Time
}

// sums are contributions summed per row.
type sums map[rowID]*stampedAcc

// at returns the sum of id, created with n zero counts, and notes that t contributed to it.
func (s sums) at(id rowID, n int, t time.Time) *Acc {
	old, ok := s[id]
	if !ok {
		old = &stampedAcc{acc: Acc{Counts: make([]int64, n)}, earliest: t}
		s[id] = old
	} else if t.Before(old.earliest) {
		old.earliest = t
	}
	return &old.acc
}

// addEvent adds e's contributions to the minute views: one event to its country's and its
// category's rows, and a view and its user to its URL's row when it is a pageview.
func (s sums) addEvent(e event.Event) {
	minute := e.Time.Truncate(views.MinuteWindow).UnixMilli()
	flagged := int64(0)
	if e.Flagged {
		flagged = 1
	}
	country := s.at(rowID{views.CountryActivity, minute, e.Country}, 5, e.Time)
	country.Counts[caEvents]++
	country.Counts[caFlagged] += flagged
	switch e.Type {
	case event.TypePageview:
		country.Counts[caPageviews]++
		pv := s.at(rowID{views.PageViews, minute, e.URL}, 2, e.Time)
		pv.Counts[pvViews]++
		if i, found := slices.BinarySearch(pv.Users, e.UserID); !found {
			pv.Users = slices.Insert(pv.Users, i, e.UserID)
		}
	case event.TypeClick:
		country.Counts[caClicks]++
	case event.TypePost:
		country.Counts[caPosts]++
	}
	category := s.at(rowID{views.CategoryActivity, minute, e.Category}, 2, e.Time)
	category.Counts[catEvents]++
	category.Counts[catFlagged] += flagged
}

// add adds acc, contributed at t, to the sum of id.
func (s sums) add(id rowID, acc Acc, t time.Time) {
	old, ok := s[id]
	if !ok {
		s[id] = &stampedAcc{acc: acc, earliest: t}
		return
	}
	old.acc = merge(old.acc, acc)
	if t.Before(old.earliest) {
		old.earliest = t
	}
}

// point is what sessionization needs of an event.
type point struct {
	TimeMs  int64
	ID      string
	Country string
}

// sessions returns one contribution per session that starts in cfg.Owned, PCollection<KV<
// string, Acc>>, from points in batches per hash bucket of the user (PCollection<KV<int,
// pointBatch>>, see bucketPointsFn).
func sessions(s beam.Scope, cfg scope.Config, spillDir string, points beam.PCollection) beam.PCollection {
	s = s.Scope("sessions")
	fn := sessionsFn{Owned: cfg.Owned, Horizon: cfg.Context.To}
	if spillDir != "" {
		return beam.ParDo(s, &spilledSessionsFn{fn}, beam.GroupByKey(s, spill.Values(s, spillDir, points)))
	}
	return beam.ParDo(s, &fn, beam.GroupByKey(s, points))
}

// splitSessions splits the events of one user into sessions and emits one contribution per
// session whose first event is in owned, with the time of that event. A session's first event
// is the earliest, ties broken by the smallest event ID.
func splitSessions(all []point, owned scope.Range, emit func(rowID, Acc, time.Time)) {
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
		if !owned.Contains(time.UnixMilli(first.TimeMs)) {
			start = i
			continue
		}
		acc := Acc{Counts: make([]int64, 3)}
		acc.Counts[seSessions], acc.Counts[seEvents], acc.Counts[seDuration] = 1, int64(i-start), (last.TimeMs-first.TimeMs)/1000
		hour := time.UnixMilli(first.TimeMs).UTC().Truncate(views.SessionWindow)
		emit(rowID{views.Sessions, hour.UnixMilli(), first.Country}, acc, time.UnixMilli(first.TimeMs))
		start = i
	}
}

// userBuckets is how many groups the batch sessionization spreads users over.
const userBuckets = 256

// pointBatch is the session points of several users, travelling as one element.
type pointBatch struct {
	Users  []string
	Points []point
}

// bucketPointsFn collects the session points of a bundle into one batch per bucket of the user.
// Prism's cost is per element, so one element per bucket and bundle instead of one per event.
type bucketPointsFn struct {
	batches bucket.Batches[int, pointBatch]
}

func (f *bucketPointsFn) StartBundle(_ func(int, pointBatch)) {
	f.batches = bucket.Batches[int, pointBatch]{}
}

func (f *bucketPointsFn) ProcessElement(e event.Event, emit func(int, pointBatch)) {
	k := userBucket(e.UserID)
	b := f.batches.Get(k)
	b.add(e)
	if len(b.Points) >= maxPoints {
		emit(k, *b)
		delete(f.batches, k)
	}
}

// maxPoints is the most points a bucket's batch holds before it is emitted, so that a bundle
// holds at most userBuckets x maxPoints points whatever its size.
const maxPoints = 1024

// userBucket returns the bucket of a user.
func userBucket(user string) int {
	return bucket.Of(user, userBuckets)
}

// add appends the session point of e.
func (b *pointBatch) add(e event.Event) {
	b.Users = append(b.Users, e.UserID)
	b.Points = append(b.Points, point{TimeMs: e.Time.UnixMilli(), ID: e.ID, Country: e.Country})
}

// addByUser adds the points of b to users.
func addByUser(users map[string][]point, b pointBatch) {
	for i, u := range b.Users {
		users[u] = append(users[u], b.Points[i])
	}
}

func (f *bucketPointsFn) FinishBundle(emit func(int, pointBatch)) {
	for k, b := range f.batches {
		emit(k, *b)
	}
	f.batches = nil
}

// sessionsFn emits the sessions that start in Owned of every user of one bucket, and counts
// those that may go on past the Horizon.
type sessionsFn struct {
	Owned   scope.Range
	Horizon time.Time

	atHorizon beam.Counter
}

func (f *sessionsFn) Setup() {
	f.atHorizon = beam.NewCounter("beamline", "sessions_at_horizon")
}

func (f *sessionsFn) ProcessElement(ctx context.Context, _ int, batches func(*pointBatch) bool, emit func(beam.EventTime, int, rowSums)) {
	users := map[string][]point{}
	var b pointBatch
	for batches(&b) {
		addByUser(users, b)
	}
	f.split(ctx, users, emit)
}

// spilledSessionsFn is sessionsFn over batches spilled to files (see Views).
type spilledSessionsFn struct {
	sessionsFn
}

func (f *spilledSessionsFn) ProcessElement(ctx context.Context, _ int, refs func(*spill.Ref) bool, emit func(beam.EventTime, int, rowSums)) error {
	users := map[string][]point{}
	err := spill.Each(refs, func(b pointBatch) error {
		addByUser(users, b)
		return nil
	})
	if err != nil {
		return fmt.Errorf("aggregate: sessions: %w", err)
	}
	f.split(ctx, users, emit)
	return nil
}

// split emits the sessions of users and counts those at the horizon.
func (f *sessionsFn) split(ctx context.Context, users map[string][]point, emit func(beam.EventTime, int, rowSums)) {
	var open int64
	sessions := sums{}
	for _, points := range users {
		splitSessions(points, f.Owned, func(id rowID, acc Acc, first time.Time) { sessions.add(id, acc, first) })
		if last := points[len(points)-1]; !f.Horizon.IsZero() && last.TimeMs+SessionGap.Milliseconds() >= f.Horizon.UnixMilli() && f.Owned.Contains(time.UnixMilli(sessionStart(points))) {
			open++
		}
	}
	sessions.emitByBucket(emit)
	if open > 0 {
		f.atHorizon.Inc(ctx, open)
	}
}

// sessionStart returns the first event time (Unix ms) of the last session of points, sorted
// by splitSessions.
func sessionStart(points []point) int64 {
	gap := SessionGap.Milliseconds()
	i := len(points) - 1
	for i > 0 && points[i].TimeMs-points[i-1].TimeMs <= gap {
		i--
	}
	return points[i].TimeMs
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
