package pubsubsource

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/io/event"
	"github.com/beamline/beamline/io/source"
	"github.com/beamline/beamline/io/source/pubsubsource/pubsubtest"
	"github.com/beamline/beamline/io/topic"
)

// TestReadStageTopic reads messages of the stage topics' wire format (package topic), published
// days after their event time, with the event time taken from the ts attribute and from the
// ts field: either way each message is stamped with its event time, not its publish time, the
// watermark follows the largest event time, and the message decodes to the event published.
func TestReadStageTopic(t *testing.T) {
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	want := map[string]event.Event{}
	var maxTime time.Time
	for i := range 5 {
		e := event.Event{ID: fmt.Sprintf("e-%d", i), Type: event.TypeClick, UserID: "u", URL: "https://x/", Country: "DE",
			Time: t0.Add(time.Duration(5-i) * 1234 * time.Millisecond), Category: "c", Score: 0.25, Raw: []byte("{}")}
		want[e.ID] = e
		if e.Time.After(maxTime) {
			maxTime = e.Time
		}
	}
	for _, attr := range []string{topic.AttrTime, ""} {
		t.Run("timestamp_attribute="+attr, func(t *testing.T) {
			srv := pubsubtest.Start(t, 10*time.Second)
			for _, e := range want {
				m, err := topic.Marshal(e)
				if err != nil {
					t.Fatal(err)
				}
				srv.Publish(srv.Topic, m.Data, m.Attributes)
			}
			f := newReader(t, srv, false)
			f.TimestampAttribute = attr
			got := map[string]event.Event{}
			c, err := f.Pull(context.Background(), func(et beam.EventTime, m source.Message) {
				e, err := topic.Unmarshal(m.Data)
				if err != nil {
					t.Errorf("message %s: %v", m.Source, err)
					return
				}
				if !et.ToTime().Equal(e.Time) {
					t.Errorf("event %s stamped %s, want its event time %s", e.ID, et.ToTime().UTC(), e.Time)
				}
				got[e.ID] = e
			})
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("events read (-want +got):\n%s", d)
			}
			if c.MaxSeen != maxTime.UnixMilli() {
				t.Errorf("largest event time seen %s, want %s", time.UnixMilli(c.MaxSeen).UTC(), maxTime)
			}
		})
	}
}
