package kafkasource

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
	"github.com/beamline/beamline/io/source/kafkasource/kafkatest"
)

func TestParseURL(t *testing.T) {
	def := Params{Start: StartEarliest, Reader: queueurl.Defaults()}
	with := func(f func(*Params)) Params { p := def; f(&p); return p }
	tests := []struct {
		url     string
		want    Params
		wantErr string
	}{
		{url: "kafka://b1:9092/events?group=g", want: with(func(p *Params) { p.Brokers, p.Topic, p.Group = []string{"b1:9092"}, "events", "g" })},
		{url: "kafka://b1:9092,10.0.0.2:9093/my.topic_1?group=g&start=latest&call=500ms&idle=2s&delay=1s&max=100",
			want: Params{Brokers: []string{"b1:9092", "10.0.0.2:9093"}, Topic: "my.topic_1", Group: "g", Start: StartLatest,
				Reader: queueurl.Reader{Call: 500 * time.Millisecond, Max: 100, Idle: 2 * time.Second, Delay: time.Second}}},
		{url: "kafka://b1:9092/events", wantErr: "has no group: add ?group=G"},
		{url: "kafka://b1:9092/events?group=", wantErr: "group=\"\": empty"},
		{url: "kafka://b1:9092/events?group=g&partition=1", wantErr: "partition=\"1\": unknown parameter"},
		{url: "kafka://b1:9092/events?group=g&group=h", wantErr: "group is given 2 times"},
		{url: "kafka://b1:9092/events?group=g&start=middle", wantErr: "want earliest or latest"},
		{url: "kafka://b1:9092/events?group=g&call=0s", wantErr: "call="},
		{url: "kafka://b1/events?group=g", wantErr: `broker "b1" in`},
		{url: "kafka://b1:9092,:9093/events?group=g", wantErr: `broker ":9093" in`},
		{url: "kafka://b1:9092/?group=g", wantErr: "names no valid topic"},
		{url: "kafka://b1:9092/a/b?group=g", wantErr: "names no valid topic"},
		{url: "kafka://user:secret@b1:9092/events?group=g", wantErr: "is not kafka://"},
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
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("the error shows the password: %v", err)
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

// TestSpans: acknowledged spans merge in any order, and the committed offset moves over those
// that join it, never past a gap.
func TestSpans(t *testing.T) {
	a := &acks{committed: map[int32]int64{0: 10}, pending: map[int32][]span{}}
	add := func(id string) {
		s, err := parseAckID(id)
		if err != nil {
			t.Fatal(err)
		}
		a.pending[s.partition] = addSpan(a.pending[s.partition], s)
	}
	add("0:20:24") // [20, 25)
	add("0:15:19") // [15, 20): touches it
	if got := a.advance(); len(got) != 0 {
		t.Errorf("advanced over a gap: %v", got)
	}
	if d := cmp.Diff([]span{{0, 15, 25}}, a.pending[0], cmp.AllowUnexported(span{})); d != "" {
		t.Errorf("pending (-want +got):\n%s", d)
	}
	add("0:30:30")
	add("0:10:12") // joins the committed offset
	add("0:13:14") // 13 and 14 are acked; a gap at... none: [10,13) + [13,15) + [15,25)
	if got := a.advance(); !cmp.Equal(got, map[int32]int64{0: 25}) {
		t.Errorf("advance = %v, want partition 0 to 25", got)
	}
	if d := cmp.Diff([]span{{0, 30, 31}}, a.pending[0], cmp.AllowUnexported(span{})); d != "" {
		t.Errorf("pending after advance (-want +got):\n%s", d)
	}
	add("1:0:5") // a partition whose committed offset is not known yet
	if got := a.advance(); len(got) != 0 || !a.stuck() {
		t.Errorf("advance = %v, stuck %v; want nothing, stuck", got, a.stuck())
	}
	for _, bad := range []string{"", "0:1", "x:1:2", "0:5:4", "-1:0:0"} {
		if _, err := parseAckID(bad); err == nil {
			t.Errorf("parseAckID(%q) accepted it", bad)
		}
	}
}

type emitted struct {
	at  time.Time
	msg source.Message
}

// newReader returns a reader of the cluster's topic, set up.
func newReader(t *testing.T, c *kafkatest.Cluster, params string, commit bool) *readFn {
	t.Helper()
	u, err := url.Parse(c.URL(params))
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	f := &readFn{Params: p, AckAfterCommit: commit}
	if err := f.Setup(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Teardown)
	return f
}

// starts runs the partition listing of f's topic.
func starts(t *testing.T, f *readFn) []start {
	t.Helper()
	var out []start
	if err := (&startsFn{Params: f.Params}).ProcessElement(context.Background(), nil, func(s start) { out = append(out, s) }); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestReadAndCommit reads two partitions of a real Kafka protocol server (kfake): events are
// timestamped with their ts, garbage with its Kafka timestamp, line breaks become spaces; the
// start offsets are committed before anything is read, and the acker commits each partition's
// offset only up to the records acknowledged, in whatever order they are acknowledged.
func TestReadAndCommit(t *testing.T) {
	c := kafkatest.Start(t, 2)
	ev := `{"event_id":"e1","type":"click","user_id":"u","url":"https://x/",` + "\n" + `"ts":"2026-11-20T10:00:01.5Z"}`
	c.Produce(0, []byte(ev), []byte("garbage"), []byte("g2"))
	c.Produce(1, []byte("g3"))
	f := newReader(t, c, "call=300ms", false)
	st := starts(t, f)
	if d := cmp.Diff([]start{{0, 0}, {1, 0}}, st); d != "" {
		t.Fatalf("starts (-want +got):\n%s", d)
	}
	if lag := c.Lag(); lag[0] != 3 || lag[1] != 1 {
		t.Errorf("lag after the start commit = %v, want 3 and 1 (committed at 0)", lag)
	}
	ctx := context.Background()
	var got []emitted
	emit := func(et beam.EventTime, m source.Message) { got = append(got, emitted{et.ToTime(), m}) }
	for _, s := range st {
		rt := sdf.NewLockRTracker(restriction.NewTracker(f.CreateInitialRestriction(s)))
		we := f.CreateWatermarkEstimator(f.InitialWatermarkEstimatorState(0, restriction.Restriction{}, s))
		if _, err := f.ProcessElement(ctx, we, rt, s, emit); err != nil {
			t.Fatal(err)
		}
		if s.Partition == 0 && !we.CurrentWatermark().Equal(time.Date(2026, 11, 20, 10, 0, 1, 5e8, time.UTC)) {
			t.Errorf("partition 0's watermark after reading to its end = %s, want the event's time", we.CurrentWatermark())
		}
	}
	if len(got) != 4 {
		t.Fatalf("read %d records, want 4: %+v", len(got), got)
	}
	if m := got[0]; m.msg.Source != "events/0/0" || strings.ContainsAny(string(m.msg.Data), "\r\n") ||
		!m.at.Equal(time.Date(2026, 11, 20, 10, 0, 1, 5e8, time.UTC)) || m.msg.AckID != "0:0:0" {
		t.Errorf("event: %+v", m)
	}
	if m := got[1]; m.msg.Source != "events/0/1" || time.Since(m.at) > time.Minute || m.msg.AckID != "0:1:1" {
		t.Errorf("garbage: %+v, want it at its Kafka timestamp (now)", m)
	}
	a, err := source.OpenAcker(ctx, c.URL(""))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	// The second record of partition 0 first: nothing can be committed past the first.
	if err := a.Ack(ctx, []string{got[2].msg.AckID, got[3].msg.AckID}); err != nil {
		t.Fatal(err)
	}
	if lag := c.Lag(); lag[0] != 3 || lag[1] != 0 {
		t.Errorf("lag = %v, want 3 (a gap at offset 0) and 0", lag)
	}
	if err := a.Ack(ctx, []string{got[0].msg.AckID, got[1].msg.AckID}); err != nil {
		t.Fatal(err)
	}
	if n := c.Unacked(); n != 0 {
		t.Errorf("%d records not committed: %s", n, c.State())
	}
	// A restart starts from the committed offsets.
	if d := cmp.Diff([]start{{0, 3}, {1, 1}}, starts(t, f)); d != "" {
		t.Errorf("starts after the commits (-want +got):\n%s", d)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestIdlePartition: a partition with nothing to read moves its watermark to now - delay once
// it has been idle for idle, and not before.
func TestIdlePartition(t *testing.T) {
	c := kafkatest.Start(t, 1)
	f := newReader(t, c, "call=100ms&idle=1s", false)
	s := starts(t, f)[0]
	rt := func() *sdf.LockRTracker {
		return sdf.NewLockRTracker(restriction.NewTracker(f.CreateInitialRestriction(s)))
	}
	we := f.CreateWatermarkEstimator(f.InitialWatermarkEstimatorState(0, restriction.Restriction{}, s))
	ctx := context.Background()
	nop := func(beam.EventTime, source.Message) {}
	if _, err := f.ProcessElement(ctx, we, rt(), s, nop); err != nil {
		t.Fatal(err)
	}
	if time.Since(we.CurrentWatermark()) < time.Hour {
		t.Errorf("the watermark moved on the first empty call: %s", we.CurrentWatermark())
	}
	time.Sleep(1100 * time.Millisecond)
	if _, err := f.ProcessElement(ctx, we, rt(), s, nop); err != nil {
		t.Fatal(err)
	}
	if time.Since(we.CurrentWatermark()) > 10*time.Second {
		t.Errorf("after idle the watermark is %s, want about now", we.CurrentWatermark())
	}
}

// TestAckAfterCommit: the first call's checkpoint residual carries its last span (its messages
// carry no ack IDs), and the next call commits it first.
func TestAckAfterCommit(t *testing.T) {
	c := kafkatest.Start(t, 1)
	c.Produce(0, []byte("a"), []byte("b"), []byte("c"))
	f := newReader(t, c, "call=300ms", true)
	s := starts(t, f)[0]
	ctx := context.Background()
	rt := sdf.NewLockRTracker(restriction.NewTracker(f.CreateInitialRestriction(s)))
	we := f.CreateWatermarkEstimator(f.InitialWatermarkEstimatorState(0, restriction.Restriction{}, s))
	var msgs []source.Message
	emit := func(_ beam.EventTime, m source.Message) { msgs = append(msgs, m) }
	if _, err := f.ProcessElement(ctx, we, rt, s, emit); err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 3 || msgs[0].AckID != "" || c.Unacked() != 3 {
		t.Fatalf("first call: %+v, %s; want 3 messages without ack IDs, nothing committed", msgs, c.State())
	}
	_, residual, err := rt.TrySplit(0)
	if err != nil {
		t.Fatal(err)
	}
	res := residual.(restriction.Restriction)
	if res.Start != 3 || len(res.AckIDs) != 1 {
		t.Fatalf("residual %+v, want from offset 3 carrying one span", res)
	}
	rt = sdf.NewLockRTracker(restriction.NewTracker(res))
	if _, err := f.ProcessElement(ctx, we, rt, s, emit); err != nil {
		t.Fatal(err)
	}
	if n := c.Unacked(); n != 0 || len(msgs) != 3 {
		t.Errorf("after the next call: %s, %d messages; want everything committed, nothing read again", c.State(), len(msgs))
	}
}

// TestUnreachable: a cluster that cannot be reached fails the partition listing with an error
// that names the topic and the brokers.
func TestUnreachable(t *testing.T) {
	u := mustURL(t, "kafka://127.0.0.1:1/events?group=g")
	p, err := ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	err = (&startsFn{Params: p}).ProcessElement(context.Background(), nil, func(start) {})
	if err == nil || !strings.Contains(err.Error(), "kafka topic events (brokers 127.0.0.1:1)") {
		t.Errorf("error %v; want one naming the topic and brokers", err)
	}
	t.Logf("failed after %s: %v", time.Since(began).Round(time.Millisecond), err)
}

// TestNoTopic: a topic that does not exist fails the listing with an error that says so.
func TestNoTopic(t *testing.T) {
	c := kafkatest.Start(t, 1)
	p, err := ParseURL(mustURL(t, "kafka://"+c.Brokers+"/nope?group=g"))
	if err != nil {
		t.Fatal(err)
	}
	err = (&startsFn{Params: p}).ProcessElement(context.Background(), nil, func(start) {})
	if err == nil || !strings.Contains(err.Error(), "no such topic") {
		t.Errorf("error %v; want no such topic", err)
	}
}
