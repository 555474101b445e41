package main

import (
	"sync/atomic"
	"testing"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/beamline/beamline/io/event"
	"github.com/beamline/beamline/io/source/pubsubsource/pubsubtest"
	"github.com/beamline/beamline/io/topic"
)

// failPublish makes the Publish calls to one topic fail with code Unavailable (which
// publishers retry) while on is set.
type failPublish struct {
	topic string
	on    *atomic.Bool
}

func (f failPublish) React(req any) (bool, any, error) {
	if r, ok := req.(*pb.PublishRequest); ok && r.GetTopic() == f.topic && f.on.Load() {
		return true, nil, status.Error(codes.Unavailable, "test: publishing is failing")
	}
	return false, nil, nil
}

// TestScoreStageAcksAfterPublishing runs the score stage on Prism between two topics of a
// pstest server whose output topic rejects publications at first: the stage reads its input
// but acknowledges none of it while its output is not published; once publishing works, every
// input message is acknowledged and its event published, scored as the reference model scores
// it, with every field kept.
func TestScoreStageAcksAfterPublishing(t *testing.T) {
	var failing atomic.Bool
	failing.Store(true)
	out := "projects/" + pubsubtest.Project + "/topics/scored"
	srv := &pubsubtest.Server{Server: pstest.NewServer(pstest.ServerReactorOption{FuncName: "Publish", Reactor: failPublish{topic: out, on: &failing}})}
	t.Cleanup(func() { srv.Close() })
	t.Setenv("PUBSUB_EMULATOR_HOST", srv.Addr)
	srv.CreateTopic(t, "ingested")
	sub := srv.CreateSubscription(t, "ingested", "score", 10*time.Second)
	outURL := srv.CreateTopic(t, "scored")

	start := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	want := map[string]event.Event{}
	for _, r := range clickstreamWithPosts(900, 7, start) {
		e, err := event.Parse(r)
		if err != nil || want[e.ID].ID != "" {
			continue // garbage and duplicates: the ingest stage's
		}
		e.Category = "unknown"
		m, err := topic.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		srv.Publish("projects/"+pubsubtest.Project+"/topics/ingested", m.Data, m.Attributes)
		want[e.ID] = e
	}
	cfg := Config{Stage: StageScore, Source: sub + "?timestamp_attribute=ts&call=500ms&idle=2s", OutputTopic: outURL,
		Model: "logreg://" + modelFile, DeadLetter: t.TempDir()}
	j := startJob(t, cfg)
	read := j.waitFor(t, time.Minute, func() bool { return srv.TopicStats("ingested", 1).Deliveries > 0 })
	time.Sleep(2 * time.Second) // four reader calls (500 ms each) while publishing fails
	in := srv.TopicStats("ingested", 1)
	if !read || in.Unacked != len(want) {
		t.Fatalf("while its output could not be published the stage read %d deliveries and acknowledged %d of %d messages; want all read, none acknowledged",
			in.Deliveries, len(want)-in.Unacked, len(want))
	}
	failing.Store(false)
	settled := j.waitFor(t, time.Minute, func() bool {
		return srv.TopicStats("ingested", 1).Unacked == 0 && srv.TopicStats("scored", 0).Messages >= len(want)
	})
	j.stop(t)
	if !settled {
		t.Fatalf("after publishing recovered: input %+v, output %+v", srv.TopicStats("ingested", 1), srv.TopicStats("scored", 0))
	}
	checkScored(t, srv, want)
	t.Logf("input %+v; report:\n%s", srv.TopicStats("ingested", 1), reportOf(j.rep))
}

// checkScored checks that the scored topic of srv holds each event of want once, with every
// field kept, flagged as the reference model flags it.
func checkScored(t *testing.T, srv *pubsubtest.Server, want map[string]event.Event) {
	t.Helper()
	flagged := flaggedBy(t, Config{Model: "logreg://" + modelFile})
	got := map[string]event.Event{}
	posts, flags := 0, 0
	for _, m := range srv.Messages() {
		if m.Topic != "projects/"+pubsubtest.Project+"/topics/scored" {
			continue
		}
		e, err := topic.Unmarshal(m.Data)
		if err != nil {
			t.Fatalf("scored message %s: %v", m.ID, err)
		}
		if _, dup := got[e.ID]; dup {
			t.Errorf("event %s published twice", e.ID)
		}
		got[e.ID] = e
		w, ok := want[e.ID]
		if !ok {
			t.Errorf("unexpected event %s", e.ID)
			continue
		}
		if w.Type == event.TypePost {
			posts++
			if want := flagged(w.Text, w.UserAgent, w.URL); e.Flagged != want {
				t.Errorf("post %s flagged %v (score %v), the reference says %v", e.ID, e.Flagged, e.Score, want)
			}
		}
		if e.Flagged {
			flags++
		}
		e.Score, e.Flagged = 0, false
		if d := cmp.Diff(w, e); d != "" {
			t.Errorf("event %s changed on its way through the score stage (-want +got):\n%s", e.ID, d)
		}
	}
	if len(got) != len(want) || flags == 0 || flags == posts {
		t.Errorf("%d events scored of %d, %d of %d posts flagged; want all, and some posts flagged but not all", len(got), len(want), flags, posts)
	}
}
