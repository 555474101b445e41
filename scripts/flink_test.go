package scripts_test

import (
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/beamline/beamline/io/generator"
	"github.com/beamline/beamline/io/source/kafkasource/kafkatest"
)

// TestSubmitFlinkStreamingFromKafka submits the streaming job with submit-flink.sh, reading a
// Kafka topic (a kfake server in this process, two partitions), to Prism's job server (the job
// API of Flink's) with LOOPBACK workers, for 25 seconds: it reads every record produced before,
// archives it and commits the group's offsets to the end of both partitions.
func TestSubmitFlinkStreamingFromKafka(t *testing.T) {
	c := kafkatest.Start(t, 2)
	g := generator.New(generator.Config{Seed: 5, Start: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC), EventsPerSecond: 20, BadFraction: 0.02})
	records := make([][]byte, 600)
	for i := range records {
		records[i] = g.Next().Raw
	}
	c.ProduceAll(records)
	dir := t.TempDir()
	env := []string{"BEAMLINE_BIN=" + jobBinary(t, "streaming"), "BEAMLINE_SOURCE=" + c.URL("idle=2s"),
		"BEAMLINE_ARCHIVE=" + filepath.Join(dir, "lake"), "BEAMLINE_STORE=sqlite://" + filepath.Join(dir, "views.db"),
		"BEAMLINE_DEADLETTER=" + filepath.Join(dir, "dead"), "BEAMLINE_REFERENCE=" + categories}
	r := script(t, 3*time.Minute, env, "submit-flink.sh", "streaming", "--endpoint="+startJobServer(t),
		"--environment_type=loopback", "--", "--run_for=25s")
	if r.code != 0 {
		t.Fatalf("submit-flink.sh: exit %d\n%s", r.code, r.stderr)
	}
	if !regexp.MustCompile(`(?m)^read 600, processed \d+`).MatchString(r.stdout) {
		t.Errorf("the job did not read the 600 records:\n%s", r.stdout)
	}
	if n := c.Unacked(); n != 0 {
		t.Errorf("%d records past the committed offsets: %s", n, c.State())
	}
}
