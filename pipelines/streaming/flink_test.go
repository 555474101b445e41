package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/beamline/beamline/io/views"
	"github.com/beamline/beamline/pipelines/internal/prismtest"
)

// TestFlinkRunnerOnPrismJobServer submits a bounded streaming job (a finite generator stream)
// as an operator submits to Flink: the job's binary with --runner=flink and --endpoint of a job
// server that speaks Flink's job API (Prism's, started in this test process), with the
// workers in LOOPBACK mode in the job's process. The job ends when its source does; its report
// accounts for every record, and its speed views equal the independent reference computed from
// the archive it wrote.
func TestFlinkRunnerOnPrismJobServer(t *testing.T) {
	bin := buildJob(t)
	endpoint := prismtest.StartJobServer(t)
	start := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	const records = 5000
	src := fmt.Sprintf("generator://?rate=2500&speedup=400&count=%d&seed=31&dup=0.03&late=0.05&bad=0.02&bots=0.02&users=200&max_late=3m&start=%s",
		records, start.Format(time.RFC3339))
	cfg := testConfig(t, src)
	args := append(jobArgs(cfg), "--runner=flink", "--endpoint="+endpoint, "--environment_type=LOOPBACK",
		"--job_name=beamline-streaming-flink-test")
	job := startProcess(t, bin, filepath.Join(t.TempDir(), "job.log"), args)
	ended := waitUntil(3*time.Minute, job.exited)
	if !ended {
		t.Fatalf("the bounded job did not end within 3 minutes:\n%s", job.tail())
	}
	if err := job.wait(); err != nil {
		t.Fatalf("the job failed: %v\n%s", err, job.tail())
	}
	log := job.tail()
	read, archived := reportCount(t, log, `(?m)^read (\d+),`), reportCount(t, log, `(?m)^archived (\d+),`)
	if read != records || archived != records {
		t.Errorf("read %d, archived %d records; want %d each\n%s", read, archived, records, log)
	}
	day := start.Truncate(24 * time.Hour)
	want := expected(t, cfg, day, day)
	if want.Counts.Read != records {
		t.Fatalf("the archive holds %d records, want %d", want.Counts.Read, records)
	}
	diffRows(t, "speed views of the job on the job server differ from the reference", want.Rows,
		rowsOf(t, cfg.Store, views.Speed, day, day.AddDate(0, 0, 1)))
}

// reportCount returns the number that re's only group matches in a job's log.
func reportCount(t *testing.T, log, re string) int {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(log)
	if m == nil {
		t.Fatalf("no %q in the job's log:\n%s", re, log)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}
