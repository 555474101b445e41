package kafkatopic

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/stats"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/beamline/beamline/io/event"
	"github.com/beamline/beamline/io/source/kafkasource/kafkatest"
	"github.com/beamline/beamline/io/topic"
)

func TestMain(m *testing.M) { ptest.Main(m) }

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		url     string
		want    Params
		wantErr string
	}{
		{url: "kafka://b1:9092,b2:9092/scored.v1", want: Params{Brokers: []string{"b1:9092", "b2:9092"}, Topic: "scored.v1"}},
		{url: "kafka://b1:9092/scored?group=g", wantErr: "takes no parameters"},
		{url: "kafka://b1/scored", wantErr: "is not HOST:PORT"},
		{url: "kafka://b1:9092/", wantErr: "names no valid topic"},
		{url: "pubsub://b1:9092/t", wantErr: "scheme"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			u, err := url.Parse(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseURL(u)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseURL = %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !cmp.Equal(got, tc.want) {
				t.Errorf("ParseURL = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
	if err := topic.Validate("kafka://b:1/t"); err != nil {
		t.Errorf("topic.Validate with the driver registered: %v", err)
	}
}

// events returns n events with every field set.
func events(n int) []event.Event {
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	out := make([]event.Event, n)
	for i := range out {
		out[i] = event.Event{ID: fmt.Sprintf("e-%03d", i), Type: event.TypePost, UserID: fmt.Sprintf("u-%d", i%7),
			URL: "https://shop.example/p/" + fmt.Sprint(i), Country: "DE", UserAgent: "UA", Text: "text " + fmt.Sprint(i),
			Time: t0.Add(time.Duration(i) * 1500 * time.Millisecond), Category: "shoes", Score: float32(i) / float32(n),
			Flagged: i%3 == 0, Raw: []byte(fmt.Sprintf(`{"event_id":"e-%03d"}`, i))}
	}
	return out
}

// TestWrite produces events from a Beam pipeline on Prism to a real Kafka protocol server
// (kfake), several batches per bundle: every event is one record, whole, keyed by its ID, with
// its ID and event time in the headers, and the counts say how many were published.
func TestWrite(t *testing.T) {
	c := kafkatest.Start(t, 3, "scored")
	want := events(250)
	p, s := beam.NewPipelineWithRoot()
	counts := topic.Write(s, "kafka://"+c.Brokers+"/scored", beam.CreateList(s, want), topic.BatchSize(40))
	passert.Equals(s, stats.Sum(s, counts), len(want))
	if err := ptest.Run(p); err != nil {
		t.Fatal(err)
	}
	var got []event.Event
	parts := map[int32]bool{}
	for _, r := range c.Records("scored") {
		e, err := topic.Unmarshal(r.Value)
		if err != nil {
			t.Fatalf("record %d/%d: %v", r.Partition, r.Offset, err)
		}
		h := map[string]string{}
		for _, kv := range r.Headers {
			h[kv.Key] = string(kv.Value)
		}
		if string(r.Key) != e.ID || h[topic.AttrEventID] != e.ID || h[topic.AttrTime] != e.Time.Format(time.RFC3339Nano) {
			t.Errorf("record %d/%d: key %q, headers %v for event %s at %s", r.Partition, r.Offset, r.Key, h, e.ID, e.Time)
		}
		parts[r.Partition] = true
		got = append(got, e)
	}
	byID := cmpopts.SortSlices(func(a, b event.Event) bool { return a.ID < b.ID })
	if d := cmp.Diff(want, got, byID); d != "" {
		t.Errorf("published events (-want +got):\n%s", d)
	}
	if len(parts) != 3 {
		t.Errorf("the records went to %d partitions of 3", len(parts))
	}
}

// TestWriteFailureFailsTheBundle produces to a topic that does not exist: the pipeline fails
// with an error naming the topic (a bundle is never finished with its output unpublished).
func TestWriteFailureFailsTheBundle(t *testing.T) {
	c := kafkatest.Start(t, 1)
	p, s := beam.NewPipelineWithRoot()
	topic.Write(s, "kafka://"+c.Brokers+"/missing", beam.CreateList(s, events(3)))
	began := time.Now()
	err := ptest.Run(p)
	if err == nil || !strings.Contains(err.Error(), "kafka produce to missing") {
		t.Fatalf("producing to a missing topic: %v, want an error naming the topic", err)
	}
	t.Logf("failed after %s", time.Since(began).Round(time.Millisecond))
}
