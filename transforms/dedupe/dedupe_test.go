package dedupe

import (
	"fmt"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/io/event"
	"github.com/beamline/beamline/transforms/internal/beamtest"
	"github.com/beamline/beamline/transforms/scope"
)

func TestMain(m *testing.M) { ptest.Main(m) }

// TestByIDWithinTTL checks the batch rule: a copy is decided by the copies within the TTL before
// it, only copies in the owned range are counted, and copies before DecideOnly (30 minutes
// before the day) decide later copies but are not emitted.
func TestByIDWithinTTL(t *testing.T) {
	day := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	ev := func(id string, at time.Duration, raw string) event.Event {
		return event.Event{ID: id, UserID: "u", Time: day.Add(at), Raw: []byte(raw)}
	}
	owned := scope.Days(day, day)
	tests := []struct {
		name      string
		in, want  []event.Event
		processed int64
		dups      int64
	}{
		{name: "a copy 23h after its predecessor is a duplicate",
			in: []event.Event{ev("a", 0, "x"), ev("a", 23*time.Hour, "y")}, want: []event.Event{ev("a", 0, "x")}, processed: 1, dups: 1},
		{name: "a copy more than the TTL after its predecessor passes again",
			in: []event.Event{ev("a", -2*time.Hour, "x"), ev("a", 22*time.Hour+time.Millisecond, "y")}, want: []event.Event{ev("a", 22*time.Hour+time.Millisecond, "y")}, processed: 1},
		{name: "a chain of copies within the TTL of each other keeps only the first",
			in: []event.Event{ev("a", -20*time.Hour, "x"), ev("a", -time.Hour, "y"), ev("a", 10*time.Hour, "z")}, want: []event.Event{}, dups: 1},
		{name: "a copy on the day before decides one on the day, and only the day's is counted",
			in: []event.Event{ev("a", time.Hour, "x"), ev("a", -time.Hour, "y")}, want: []event.Event{}, dups: 1},
		{name: "a copy in the session gap before the day is emitted for sessions",
			in: []event.Event{ev("a", time.Hour, "x"), ev("a", -10*time.Minute, "y")}, want: []event.Event{ev("a", -10*time.Minute, "y")}, dups: 1},
		{name: "context copies after the day are emitted but not counted",
			in: []event.Event{ev("b", 25*time.Hour, "x"), ev("c", time.Hour, "y")}, want: []event.Event{ev("b", 25*time.Hour, "x"), ev("c", time.Hour, "y")}, processed: 1},
	}
	for _, tt := range tests {
		for _, spilled := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/spilled=%v", tt.name, spilled), func(t *testing.T) {
				dir := ""
				if spilled {
					dir = t.TempDir()
				}
				p, s := beam.NewPipelineWithRoot()
				beamtest.Equal(s, ByID(s, DefaultTTL, scope.Config{Owned: owned, DecideOnly: day.Add(-30 * time.Minute)}, beamtest.Events(s, tt.in), dir), tt.want)
				res, err := ptest.RunWithMetrics(p)
				if err != nil {
					t.Fatal(err)
				}
				want := map[string]int64{"processed": tt.processed}
				if tt.dups > 0 {
					want["duplicates"] = tt.dups
				}
				if d := cmp.Diff(want, beamtest.Counters(res, "beamline")); d != "" {
					t.Errorf("counters (-want +got):\n%s", d)
				}
			})
		}
	}
}

func TestByID(t *testing.T) {
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	ev := func(id string, at time.Duration, raw string) event.Event {
		return event.Event{ID: id, UserID: "u", Time: t0.Add(at), Raw: []byte(raw)}
	}
	tests := []struct {
		name       string
		in, want   []event.Event
		duplicates int64
	}{
		{name: "unique events pass", in: []event.Event{ev("a", 0, "a"), ev("b", time.Second, "b")}, want: []event.Event{ev("a", 0, "a"), ev("b", time.Second, "b")}},
		{name: "identical copies count once", in: []event.Event{ev("a", 0, "x"), ev("a", 0, "x"), ev("a", 0, "x")}, want: []event.Event{ev("a", 0, "x")}, duplicates: 2},
		{name: "earliest copy wins", in: []event.Event{ev("a", time.Hour, "1"), ev("a", 0, "2"), ev("a", 20*time.Hour, "0")}, want: []event.Event{ev("a", 0, "2")}, duplicates: 2},
		{name: "time ties go to the smallest raw record", in: []event.Event{ev("a", 0, "b"), ev("a", 0, "a"), ev("a", 0, "c")}, want: []event.Event{ev("a", 0, "a")}, duplicates: 2},
		{name: "IDs of several buckets", in: []event.Event{ev("a", 0, "a"), ev("b", 0, "b"), ev("c", 0, "c"), ev("d", 0, "d"), ev("e", 0, "e"), ev("b", time.Hour, "b2")},
			want: []event.Event{ev("a", 0, "a"), ev("b", 0, "b"), ev("c", 0, "c"), ev("d", 0, "d"), ev("e", 0, "e")}, duplicates: 1},
	}
	forms := map[string]func(beam.Scope, beam.PCollection) beam.PCollection{
		"ByID": func(s beam.Scope, events beam.PCollection) beam.PCollection {
			return ByID(s, DefaultTTL, scope.Config{}, events, "")
		},
		"ByIDInParts": func(s beam.Scope, events beam.PCollection) beam.PCollection {
			return beam.Flatten(s, ByIDInParts(s, DefaultTTL, scope.Config{}, events, "", 3)...)
		},
		"Stateful": func(s beam.Scope, events beam.PCollection) beam.PCollection {
			return Stateful(s, Options{TTL: DefaultTTL, MaxIDs: DefaultMaxIDs}, events)
		},
	}
	for _, tt := range tests {
		for form, dedupe := range forms {
			t.Run(form+"/"+tt.name, func(t *testing.T) {
				p, s := beam.NewPipelineWithRoot()
				events := beamtest.Events(s, tt.in)
				beamtest.Equal(s, dedupe(s, events), tt.want)
				res, err := ptest.RunWithMetrics(p)
				if err != nil {
					t.Fatal(err)
				}
				got := beamtest.Counters(res, "beamline")
				want := map[string]int64{"processed": int64(len(tt.want))}
				if tt.duplicates > 0 {
					want["duplicates"] = tt.duplicates // counters never incremented are not reported
				}
				if d := cmp.Diff(want, got); d != "" {
					t.Errorf("counters (-want +got):\n%s", d)
				}
			})
		}
	}
}
