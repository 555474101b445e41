package main

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/io/source/kafkasource/kafkatest"
	"github.com/beamline/beamline/io/views"
)

// kafkaQueue is a kfake cluster as a queue; records go round robin over the partitions.
type kafkaQueue struct {
	c *kafkatest.Cluster
}

func newKafkaQueue(t testing.TB, partitions int32) kafkaQueue {
	return kafkaQueue{c: kafkatest.Start(t, partitions)}
}

func (q kafkaQueue) URL() string                               { return q.c.URL("idle=3s&call=500ms") }
func (q kafkaQueue) PublishAll(_ testing.TB, records [][]byte) { q.c.ProduceAll(records) }
func (q kafkaQueue) Unacked(testing.TB) int                    { return q.c.Unacked() }
func (q kafkaQueue) Redelivery() time.Duration                 { return 0 } // a restart reads from the committed offsets
func (q kafkaQueue) State(testing.TB) string                   { return q.c.State() }

// TestKafkaSpeedViewsMatchReference produces a clickstream with duplicates, late events, bots
// and garbage to three partitions of a real Kafka protocol server (kfake) while the streaming
// job reads it on Prism; partition 2 gets only the first batch and then goes idle. Windows
// still close (an idle partition's watermark moves to now), the speed views equal the
// independent reference, the group's committed offsets reach every partition's end, and every
// garbage record is in the dead letters.
func TestKafkaSpeedViewsMatchReference(t *testing.T) {
	q := newKafkaQueue(t, 3)
	start := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	day := start.Truncate(24 * time.Hour)
	records := clickstream(6000, 21, start)
	cfg := testConfig(t, q.c.URL("idle=2s&call=500ms"))
	want := referenceOf(t, cfg, records, day)
	j := startJob(t, cfg)
	q.c.ProduceAll(records[:300])
	for i := 300; i < len(records); i += 500 { // the rest to partitions 0 and 1 only
		var p0, p1 [][]byte
		for k, r := range records[i:min(i+500, len(records))] {
			if k%2 == 0 {
				p0 = append(p0, r)
			} else {
				p1 = append(p1, r)
			}
		}
		q.c.Produce(0, p0...)
		q.c.Produce(1, p1...)
		time.Sleep(300 * time.Millisecond)
	}
	speed := func() []views.Row { return rowsOf(t, cfg.Store, views.Speed, day, day.AddDate(0, 0, 1)) }
	settled := j.waitFor(t, 3*time.Minute, func() bool {
		return q.c.Unacked() == 0 && cmp.Equal(withoutLayer(want.Rows), withoutLayer(speed()))
	})
	j.stop(t)
	if !settled {
		t.Errorf("the job did not settle within 3 minutes: %s", q.c.State())
	}
	diffRows(t, "speed views differ from the reference", want.Rows, speed())
	if n := q.c.Unacked(); n != 0 {
		t.Errorf("%d records past the committed offsets: %s", n, q.c.State())
	}
	checkDeadLetters(t, cfg.DeadLetter, records)
}

// TestKafkaCrashAndWarmRestart is TestCrashAndWarmRestart over a Kafka topic of three
// partitions: the job is killed with SIGKILL mid-stream and restarted with the same flags; it
// resumes from the committed offsets, replays the archive's tail, and the final views equal
// the reference with every offset committed.
func TestKafkaCrashAndWarmRestart(t *testing.T) {
	crashAndRestart(t, newKafkaQueue(t, 3))
}
