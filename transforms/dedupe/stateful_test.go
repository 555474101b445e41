package dedupe

import (
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/teststream"
	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/transforms/event"
	"github.com/beamline/beamline/transforms/internal/beamtest"
)

// TestStatefulAcrossWatermarks runs Stateful on a teststream: a copy that arrives after the
// watermark has passed (and the kept copy was emitted) is a duplicate; a late event (behind the
// watermark) still passes once; a copy after the TTL passes again, as documented.
func TestStatefulAcrossWatermarks(t *testing.T) {
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	ev := func(id string, at time.Duration, raw string) event.Event {
		return event.Event{ID: id, UserID: "u", Time: t0.Add(at), Raw: []byte(raw)}
	}
	const ttl = time.Hour
	cfg := teststream.NewConfig()
	add := func(e ...event.Event) {
		if err := cfg.AddElementList(e[0].Time.UnixMilli(), e); err != nil {
			t.Fatal(err)
		}
	}
	advance := func(d time.Duration) {
		if err := cfg.AdvanceWatermark(t0.Add(d).UnixMilli()); err != nil {
			t.Fatal(err)
		}
	}
	add(ev("a", 0, "a1"), ev("b", time.Second, "b"))
	advance(time.Minute)                 // a and b are emitted
	add(ev("a", 0, "a1"))                // a copy after a was emitted: duplicate
	add(ev("late", 10*time.Second, "l")) // behind the watermark: kept, once
	add(ev("late", 10*time.Second, "l"))
	advance(2 * time.Hour) // a's TTL has expired
	add(ev("a", 0, "a1"))  // remembered no more: passes again
	if err := cfg.AdvanceWatermarkToInfinity(); err != nil {
		t.Fatal(err)
	}

	p, s := beam.NewPipelineWithRoot()
	out := Stateful(s, ttl, teststream.Create(s, cfg))
	beamtest.Equal(s, out, []event.Event{ev("a", 0, "a1"), ev("b", time.Second, "b"), ev("late", 10*time.Second, "l"), ev("a", 0, "a1")})
	res, err := ptest.RunWithMetrics(p)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string]int64{"processed": 4, "duplicates": 2}, beamtest.Counters(res, "beamline")); d != "" {
		t.Errorf("counters (-want +got):\n%s", d)
	}
}
