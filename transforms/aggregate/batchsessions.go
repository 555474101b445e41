package aggregate

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"time"

	"github.com/beamline/beamline/internal/varcode"
	"github.com/beamline/beamline/io/spill"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/beamline/beamline/io/event"
	"github.com/beamline/beamline/io/views"
	_ "github.com/beamline/beamline/io/views/rowcoder" // the coder of the rows Views and Speed emit
	"github.com/beamline/beamline/transforms/bucket"
	"github.com/beamline/beamline/transforms/scope"
)

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

// pointBatch is the session points of several users, travelling as one element: Points[i] is
// a point of Users[i].
type pointBatch struct {
	Users  []string
	Points []point
}

func init() {
	beam.RegisterCoder(reflect.TypeOf((*pointBatch)(nil)).Elem(), encodePointBatch, decodePointBatch)
}

func encodePointBatch(pb pointBatch) []byte {
	b := binary.AppendUvarint(nil, uint64(len(pb.Points)))
	for i, p := range pb.Points {
		b = varcode.AppendString(b, pb.Users[i])
		b = binary.AppendVarint(b, p.TimeMs)
		b = varcode.AppendString(b, p.ID)
		b = varcode.AppendString(b, p.Country)
	}
	return b
}

var errPointBatch = errors.New("aggregate: bad point batch encoding")

func decodePointBatch(b []byte) (pointBatch, error) {
	d := varcode.NewDecoder(b)
	n := d.Count()
	pb := pointBatch{Users: make([]string, n), Points: make([]point, n)}
	for i := range pb.Points {
		pb.Users[i] = d.Str()
		pb.Points[i] = point{TimeMs: d.Varint(), ID: d.Str(), Country: d.Str()}
	}
	if d.Err() != nil {
		return pointBatch{}, errPointBatch
	}
	return pb, nil
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
		emit(k, f.batches.Take(k))
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
	f.batches.Flush(emit)
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
