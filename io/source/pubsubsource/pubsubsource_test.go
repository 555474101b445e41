package pubsubsource

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/sdf"
	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/io/source"
	"github.com/beamline/beamline/io/source/internal/queueurl"
	"github.com/beamline/beamline/io/source/internal/restriction"
	"github.com/beamline/beamline/io/source/pubsubsource/pubsubtest"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		url     string
		want    Params
		wantErr string
	}{
		{url: "pubsub://projects/p/subscriptions/s", want: Params{Project: "p", Subscription: "s", Reader: queueurl.Defaults()}},
		{url: "pubsub://projects/my-proj/subscriptions/sub.1?timestamp_attribute=ts&call=500ms&idle=2s&delay=1s&max=100",
			want: Params{Project: "my-proj", Subscription: "sub.1", TimestampAttribute: "ts",
				Reader: queueurl.Reader{Call: 500 * time.Millisecond, Max: 100, Idle: 2 * time.Second, Delay: time.Second}}},
		{url: "pubsub://projects/p/subscriptions/s?max=1&max=2", wantErr: "max is given 2 times"},
		{url: "pubsub://projects/p/topics/t", wantErr: "is not pubsub://projects/P/subscriptions/S"},
		{url: "pubsub://projects/p/subscriptions/s/x", wantErr: "is not pubsub://"},
		{url: "pubsub://projects/p/subscriptions/s?call=0s", wantErr: "call="},
		{url: "pubsub://projects/p/subscriptions/s?max=-1", wantErr: "max="},
		{url: "pubsub://projects/p/subscriptions/s?batch=1", wantErr: "unknown parameter"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			u, err := url.Parse(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseURL(u)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseURL = %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

type emitted struct {
	at  time.Time
	msg source.Message
}

// newReader returns a reader of srv's subscription, set up.
func newReader(t *testing.T, srv *pubsubtest.Server, commit bool) *readFn {
	t.Helper()
	f := &readFn{Project: pubsubtest.Project, Subscription: srv.Subscription, Call: 2 * time.Second,
		MaxMessages: 100, Idle: time.Second, AckAfterCommit: commit}
	if err := f.Setup(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Teardown)
	return f
}

// TestReadCallAndAck pulls from a real pstest server: events are timestamped with their ts,
// garbage with its publish time, line breaks become spaces, and the acker acknowledges.
func TestReadCallAndAck(t *testing.T) {
	srv := pubsubtest.Start(t, 10*time.Second)
	event := `{"event_id":"e1","type":"click","user_id":"u","url":"https://x/",` + "\n" + `"ts":"2026-11-20T10:00:01.5Z"}`
	ids := srv.PublishAll([][]byte{[]byte(event), []byte("garbage")})
	f := newReader(t, srv, false)
	var got []emitted
	c, err := f.Pull(context.Background(), func(et beam.EventTime, m source.Message) { got = append(got, emitted{et.ToTime(), m}) })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !c.Drained || c.MaxSeen != time.Date(2026, 11, 20, 10, 0, 1, 5e8, time.UTC).UnixMilli() {
		t.Fatalf("pulled %d messages (drained %v, max event time %d): %+v", len(got), c.Drained, c.MaxSeen, got)
	}
	for _, e := range got {
		switch {
		case strings.HasSuffix(e.msg.Source, "/"+ids[0]):
			if strings.ContainsAny(string(e.msg.Data), "\r\n") || !e.at.Equal(time.Date(2026, 11, 20, 10, 0, 1, 5e8, time.UTC)) {
				t.Errorf("event: %q at %s", e.msg.Data, e.at)
			}
		case strings.HasSuffix(e.msg.Source, "/"+ids[1]):
			if pub := srv.Message(ids[1]).PublishTime; !e.at.Equal(pub.Truncate(time.Millisecond)) {
				t.Errorf("garbage at %s, want its publish time %s", e.at, pub)
			}
		default:
			t.Errorf("unexpected source %q", e.msg.Source)
		}
		if e.msg.AckID == "" {
			t.Errorf("message %s carries no ack ID", e.msg.Source)
		}
	}
	if n := f.conn.leases.Held(f.Subscription, nil); n != 0 {
		t.Errorf("%d leases held before ProcessElement took any", n)
	}
	a, err := source.OpenAcker(context.Background(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.Ack(context.Background(), []string{got[0].msg.AckID, got[1].msg.AckID}); err != nil {
		t.Fatal(err)
	}
	if st := srv.Stats(); st.Unacked != 0 {
		t.Errorf("%d messages not acknowledged", st.Unacked)
	}
}

// TestAckAfterCommit runs two reader calls as a runner would: the first call's checkpoint
// residual carries the ack IDs of what it emitted (its messages carry none), and the next call
// acknowledges them first.
func TestAckAfterCommit(t *testing.T) {
	srv := pubsubtest.Start(t, 10*time.Second)
	srv.PublishAll([][]byte{[]byte("a"), []byte("b"), []byte("c")})
	f := newReader(t, srv, true)
	ctx := context.Background()
	rt := sdf.NewLockRTracker(restriction.NewTracker(f.CreateInitialRestriction(nil)))
	we := f.CreateWatermarkEstimator(f.InitialWatermarkEstimatorState(0, restriction.Restriction{}, nil))
	var msgs []source.Message
	emit := func(_ beam.EventTime, m source.Message) { msgs = append(msgs, m) }
	if _, err := f.ProcessElement(ctx, we, rt, nil, emit); err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 3 || msgs[0].AckID != "" {
		t.Fatalf("first call emitted %+v; want 3 messages without ack IDs", msgs)
	}
	if st := srv.Stats(); st.Unacked != 3 {
		t.Errorf("acknowledged before the commit: %+v", st)
	}
	_, residual, err := rt.TrySplit(0)
	if err != nil {
		t.Fatal(err)
	}
	res := residual.(restriction.Restriction)
	if len(res.AckIDs) != 3 {
		t.Fatalf("the checkpoint's residual carries %d ack IDs, want 3", len(res.AckIDs))
	}
	rt = sdf.NewLockRTracker(restriction.NewTracker(res))
	if _, err := f.ProcessElement(ctx, we, rt, nil, emit); err != nil {
		t.Fatal(err)
	}
	if st := srv.Stats(); st.Unacked != 0 || st.Redelivered != 0 {
		t.Errorf("after the next call: %+v; want every message acknowledged once delivered once", st)
	}
}
