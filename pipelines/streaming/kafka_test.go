package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
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
func (q kafkaQueue) Carries([]byte) bool                       { return true }

// TestKafkaSpeedViewsMatchReference produces a clickstream with duplicates, late events, bots
// and garbage to three partitions of a real Kafka protocol server (kfake) while the streaming
// job reads it on Prism; partition 2 gets only the first batch and then goes idle. Windows
// still close (an idle partition's watermark moves to now), the speed views equal the
// independent reference, the group's committed offsets reach every partition's end, and every
// garbage record is in the dead letters.
func TestKafkaSpeedViewsMatchReference(t *testing.T) {
	t.Parallel() // Kafka's tests need no process environment: they run beside each other
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
// the reference with every offset committed. Half of TestCrashAndWarmRestart's stream: the
// harness is the same, and the suite's time counts.
func TestKafkaCrashAndWarmRestart(t *testing.T) {
	t.Parallel()
	crashAndRestart(t, newKafkaQueue(t, 3), 6000)
}

// TestKafkaStagesMatchReference runs the streaming job as its three stages (subprocesses, each
// on its own Prism) chained by Kafka topics of one kfake cluster, each of three partitions, as
// TestStagesMatchAllAndReference does over Pub/Sub: the ingest stage reads the raw topic and
// produces to "ingested", the score stage reads that and produces to "scored", the aggregate
// stage writes the views. Once the raw topic is drained, the stages' speed views equal the
// independent reference, every group's offsets are committed to every partition's end, and the
// garbage is in the dead letters once.
func TestKafkaStagesMatchReference(t *testing.T) {
	t.Parallel()
	bin := buildJob(t)
	dir := t.TempDir()
	c := kafkatest.Start(t, 3, "ingested", "scored")
	topicURL := func(name string) string { return "kafka://" + c.Brokers + "/" + name }
	start := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	day := start.Truncate(24 * time.Hour)
	records := clickstreamWithPosts(4000, 43, start)
	model := "--model=logreg://" + modelFile
	st := testConfig(t, c.URL("idle=2s&call=500ms"))
	st.Model = "logreg://" + modelFile
	want := referenceOf(t, st, records, day)

	ingest := startProcess(t, bin, filepath.Join(dir, "ingest.log"), stageArgs(StageIngest, "--source="+st.Source,
		"--archive="+st.Archive, "--deadletter="+st.DeadLetter, "--reference="+categories, "--blocked_users=u-blocked",
		"--store="+st.Store, "--output_topic="+topicURL("ingested")))
	score := startProcess(t, bin, filepath.Join(dir, "score.log"), stageArgs(StageScore,
		"--source="+topicURL("ingested")+"?group=score&idle=2s&call=500ms", model, "--deadletter="+st.DeadLetter,
		"--output_topic="+topicURL("scored")))
	pub := publish(t, kafkaQueue{c: c}, records, 500, 300*time.Millisecond)
	// The aggregate stage starts once its topic has traffic: an idle partition moves its
	// watermark to the wall clock (days after this stream) after its idle time.
	if !waitUntil(2*time.Minute, func() bool { return c.UnackedOf("scored", "aggregate") > 0 || score.exited() || ingest.exited() }) ||
		score.exited() || ingest.exited() {
		t.Fatalf("nothing reached the scored topic:\ningest:\n%s\nscore:\n%s", ingest.tail(), score.tail())
	}
	agg := startProcess(t, bin, filepath.Join(dir, "aggregate.log"), stageArgs(StageAggregate,
		"--source="+topicURL("scored")+"?group=aggregate&idle=10s&call=500ms", "--store="+st.Store, "--deadletter="+st.DeadLetter))
	procs := map[string]*process{"ingest": ingest, "score": score, "aggregate": agg}
	pub.wg.Wait()

	speed := func() []views.Row { return rowsOf(t, st.Store, views.Speed, day, day.AddDate(0, 0, 1)) }
	lag := func() int {
		return c.Unacked() + c.UnackedOf("ingested", "score") + c.UnackedOf("scored", "aggregate")
	}
	settled := waitUntil(3*time.Minute, func() bool {
		for _, p := range procs {
			if p.exited() {
				return true
			}
		}
		return lag() == 0 && cmp.Equal(withoutLayer(want.Rows), withoutLayer(speed()))
	})
	for name, p := range procs {
		if err := p.cmd.Process.Signal(os.Interrupt); err != nil && !p.exited() {
			t.Errorf("interrupt %s: %v", name, err)
		}
	}
	for name, p := range procs {
		if err := p.wait(); err != nil || !settled {
			t.Errorf("%s job: settled %v, exit %v:\n%s", name, settled, err, p.tail())
		}
		t.Logf("%s job:\n%s", name, stageReport(p.tail()))
	}
	diffRows(t, "the stages' views differ from the reference", want.Rows, speed())
	if n := lag(); n != 0 {
		t.Errorf("%d records past the committed offsets: raw %v, ingested %v, scored %v", n,
			c.Lag(), c.LagOf("ingested", "score"), c.LagOf("scored", "aggregate"))
	}
	if got := len(c.Records("ingested")); int64(got) != want.Counts.Processed {
		t.Errorf("the ingest stage produced %d events; want each of the %d kept events once", got, want.Counts.Processed)
	}
	checkDeadLetters(t, st.DeadLetter, records)
	if got, garbage := len(deadLetters(t, st.DeadLetter)), sumOf(want.Counts.DeadLettered); int64(got) != garbage {
		t.Errorf("the stages wrote %d dead letters, want one per garbage record (%d)", got, garbage)
	}
}

// TestKafkaBadSource: a Kafka URL the driver cannot use is refused when the flags are checked,
// saying what to fix; a cluster that cannot be reached fails the job at once, naming the topic
// and the brokers.
func TestKafkaBadSource(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"kafka://localhost:9092/events", "has no group: add ?group=G"},
		{"kafka://localhost:9092/events?group=g&partitions=3", `partitions="3": unknown parameter`},
		{"kafka://localhost/events?group=g", `broker "localhost" in`},
		{"kafka://localhost:9092/?group=g", "names no valid topic"},
	} {
		cfg := testConfig(t, tc.url)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("--source=%s: Validate = %v, want an error saying %q", tc.url, err, tc.want)
		}
	}
	cfg := testConfig(t, "kafka://127.0.0.1:1/events?group=g")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := Run(ctx, cfg)
	if err == nil || !strings.Contains(err.Error(), "kafka topic events (brokers 127.0.0.1:1): cannot reach the cluster") {
		t.Errorf("Run with an unreachable broker = %v, want an error naming the topic and brokers", err)
	}
}
