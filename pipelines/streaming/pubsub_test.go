package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/io/generator"
	"github.com/beamline/beamline/io/source/pubsubsource"
	"github.com/beamline/beamline/io/source/pubsubsource/pubsubtest"
	"github.com/beamline/beamline/io/views"
	"github.com/beamline/beamline/io/views/reference"
)

var _ = pubsubsource.Scheme // the job reads pubsub:// (imported in main.go)

// clickstream returns n generated records (duplicates, late events up to 3 minutes, bots and
// garbage) from start, 10 per second of event time, in arrival order.
func clickstream(n int, seed uint64, start time.Time) [][]byte {
	return clickstreamAt(10, n, seed, start)
}

// clickstreamAt is clickstream at perSecond events a second of event time.
func clickstreamAt(perSecond float64, n int, seed uint64, start time.Time) [][]byte {
	g := generator.New(generator.Config{Seed: seed, Start: start, EventsPerSecond: perSecond, Users: 200,
		DupFraction: 0.03, LateFraction: 0.05, BadFraction: 0.02, BotFraction: 0.02, MaxLateness: 3 * time.Minute})
	out := make([][]byte, n)
	for i := range out {
		out[i] = g.Next().Raw
	}
	return out
}

// referenceOf computes the views of records with the independent reference and the job's
// filters and model (the embedded one of modelFile, when cfg has one).
func referenceOf(t *testing.T, cfg Config, records [][]byte, day time.Time) reference.Result {
	t.Helper()
	cats, err := reference.ReadCategories(cfg.Reference)
	if err != nil {
		t.Fatal(err)
	}
	recs := make([]reference.Record, len(records))
	for i, r := range records {
		recs[i] = reference.Record{Raw: r, Source: fmt.Sprint(i)}
	}
	return reference.Compute(reference.Config{From: day, To: day, Categories: cats,
		Countries: cfg.Countries, BotPatterns: cfg.Bots, BlockedUsers: cfg.Blocked, Flagged: flaggedBy(t, cfg)}, recs)
}

// job is a streaming job running in the background.
type job struct {
	cancel context.CancelFunc
	done   chan error
	rep    Report
}

func startJob(t *testing.T, cfg Config) *job {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	j := &job{cancel: cancel, done: make(chan error, 1)}
	go func() {
		rep, err := Run(ctx, cfg)
		j.rep = rep
		j.done <- err
	}()
	t.Cleanup(func() { j.stop(t) })
	return j
}

// stop cancels the job (through the job service, as Ctrl-C does) and waits for it.
func (j *job) stop(t *testing.T) {
	t.Helper()
	if j.cancel == nil {
		return
	}
	j.cancel()
	j.cancel = nil
	if err := <-j.done; err != nil {
		t.Errorf("job: %v", err)
	}
}

// waitFor polls cond every second until it holds, the job ends or limit passes, then returns
// whether cond held.
func (j *job) waitFor(t *testing.T, limit time.Duration, cond func() bool) bool {
	t.Helper()
	for end := time.Now().Add(limit); time.Now().Before(end); time.Sleep(time.Second) {
		if cond() {
			return true
		}
		select {
		case err := <-j.done:
			j.cancel = nil
			t.Fatalf("the job ended on its own: %v", err)
		default:
		}
	}
	return cond()
}

// TestPubSubSpeedViewsMatchReference publishes a clickstream with duplicates, late events,
// bots and garbage to a real Pub/Sub server (pstest) while the streaming job reads it on
// Prism. Once the subscription is idle the watermark closes every window: the speed views
// equal the independent reference of the batch layer, every message is acknowledged and none
// was delivered twice, and every garbage record is in the dead letters.
func TestPubSubSpeedViewsMatchReference(t *testing.T) {
	srv := pubsubtest.Start(t, 10*time.Second)
	start := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	day := start.Truncate(24 * time.Hour)
	records := clickstream(6000, 21, start)
	cfg := testConfig(t, srv.URL+"?idle=2s&call=500ms")
	want := referenceOf(t, cfg, records, day)
	j := startJob(t, cfg)
	for i := 0; i < len(records); i += 500 { // ten batches, in arrival order
		srv.PublishAll(records[i:min(i+500, len(records))])
		time.Sleep(300 * time.Millisecond)
	}
	speed := func() []views.Row { return rowsOf(t, cfg.Store, views.Speed, day, day.AddDate(0, 0, 1)) }
	settled := j.waitFor(t, 3*time.Minute, func() bool {
		return srv.Stats().Unacked == 0 && cmp.Equal(withoutLayer(want.Rows), withoutLayer(speed()))
	})
	j.stop(t)
	if !settled {
		t.Errorf("the job did not settle within 3 minutes: %+v", srv.Stats())
	}
	diffRows(t, "speed views differ from the reference", want.Rows, speed())
	if st := srv.Stats(); st.Messages != len(records) || st.Unacked != 0 || st.Redelivered != 0 {
		t.Errorf("pstest: %+v; want %d messages, all acknowledged, none redelivered", st, len(records))
	}
	checkDeadLetters(t, cfg.DeadLetter, records)
}

// checkDeadLetters checks that every garbage record of records is among the dead letters.
func checkDeadLetters(t *testing.T, dir string, records [][]byte) {
	t.Helper()
	dead := map[string]bool{}
	for _, dl := range deadLetters(t, dir) {
		dead[string(dl.Raw)] = true
	}
	missing := 0
	for _, r := range records {
		if _, err := eventParse(r); err != nil && !dead[string(r)] {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d garbage records are not in the dead letters", missing)
	}
}
