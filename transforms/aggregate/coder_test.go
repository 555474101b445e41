package aggregate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/beamline/beamline/io/views"
	"github.com/beamline/beamline/transforms/scope"
)

// randomAcc returns an accumulator with awkward values: negative and extreme counts, users
// with empty and non-ASCII names.
func randomAcc(r *rand.Rand) Acc {
	a := Acc{Counts: make([]int64, r.IntN(6))}
	for i := range a.Counts {
		a.Counts[i] = []int64{0, 1, -1, math.MaxInt64, math.MinInt64, r.Int64()}[r.IntN(6)]
	}
	for i := range r.IntN(4) {
		a.Users = append(a.Users, fmt.Sprintf("u-%d-é\x00%d", i, r.IntN(1000)))
	}
	return a
}

// TestCodersRoundTrip encodes and decodes 500 random values of each of the package's coders
// (accumulators, row sums, session points, open sessions, view rows) and checks that every one comes back
// equal, and that every strict prefix of an encoding fails to decode or decodes to another
// value, never panics.
func TestCodersRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	empty := cmpopts.EquateEmpty()
	for range 500 {
		a := randomAcc(r)
		back, err := decodeAcc(encodeAcc(a))
		if err != nil || !cmp.Equal(a, back, empty) {
			t.Fatalf("Acc %+v came back as %+v (%v)", a, back, err)
		}
		rs := rowSums{}
		for i := range r.IntN(4) {
			rs.Keys = append(rs.Keys, fmt.Sprintf("page_views\x1f%d\x1fhttps://x/é", i))
			rs.Accs = append(rs.Accs, randomAcc(r))
		}
		backRS, err := decodeRowSums(encodeRowSums(rs))
		if err != nil || !cmp.Equal(rs, backRS, empty) {
			t.Fatalf("rowSums %+v came back as %+v (%v)", rs, backRS, err)
		}
		pl := pointList{}
		for i := range r.IntN(5) {
			pl.Points = append(pl.Points, point{TimeMs: r.Int64() - math.MaxInt64/2, ID: fmt.Sprintf("e-%d", i), Country: []string{"", "DE", "ÖS"}[r.IntN(3)]})
		}
		backPL, err := decodePoints(encodePoints(pl))
		if err != nil || !cmp.Equal(pl, backPL, empty) {
			t.Fatalf("pointList %+v came back as %+v (%v)", pl, backPL, err)
		}
		pb := pointBatch{Points: pl.Points}
		for i := range pb.Points {
			pb.Users = append(pb.Users, fmt.Sprintf("u-%d-ü", i))
		}
		backPB, err := decodePointBatch(encodePointBatch(pb))
		if err != nil || !cmp.Equal(pb, backPB, empty) {
			t.Fatalf("pointBatch %+v came back as %+v (%v)", pb, backPB, err)
		}
		var open openSessions
		for _, p := range pl.Points {
			open.Sessions = append(open.Sessions, openSession{First: p, LastMs: p.TimeMs + r.Int64N(1e9), Events: r.Int64N(1e6)})
		}
		backOS, err := decodeOpenSessions(encodeOpenSessions(open))
		if err != nil || !cmp.Equal(open, backOS, empty) {
			t.Fatalf("openSessions %+v came back as %+v (%v)", open, backOS, err)
		}
		for _, enc := range [][]byte{encodeAcc(a), encodeRowSums(rs), encodePoints(pl), encodeOpenSessions(open), encodePointBatch(pb)} {
			for n := range enc {
				decodeAcc(enc[:n]) // must not panic
				decodeRowSums(enc[:n])
				decodePoints(enc[:n])
				decodeOpenSessions(enc[:n])
				decodePointBatch(enc[:n])
			}
		}
	}
}

// FuzzDecoders feeds arbitrary bytes to every decoder of the package: none may panic, and what
// one decodes must encode back to bytes that decode to the same value.
func FuzzDecoders(f *testing.F) {
	r := rand.New(rand.NewPCG(3, 4))
	f.Add(encodeAcc(randomAcc(r)))
	f.Add(encodeRowSums(rowSums{Keys: []string{"k"}, Accs: []Acc{randomAcc(r)}}))
	f.Add(encodePoints(pointList{Points: []point{{TimeMs: 5, ID: "e", Country: "DE"}}}))
	f.Add(encodePointBatch(pointBatch{Users: []string{"u"}, Points: []point{{TimeMs: 5, ID: "e", Country: "DE"}}}))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	empty := cmpopts.EquateEmpty()
	f.Fuzz(func(t *testing.T, b []byte) {
		if a, err := decodeAcc(b); err == nil {
			if back, err := decodeAcc(encodeAcc(a)); err != nil || !cmp.Equal(a, back, empty) {
				t.Errorf("Acc %+v re-encoded came back as %+v (%v)", a, back, err)
			}
		}
		if rs, err := decodeRowSums(b); err == nil {
			if back, err := decodeRowSums(encodeRowSums(rs)); err != nil || !cmp.Equal(rs, back, empty) {
				t.Errorf("rowSums %+v re-encoded came back as %+v (%v)", rs, back, err)
			}
		}
		if pl, err := decodePoints(b); err == nil {
			if back, err := decodePoints(encodePoints(pl)); err != nil || !cmp.Equal(pl, back, empty) {
				t.Errorf("pointList %+v re-encoded came back as %+v (%v)", pl, back, err)
			}
		}
		if pb, err := decodePointBatch(b); err == nil {
			if back, err := decodePointBatch(encodePointBatch(pb)); err != nil || !cmp.Equal(pb, back, empty) {
				t.Errorf("pointBatch %+v re-encoded came back as %+v (%v)", pb, back, err)
			}
		}
		if o, err := decodeOpenSessions(b); err == nil {
			if back, err := decodeOpenSessions(encodeOpenSessions(o)); err != nil || !cmp.Equal(o, back, empty) {
				t.Errorf("openSessions %+v re-encoded came back as %+v (%v)", o, back, err)
			}
		}
	})
}

// TestOpenSessionsAgreeWithSplitSessions adds random points of a user, in random order, to
// openSessions and checks the sessions it holds against splitSessions over all the points (the
// batch layer's sessions): the same first point, event count and duration for each.
func TestOpenSessionsAgreeWithSplitSessions(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for trial := range 300 {
		var points []point
		at := int64(0)
		for i := range 1 + r.IntN(40) {
			// Steps of up to 50 minutes: some within a session gap, some beyond, some ties.
			at += r.Int64N(50 * 60 * 1000)
			if r.IntN(8) == 0 {
				at -= r.Int64N(at + 1) // an earlier (late) one
			}
			points = append(points, point{TimeMs: at, ID: fmt.Sprintf("e%02d", i), Country: []string{"DE", "FR"}[r.IntN(2)]})
		}
		var open openSessions
		for _, i := range r.Perm(len(points)) {
			open.add(points[i])
		}
		var want []string
		splitSessions(append([]point(nil), points...), scope.Range{}, func(id rowID, a Acc, _ time.Time) {
			want = append(want, fmt.Sprintf("%s %v", id.rowKey(), a.Counts))
		})
		var got []string
		for _, s := range open.Sessions {
			key := views.RowKey(views.Sessions, time.UnixMilli(s.First.TimeMs).UTC().Truncate(time.Hour), s.First.Country)
			got = append(got, fmt.Sprintf("%s %v", key, []int64{1, s.Events, (s.LastMs - s.First.TimeMs) / 1000}))
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("trial %d, points %v: sessions (-splitSessions +openSessions):\n%s", trial, points, d)
		}
	}
}
