package dedupe

import (
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/transforms/event"
	"github.com/beamline/beamline/transforms/internal/beamtest"
)

func TestMain(m *testing.M) { ptest.Main(m) }

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
		{name: "earliest copy wins", in: []event.Event{ev("a", time.Hour, "1"), ev("a", 0, "2"), ev("a", 48*time.Hour, "0")}, want: []event.Event{ev("a", 0, "2")}, duplicates: 2},
		{name: "time ties go to the smallest raw record", in: []event.Event{ev("a", 0, "b"), ev("a", 0, "a"), ev("a", 0, "c")}, want: []event.Event{ev("a", 0, "a")}, duplicates: 2},
	}
	forms := map[string]func(beam.Scope, beam.PCollection) beam.PCollection{
		"ByID":     ByID,
		"Stateful": func(s beam.Scope, events beam.PCollection) beam.PCollection { return Stateful(s, DefaultTTL, events) },
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
