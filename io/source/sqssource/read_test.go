package sqssource

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/sdf"

	"github.com/beamline/beamline/io/source"
	"github.com/beamline/beamline/io/source/internal/pull"
	"github.com/beamline/beamline/io/source/internal/restriction"
	"github.com/beamline/beamline/io/source/sqssource/sqstest"
)

type emitted struct {
	at  time.Time
	msg source.Message
}

// newReader returns a reader of srv's queue, set up.
func newReader(t *testing.T, srv *sqstest.Server, commit bool) *readFn {
	t.Helper()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	f := &readFn{Region: p.Region, QueueURL: p.QueueURL(), Queue: p.Queue, Call: 2 * time.Second, MaxMessages: 100,
		Idle: time.Second, Visibility: 30 * time.Second, Receivers: DefaultReceivers, AckAfterCommit: commit}
	if err := f.Setup(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Teardown)
	return f
}

// collect runs one reader call and returns what it emitted.
func collect(t *testing.T, f *readFn) ([]emitted, pull.Call) {
	t.Helper()
	var got []emitted
	c, err := f.Pull(context.Background(), func(et beam.EventTime, m source.Message) { got = append(got, emitted{et.ToTime().UTC(), m}) })
	if err != nil {
		t.Fatal(err)
	}
	return got, c
}

func newAcker(t *testing.T, srv *sqstest.Server) source.Acker {
	t.Helper()
	a, err := source.OpenAcker(context.Background(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// TestReadCallAndDelete reads from a real local server: an event is timestamped with its ts
// and put on one line, garbage is timestamped with its SentTimestamp, each message's source
// is the queue and its message ID, and the acker deletes what was read.
func TestReadCallAndDelete(t *testing.T) {
	srv := sqstest.Start(t, 30*time.Second)
	event := `{"event_id":"e1","type":"click","user_id":"u","url":"https://x/",` + "\r\n" + `"ts":"2026-11-20T10:00:01.5Z"}`
	before := time.Now().Truncate(time.Millisecond)
	ids := srv.PublishAll(t, [][]byte{[]byte(event), []byte("garbage")})
	after := time.Now()
	f := newReader(t, srv, false)
	got, c := collect(t, f)
	ts := time.Date(2026, 11, 20, 10, 0, 1, 5e8, time.UTC)
	if len(got) != 2 || !c.Drained || c.MaxSeen != ts.UnixMilli() {
		t.Fatalf("received %d messages (drained %v, max event time %d): %+v", len(got), c.Drained, c.MaxSeen, got)
	}
	var handles []string
	for _, e := range got {
		switch e.msg.Source {
		case srv.Queue + "/" + ids[0]:
			if strings.ContainsAny(string(e.msg.Data), "\r\n") || !e.at.Equal(ts) {
				t.Errorf("event: %q at %s", e.msg.Data, e.at)
			}
		case srv.Queue + "/" + ids[1]:
			if e.at.Before(before) || e.at.After(after) {
				t.Errorf("garbage at %s, want its SentTimestamp, between %s and %s", e.at, before, after)
			}
		default:
			t.Errorf("unexpected source %q", e.msg.Source)
		}
		if e.msg.AckID == "" {
			t.Errorf("message %s carries no receipt handle", e.msg.Source)
		}
		handles = append(handles, e.msg.AckID)
	}
	if st := srv.Stats(t); st.Visible != 0 || st.InFlight != 2 {
		t.Errorf("after the read: %+v, want 2 messages in flight", st)
	}
	if err := newAcker(t, srv).Ack(context.Background(), handles); err != nil {
		t.Fatal(err)
	}
	if st := srv.Stats(t); st.Unacked() != 0 || st.Redelivered != 0 {
		t.Errorf("after the ack: %+v, want the queue empty and nothing delivered twice", st)
	}
}

// TestSNSNotification: a body that is an SNS notification is read as its Message, with the
// event time of that message.
func TestSNSNotification(t *testing.T) {
	srv := sqstest.Start(t, 30*time.Second)
	event := `{"event_id":"e1","type":"pageview","user_id":"u","url":"https://x/","ts":"2026-11-20T10:00:02Z"}`
	srv.PublishSNS(t, "arn:aws:sns:us-east-1:000000000000:events", [][]byte{[]byte(event)})
	got, _ := collect(t, newReader(t, srv, false))
	if len(got) != 1 || string(got[0].msg.Data) != event || !got[0].at.Equal(time.Date(2026, 11, 20, 10, 0, 2, 0, time.UTC)) {
		t.Fatalf("received %+v, want the notification's message at its ts", got)
	}
}

// TestAckFailureIsAnError: a receipt handle that SQS does not delete is an error.
func TestAckFailureIsAnError(t *testing.T) {
	srv := sqstest.Start(t, 30*time.Second)
	srv.PublishAll(t, [][]byte{[]byte("a")})
	got, _ := collect(t, newReader(t, srv, false))
	err := newAcker(t, srv).Ack(context.Background(), []string{got[0].msg.AckID, "not-a-receipt-handle"})
	if err == nil || !strings.Contains(err.Error(), "1 of 2 entries failed") {
		t.Errorf("Ack of a bad receipt handle = %v, want an error saying 1 of 2 entries failed", err)
	}
	if st := srv.Stats(t); st.Unacked() != 0 {
		t.Errorf("the good handle was not deleted: %+v", st)
	}
}

// TestVisibilityExtended: a message held (received, not yet deleted) stays hidden past its
// visibility timeout while one that is not held comes back.
func TestVisibilityExtended(t *testing.T) {
	srv := sqstest.Start(t, 30*time.Second)
	srv.PublishAll(t, [][]byte{[]byte("held"), []byte("dropped")})
	f := newReader(t, srv, false)
	f.Visibility = MinVisibility
	got, _ := collect(t, f)
	if len(got) != 2 {
		t.Fatalf("received %d messages, want 2", len(got))
	}
	held := got[0]
	if string(held.msg.Data) != "held" {
		held = got[1]
	}
	f.conn.leases.Hold(f.QueueURL, []string{held.msg.AckID}, f.Visibility)
	wait := MinVisibility*3/2 + 2*time.Second
	time.Sleep(wait)
	if st := srv.Stats(t); st.Visible != 1 || st.InFlight != 1 {
		t.Errorf("%v after the receive: %+v, want the held message in flight and the other visible again", wait, st)
	}
	again, _ := collect(t, f)
	if len(again) != 1 || string(again[0].msg.Data) != "dropped" {
		t.Errorf("received again %+v, want only the message not held", again)
	}
	if err := newAcker(t, srv).Ack(context.Background(), []string{held.msg.AckID, again[0].msg.AckID}); err != nil {
		t.Fatal(err)
	}
	if n := f.conn.leases.Held(f.QueueURL, nil); n != 0 {
		t.Errorf("%d leases held after the ack", n)
	}
}

// TestAckAfterCommit runs two reader calls as a runner would: the first call's checkpoint
// residual carries the receipt handles of what it emitted (its messages carry none), and the
// next call deletes them first.
func TestAckAfterCommit(t *testing.T) {
	srv := sqstest.Start(t, 30*time.Second)
	srv.PublishAll(t, [][]byte{[]byte("a"), []byte("b"), []byte("c")})
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
		t.Fatalf("first call emitted %+v; want 3 messages without receipt handles", msgs)
	}
	if st := srv.Stats(t); st.InFlight != 3 {
		t.Errorf("deleted before the commit: %+v", st)
	}
	_, residual, err := rt.TrySplit(0)
	if err != nil {
		t.Fatal(err)
	}
	res := residual.(restriction.Restriction)
	if len(res.AckIDs) != 3 {
		t.Fatalf("the checkpoint's residual carries %d receipt handles, want 3", len(res.AckIDs))
	}
	rt = sdf.NewLockRTracker(restriction.NewTracker(res))
	if _, err := f.ProcessElement(ctx, we, rt, nil, emit); err != nil {
		t.Fatal(err)
	}
	if st := srv.Stats(t); st.Unacked() != 0 || st.Redelivered != 0 {
		t.Errorf("after the next call: %+v; want every message deleted, delivered once", st)
	}
	if n := f.conn.leases.Held(f.QueueURL, nil); n != 0 {
		t.Errorf("%d leases held after the delete", n)
	}
}

// TestSetupFailsNamingTheQueue: a queue that does not exist, or an endpoint that does not
// answer, fails the reader's setup at once with an error that names the queue.
func TestSetupFailsNamingTheQueue(t *testing.T) {
	srv := sqstest.Start(t, 30*time.Second)
	for name, endpoint := range map[string]string{"missing queue": srv.Endpoint, "unreachable endpoint": "http://127.0.0.1:1"} {
		t.Run(name, func(t *testing.T) {
			t.Setenv("AWS_ENDPOINT_URL_SQS", endpoint)
			f := &readFn{Region: sqstest.Region, QueueURL: "https://sqs." + sqstest.Region + ".amazonaws.com/" + sqstest.Account + "/no-such-queue"}
			start := time.Now()
			err := f.Setup(context.Background())
			if err == nil {
				f.Teardown()
				t.Fatal("Setup succeeded")
			}
			if !strings.Contains(err.Error(), "no-such-queue") {
				t.Errorf("Setup = %v, want an error naming the queue", err)
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("Setup took %v to fail", d)
			}
			t.Logf("Setup failed in %v: %v", time.Since(start).Round(time.Millisecond), err)
		})
	}
}
