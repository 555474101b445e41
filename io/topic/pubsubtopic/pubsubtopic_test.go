package pubsubtopic

import (
	"context"
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
	"github.com/beamline/beamline/io/source/pubsubsource/pubsubtest"
	"github.com/beamline/beamline/io/topic"
)

func TestMain(m *testing.M) { ptest.Main(m) }

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		url     string
		want    Params
		wantErr string
	}{
		{url: "pubsub://projects/p-1/topics/scored.v1", want: Params{Project: "p-1", Topic: "scored.v1"}},
		{url: "pubsub://projects/p/subscriptions/s", wantErr: "is not pubsub://projects/P/topics/T"},
		{url: "pubsub://projects/p/topics/t/x", wantErr: "is not pubsub://projects/P/topics/T"},
		{url: "pubsub://projects/p/topics/t?batch=10", wantErr: "takes no parameters"},
		{url: "kafka://projects/p/topics/t", wantErr: "scheme"},
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
			if err != nil || got != tc.want {
				t.Errorf("ParseURL = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
	if err := topic.Validate("pubsub://projects/p/topics/t"); err != nil {
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

// TestWrite publishes events from a Beam pipeline on Prism to a real Pub/Sub server (pstest),
// several publish batches per bundle: every event is one message, whole, with its ID and event
// time in the attributes, and the counts say how many were published.
func TestWrite(t *testing.T) {
	srv := pubsubtest.Start(t, 10*time.Second)
	want := events(250)
	p, s := beam.NewPipelineWithRoot()
	counts := topic.Write(s, srv.CreateTopic(t, "scored"), beam.CreateList(s, want), topic.BatchSize(40))
	passert.Equals(s, stats.Sum(s, counts), len(want))
	if err := ptest.Run(p); err != nil {
		t.Fatal(err)
	}
	var got []event.Event
	for _, m := range srv.Messages() {
		if m.Topic != "projects/"+pubsubtest.Project+"/topics/scored" {
			continue
		}
		e, err := topic.Unmarshal(m.Data)
		if err != nil {
			t.Fatalf("message %s: %v", m.ID, err)
		}
		if m.Attributes[topic.AttrEventID] != e.ID || m.Attributes[topic.AttrTime] != e.Time.Format(time.RFC3339Nano) {
			t.Errorf("message %s: attributes %v for event %s at %s", m.ID, m.Attributes, e.ID, e.Time)
		}
		got = append(got, e)
	}
	byID := cmpopts.SortSlices(func(a, b event.Event) bool { return a.ID < b.ID })
	if d := cmp.Diff(want, got, byID); d != "" {
		t.Errorf("published events (-want +got):\n%s", d)
	}
}

// TestWriteFailureFailsTheBundle publishes to a topic that does not exist: the pipeline fails
// with the service's error (a bundle is never finished with its output unpublished).
func TestWriteFailureFailsTheBundle(t *testing.T) {
	pubsubtest.Start(t, 10*time.Second)
	p, s := beam.NewPipelineWithRoot()
	topic.Write(s, "pubsub://projects/"+pubsubtest.Project+"/topics/missing", beam.CreateList(s, events(3)))
	err := ptest.Run(p)
	if err == nil || !strings.Contains(err.Error(), "projects/"+pubsubtest.Project+"/topics/missing") {
		t.Fatalf("publishing to a missing topic: %v, want an error naming the topic", err)
	}
}

// TestPublishersShareAClient: publishers of one project share a client, which the last Close
// closes; a publisher opened after that works again.
func TestPublishersShareAClient(t *testing.T) {
	srv := pubsubtest.Start(t, 10*time.Second)
	ctx := context.Background()
	u := srv.CreateTopic(t, "shared")
	a, err := topic.OpenPublisher(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	b, err := topic.OpenPublisher(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if a.(*publisher).pub != b.(*publisher).pub {
		t.Error("two publishers of one topic do not share the client's publisher")
	}
	msg := []topic.Message{{Data: []byte("x"), Attributes: map[string]string{"k": "v"}}}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(ctx, msg); err != nil {
		t.Errorf("publish after another publisher closed: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	c, err := topic.OpenPublisher(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Publish(ctx, msg); err != nil {
		t.Errorf("publish with a new client: %v", err)
	}
}
