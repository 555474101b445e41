package parse

import (
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/io/event"
	"github.com/beamline/beamline/transforms/internal/beamtest"
)

func TestMain(m *testing.M) { ptest.Main(m) }

func TestEvents(t *testing.T) {
	good := `{"event_id":"e-1","type":"post","user_id":"u","ts":"2026-11-20T10:00:00Z"}`
	raws := []event.Raw{
		{Bytes: []byte(good), Source: "f:1"},
		{Bytes: []byte("{oops"), Source: "f:2"},
		{Bytes: []byte(`{"event_id":"e-2","type":"post","user_id":"u","ts":"noon"}`), Source: "f:3"},
		{Bytes: []byte{}, Source: "f:4"},
	}
	wantEvents := []event.Event{{ID: "e-1", Type: "post", UserID: "u", Country: "ZZ", Time: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC), Raw: []byte(good)}}
	p, s := beam.NewPipelineWithRoot()
	events, dead := Events(s, 0, beam.CreateList(s, raws))
	beamtest.Equal(s, events, wantEvents)
	beamtest.Equal(s, beam.ParDo(s, reasonAndSource, dead), []string{"invalid_json f:2", "bad_timestamp f:3", "invalid_json f:4"})
	res, err := ptest.RunWithMetrics(p)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"read": 4, "deadlettered_invalid_json": 2, "deadlettered_bad_timestamp": 1}
	if d := cmp.Diff(want, beamtest.Counters(res, "beamline")); d != "" {
		t.Errorf("counters (-want +got):\n%s", d)
	}
}

func reasonAndSource(dl event.DeadLetter) string { return dl.Reason + " " + dl.Source }

func init() { beam.RegisterFunction(reasonAndSource) }
