package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/io/source/sqssource/sqstest"
	"github.com/beamline/beamline/io/views"
)

// sqsQueue is a local SQS server (goaws, package sqstest) as a queue.
type sqsQueue struct {
	srv *sqstest.Server
}

// crashVisibility is the visibility timeout the crash test's job holds messages with: what a
// killed job held comes back after it.
const crashVisibility = 10 * time.Second

func newSQSQueue(t testing.TB) sqsQueue {
	return sqsQueue{srv: sqstest.Start(t, 30*time.Second)}
}

func (q sqsQueue) URL() string {
	return fmt.Sprintf("%s?idle=3s&call=500ms&visibility=%s", q.srv.URL, crashVisibility)
}

// PublishAll sends records; it runs in the publisher's goroutine, so it reports a failure
// without stopping the test.
func (q sqsQueue) PublishAll(t testing.TB, records [][]byte) {
	if _, err := q.srv.Send(context.Background(), records); err != nil {
		t.Errorf("sqs: %v", err)
	}
}

func (q sqsQueue) Unacked(t testing.TB) int { return q.srv.Stats(t).Unacked() }

// Redelivery allows a second for goaws, which makes messages visible again on a 1 s tick.
func (q sqsQueue) Redelivery() time.Duration { return crashVisibility + time.Second }

func (q sqsQueue) State(t testing.TB) string { return fmt.Sprintf("%+v", q.srv.Stats(t)) }

// Carries: a body is one or more characters of valid UTF-8 in SQS's set, so binary garbage
// (the generator's "\xff\xfe garbage \x00") and empty records cannot be sent at all; SQS
// refuses them at the producer.
func (q sqsQueue) Carries(record []byte) bool { return sqstest.Sendable(record) }

// TestSQSSpeedViewsMatchReference sends a clickstream with duplicates, late events, bots and
// garbage to a local SQS server (goaws) while the streaming job reads it on Prism. Once the
// queue is idle the watermark closes every window: the speed views equal the independent
// reference, the queue ends empty with nothing in flight and nothing delivered twice, and
// every garbage record is in the dead letters.
func TestSQSSpeedViewsMatchReference(t *testing.T) {
	srv := sqstest.Start(t, 30*time.Second)
	start := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	day := start.Truncate(24 * time.Hour)
	records := carried(t, sqsQueue{srv: srv}, clickstream(6000, 21, start))
	cfg := testConfig(t, srv.URL+"?idle=2s&call=500ms&visibility=30s")
	want := referenceOf(t, cfg, records, day)
	j := startJob(t, cfg)
	began := time.Now()
	for i := 0; i < len(records); i += 500 { // twelve batches, in arrival order
		srv.PublishAll(t, records[i:min(i+500, len(records))])
		time.Sleep(300 * time.Millisecond)
	}
	speed := func() []views.Row { return rowsOf(t, cfg.Store, views.Speed, day, day.AddDate(0, 0, 1)) }
	settled := j.waitFor(t, 3*time.Minute, func() bool {
		return srv.Stats(t).Unacked() == 0 && cmp.Equal(withoutLayer(want.Rows), withoutLayer(speed()))
	})
	t.Logf("settled %v after %v: %+v", settled, time.Since(began).Round(time.Second), srv.Stats(t))
	j.stop(t)
	if !settled {
		t.Errorf("the job did not settle within 3 minutes: %+v", srv.Stats(t))
	}
	diffRows(t, "speed views differ from the reference", want.Rows, speed())
	if st := srv.Stats(t); st.Sent != len(records) || st.Unacked() != 0 || st.Redelivered != 0 {
		t.Errorf("sqs: %+v; want %d messages, all deleted, none delivered twice", st, len(records))
	}
	checkDeadLetters(t, cfg.DeadLetter, records)
}

// TestSQSCrashAndWarmRestart is TestCrashAndWarmRestart over SQS: the job is killed with
// SIGKILL mid-stream and restarted with the same flags; what the killed job held comes back
// once its visibility timeout expires, the restart replays the archive's tail, and the final
// views equal the reference with every message deleted.
func TestSQSCrashAndWarmRestart(t *testing.T) {
	crashAndRestart(t, newSQSQueue(t), 6000)
}

// TestSQSMissingQueueFailsFast: a job whose queue does not exist fails at once, with an
// error that names the queue, instead of running without reading.
func TestSQSMissingQueueFailsFast(t *testing.T) {
	srv := sqstest.Start(t, 30*time.Second)
	missing := strings.TrimSuffix(srv.URL, srv.Queue) + "no-such-queue"
	cfg := testConfig(t, missing+"?idle=2s&call=500ms")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	_, err := Run(ctx, cfg)
	if err == nil || !strings.Contains(err.Error(), "no-such-queue") {
		t.Fatalf("Run = %v, want an error naming the queue", err)
	}
	msg := err.Error()
	t.Logf("Run failed after %v: ...%s", time.Since(start).Round(time.Millisecond), msg[strings.LastIndex(msg, "\n")+1:])
	if ctx.Err() != nil {
		t.Errorf("the job ran until the test's timeout")
	}
}
