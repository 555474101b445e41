package parse

import (
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/io/event"
	"github.com/beamline/beamline/transforms/internal/beamtest"
	"github.com/beamline/beamline/transforms/scope"
)

// TestScoped parses the records of a run of 2026-11-21 from three partitions: it counts only
// the records it owns (misfiled ones by their own day, dead letters by their partition), emits
// the context events it needs, and drops the others, counted as context.
func TestScoped(t *testing.T) {
	day := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	rec := func(id string, at time.Time) []byte {
		return []byte(`{"event_id":"` + id + `","type":"post","user_id":"u","ts":"` + at.Format(time.RFC3339Nano) + `"}`)
	}
	src := func(partition time.Time, line string) string {
		return "raw/dt=" + partition.Format(time.DateOnly) + "/hr=00/a.jsonl:" + line
	}
	prev, next := day.AddDate(0, 0, -1), day.AddDate(0, 0, 1)
	raws := []event.Raw{
		{Bytes: rec("own", day.Add(time.Hour)), Source: src(day, "1")},
		{Bytes: rec("misfiled-late", day.Add(23*time.Hour)), Source: src(next, "1")},
		{Bytes: rec("misfiled-early", day.Add(time.Minute)), Source: src(prev, "1")},
		{Bytes: rec("context-gap", day.Add(-10*time.Minute)), Source: src(prev, "2")},
		{Bytes: rec("context-far", day.Add(-30*time.Hour)), Source: src(prev, "3")},
		{Bytes: rec("two-days-off", day.AddDate(0, 0, 2)), Source: src(day, "2")},
		{Bytes: rec("two-days-off-elsewhere", day), Source: src(next.AddDate(0, 0, 1), "1")},
		{Bytes: []byte("{oops"), Source: src(day, "3")},
		{Bytes: []byte("{oops"), Source: src(next, "2")},
		{Bytes: []byte("{no partition"), Source: "sample:1"},
	}
	cfg := scope.ForDays(day, day, time.Hour, 30*time.Minute, time.Hour)
	p, s := beam.NewPipelineWithRoot()
	events, dead := Scoped(s, cfg, 0, beam.CreateList(s, raws))
	beamtest.Equal(s, beam.ParDo(s, eventID, events), []string{"own", "misfiled-late", "misfiled-early", "context-gap"})
	beamtest.Equal(s, beam.ParDo(s, reasonAndSource, dead), []string{"invalid_json " + src(day, "3"), "invalid_json sample:1"})
	res, err := ptest.RunWithMetrics(p)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"read": 6, "context": 4, "filtered_out_of_range": 1, "deadlettered_invalid_json": 2}
	if d := cmp.Diff(want, beamtest.Counters(res, "beamline")); d != "" {
		t.Errorf("counters (-want +got):\n%s", d)
	}
}

func eventID(e event.Event) string { return e.ID }

func init() { beam.RegisterFunction(eventID) }
