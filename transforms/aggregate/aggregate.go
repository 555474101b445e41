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
// from a Beam window. Beam windows decide only when a result fires: Views groups in the
// windowing of its input, so a batch job passes events in the global window and gets final
// rows, and a streaming job windows its events (fixed windows with triggers, allowed
// lateness) before calling it and upserts the rows it gets, since a row key names exactly one
// row. Three measurements on Prism (v2.77) led here:
//   - a grouping leaves its window at the window's end (the Go SDK has no other timestamp
//     combiner), so a session's hour, or an event re-stamped after a batch dedupe, cannot be
//     expressed as a Beam window without its elements being dropped as late downstream;
//   - Beam session windows fed by a stateful dedupe (whose timers advance the watermark in
//     steps) gave 1,795 sessions on the sample lake where the independent reference has
//     1,787: session windows were closed before the events that merge them arrived. Sessions
//     are split by gap inside the group of one user's events instead, the same on every runner;
//   - one combine over all views costs one shuffle instead of one per view.
//
// The flagged metric counts events whose Flagged field the scoring stage set.
package aggregate

import (
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
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
	register.DoFn2x0[event.Event, func(beam.EventTime, string, Acc)](&bundleSumFn{})
	register.Emitter3[beam.EventTime, string, Acc]()
	register.Function2x0[event.Event, func(string, point)](sessionPoint)
	register.Function3x0[string, func(*point) bool, func(string, Acc)](summarizeSessions)
	register.Function2x1[Acc, Acc, Acc](merge)
	register.DoFn3x1[string, Acc, func(views.Row), error](&toRowFn{})
	register.Emitter2[string, Acc]()
	register.Emitter2[string, point]()
	register.Emitter1[views.Row]()
	register.Iter1[point]()
	register.DoFn2x0[event.Event, func(int, pointBatch)](&bucketPointsFn{})
	register.Function3x0[int, func(*pointBatch) bool, func(string, Acc)](sessionsOfBucket)
	register.Emitter2[int, pointBatch]()
	register.Iter1[pointBatch]()
}

// Views computes every view from events, a PCollection<event.Event>, and returns a
// PCollection<views.Row> of the given layer. It groups in the windowing of events (see the
// package doc); each row carries its own window.
func Views(s beam.Scope, layer views.Layer, events beam.PCollection) beam.PCollection {
	s = s.Scope("aggregate.Views")
	var perMinute beam.PCollection
	if isGlobal(events) {
		perMinute = beam.ParDo(s, &bundleSumFn{}, events)
	} else {
		perMinute = beam.ParDo(s, minuteContributions, events)
	}
	return rows(s, layer, beam.Flatten(s, perMinute, sessions(s, events)))
}

func isGlobal(col beam.PCollection) bool {
	return col.WindowingStrategy().Fn.Kind == window.GlobalWindows
}

// rows sums contributions (PCollection<KV<string, Acc>>, keyed by row key) into view rows.
func rows(s beam.Scope, layer views.Layer, contributions beam.PCollection) beam.PCollection {
	sums := beam.CombinePerKey(s, merge, contributions)
	return beam.ParDo(s, &toRowFn{Layer: string(layer)}, sums)
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

// bundleSumFn sums the minute contributions of a whole bundle in memory and emits them when
// the bundle finishes, each at the earliest event time that contributed to it (so in its
// minute's window, and never behind the watermark its events held). Only for input in the
// global window: the sums are emitted in the global window. The SDK's own combiner lifting
// keeps at most 2,000 keys per bundle and evicts at random, which on 300k events with ~60k
// distinct row keys combined almost nothing; this cut the aggregation's shuffle to one element
// per row key and bundle. The speed layer sums ahead of its windows for the same reason:
// Prism keeps every element of an accumulating window until the window closes and re-sorts
// them all at each firing.
type bundleSumFn struct {
	sums map[string]*stampedAcc
}

// stampedAcc is a sum and the earliest event time that contributed to it.
type stampedAcc struct {
	acc      Acc
	earliest time.Time
}

func (f *bundleSumFn) StartBundle(_ func(beam.EventTime, string, Acc)) {
	f.sums = map[string]*stampedAcc{}
}

func (f *bundleSumFn) ProcessElement(e event.Event, _ func(beam.EventTime, string, Acc)) {
	addContributions(f.sums, e)
}

// addContributions adds the minute contributions of e to sums.
func addContributions(sums map[string]*stampedAcc, e event.Event) {
	minuteContributions(e, func(key string, acc Acc) {
		old, ok := sums[key]
		if !ok {
			sums[key] = &stampedAcc{acc: acc, earliest: e.Time}
			return
		}
		old.acc = merge(old.acc, acc)
		if e.Time.Before(old.earliest) {
			old.earliest = e.Time
		}
	})
}

func (f *bundleSumFn) FinishBundle(emit func(beam.EventTime, string, Acc)) {
	for k, sum := range f.sums {
		emit(mtime.FromTime(sum.earliest), k, sum.acc)
	}
	f.sums = nil
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

// sessions returns one contribution per session, PCollection<KV<string, Acc>>. In the global
// window, points travel in batches per hash bucket of the user (see bucketPointsFn).
func sessions(s beam.Scope, events beam.PCollection) beam.PCollection {
	s = s.Scope("sessions")
	if isGlobal(events) {
		grouped := beam.GroupByKey(s, beam.ParDo(s, &bucketPointsFn{}, events))
		return beam.ParDo(s, sessionsOfBucket, grouped)
	}
	points := beam.ParDo(s, sessionPoint, events)
	return beam.ParDo(s, summarizeSessions, beam.GroupByKey(s, points))
}

// summarizeSessions emits the sessions of one user.
func summarizeSessions(_ string, points func(*point) bool, emit func(string, Acc)) {
	var all []point
	var p point
	for points(&p) {
		all = append(all, p)
	}
	splitSessions(all, emit)
}

// splitSessions splits the events of one user into sessions and emits one contribution per
// session. A session's first event is the earliest, ties broken by the smallest event ID.
func splitSessions(all []point, emit func(string, Acc)) {
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
	batches map[int]*pointBatch
}

func (f *bucketPointsFn) StartBundle(_ func(int, pointBatch)) {
	f.batches = map[int]*pointBatch{}
}

func (f *bucketPointsFn) ProcessElement(e event.Event, _ func(int, pointBatch)) {
	k := userBucket(e.UserID)
	b, ok := f.batches[k]
	if !ok {
		b = &pointBatch{}
		f.batches[k] = b
	}
	b.add(e)
}

// userBucket returns the bucket of a user.
func userBucket(user string) int {
	return bucketOf(user, userBuckets)
}

// bucketOf returns the bucket, of n, of a key.
func bucketOf(key string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

// add appends the session point of e.
func (b *pointBatch) add(e event.Event) {
	b.Users = append(b.Users, e.UserID)
	b.Points = append(b.Points, point{TimeMs: e.Time.UnixMilli(), ID: e.ID, Country: e.Country})
}

// byUser returns the points of batches by user.
func byUser(batches func(*pointBatch) bool) map[string][]point {
	users := map[string][]point{}
	var b pointBatch
	for batches(&b) {
		for i, u := range b.Users {
			users[u] = append(users[u], b.Points[i])
		}
	}
	return users
}

func (f *bucketPointsFn) FinishBundle(emit func(int, pointBatch)) {
	for k, b := range f.batches {
		emit(k, *b)
	}
	f.batches = nil
}

// sessionsOfBucket emits the sessions of every user of one bucket.
func sessionsOfBucket(_ int, batches func(*pointBatch) bool, emit func(string, Acc)) {
	for _, points := range byUser(batches) {
		splitSessions(points, emit)
	}
}

// toRowFn turns the sum of one row key into a row.
type toRowFn struct {
	Layer string
}

func (f *toRowFn) ProcessElement(key string, acc Acc, emit func(views.Row)) error {
	row, err := rowOf(views.Layer(f.Layer), key, acc)
	if err != nil {
		return err
	}
	emit(row)
	return nil
}

// rowOf returns the row of layer that the row key key and its sum acc make.
func rowOf(layer views.Layer, key string, acc Acc) (views.Row, error) {
	view, rest, ok1 := strings.Cut(key, keySep)
	startMs, k, ok2 := strings.Cut(rest, keySep)
	spec, known := views.Lookup(view)
	ms, err := strconv.ParseInt(startMs, 10, 64)
	if !ok1 || !ok2 || !known || err != nil {
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
	start := time.UnixMilli(ms).UTC()
	return views.Row{View: view, Key: k, WindowStart: start, WindowEnd: start.Add(spec.Window), Metrics: metrics, Layer: layer}, nil
}
