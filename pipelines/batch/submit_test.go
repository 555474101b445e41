package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"

	"github.com/beamline/beamline/io/store"
	"github.com/beamline/beamline/pipelines/internal/prismtest"
)

// These tests submit the batch job as an operator does: they build its binary and run it with
// runner flags, without a cloud.

var built struct {
	once sync.Once
	path string
	err  error
}

// batchBinary builds this command once per test process and returns the binary's path.
func batchBinary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "beamline-batch-")
		if err != nil {
			built.err = err
			return
		}
		built.path = filepath.Join(dir, "batch")
		start := time.Now()
		out, err := exec.Command(goTool(), "build", "-o", built.path, ".").CombinedOutput()
		if err != nil {
			built.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
		t.Logf("built the batch binary in %s", time.Since(start).Round(time.Millisecond))
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

// removeBatchBinary removes what batchBinary built, if anything (from TestMain).
func removeBatchBinary() {
	if built.path != "" {
		os.RemoveAll(filepath.Dir(built.path))
	}
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(os.Getenv("GOROOT"), "bin", "go")
}

// jobFlags are the flags of a backfill of cfg.
func jobFlags(cfg Config) []string {
	return []string{"--lake=" + cfg.Lake, "--from=" + day(cfg.From), "--to=" + day(cfg.To),
		"--store=" + cfg.Store, "--deadletter=" + cfg.DeadLetter, "--reference=" + cfg.Reference,
		"--bot_patterns=" + strings.Join(cfg.Bots, ","), "--blocked_users=" + strings.Join(cfg.Blocked, ","),
		"--model=" + cfg.Model, "--score_threshold=" + strconv.FormatFloat(cfg.ScoreThreshold, 'g', -1, 64)}
}

// runBatch runs the binary with args and env (nil: this process's), within timeout, and returns
// its standard output and error.
func runBatch(t *testing.T, timeout time.Duration, env []string, args ...string) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, batchBinary(t), args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("batch %s: %v (timeout %s)\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, timeout, out.String(), errb.String())
	}
	return out.String(), errb.String()
}

// offlineEnv is this process's environment without any Google credentials or metadata server,
// so that the Dataflow runner's GCS check fails at once instead of retrying.
func offlineEnv(t *testing.T) []string {
	home := t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "GOOGLE_APPLICATION_CREDENTIALS", "GCE_METADATA_HOST", "GCE_METADATA_IP", "CLOUDSDK_CONFIG", "HOME":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+home, "CLOUDSDK_CONFIG="+home)
}

// dataflowJob is the part of the Dataflow job that the dry run prints which the tests check.
type dataflowJob struct {
	Name        string `json:"name"`
	ProjectID   string `json:"projectId"`
	Type        string `json:"type"`
	Environment struct {
		WorkerPools []struct {
			MachineType         string `json:"machineType"`
			NumWorkers          int    `json:"numWorkers"`
			AutoscalingSettings struct {
				Algorithm     string `json:"algorithm"`
				MaxNumWorkers int    `json:"maxNumWorkers"`
			} `json:"autoscalingSettings"`
			WorkerHarnessContainerImage string `json:"workerHarnessContainerImage"`
		} `json:"workerPools"`
		TempStoragePrefix string `json:"tempStoragePrefix"`
	} `json:"environment"`
}

// printedJob finds the job that a Dataflow dry run logged (a JSON object, quoted in a log line).
func printedJob(t *testing.T, log string) dataflowJob {
	t.Helper()
	m := regexp.MustCompile(`(?m)msg=("\{\\n.*"projectId.*")`).FindStringSubmatch(log)
	if m == nil {
		t.Fatalf("no job in the dry run's output:\n%s", log)
	}
	text, err := strconv.Unquote(m[1])
	if err != nil {
		t.Fatalf("unquote the printed job: %v", err)
	}
	var job dataflowJob
	if err := json.Unmarshal([]byte(text), &job); err != nil {
		t.Fatalf("decode the printed job: %v\n%s", err, text)
	}
	return job
}

// TestDataflowDryRun submits the backfill to the Dataflow runner with --dry_run and checks the
// job it prints: a batch job with the machine type and autoscaling asked for. Nothing runs and
// nothing is published.
func TestDataflowDryRun(t *testing.T) {
	cfg := sampleConfig(t)
	cfg.DeadLetter = "gs://beamline-test-bucket/deadletter"
	args := append(jobFlags(cfg), "--runner=dataflow", "--dry_run", "--project=beamline-test",
		"--region=europe-west1", "--staging_location=gs://beamline-test-bucket/staging",
		"--job_name=beamline-backfill-test", "--worker_machine_type=n2-highmem-4",
		"--autoscaling_algorithm=THROUGHPUT_BASED", "--max_num_workers=7")
	stdout, stderr := runBatch(t, 2*time.Minute, offlineEnv(t), args...)

	job := printedJob(t, stderr)
	if job.Type != "JOB_TYPE_BATCH" || job.ProjectID != "beamline-test" || job.Name != "beamline-backfill-test" {
		t.Errorf("job %q in %q of type %q, want beamline-backfill-test in beamline-test of type JOB_TYPE_BATCH", job.Name, job.ProjectID, job.Type)
	}
	if n := len(job.Environment.WorkerPools); n != 1 {
		t.Fatalf("%d worker pools, want 1", n)
	}
	pool := job.Environment.WorkerPools[0]
	if pool.MachineType != "n2-highmem-4" {
		t.Errorf("machine type %q, want n2-highmem-4", pool.MachineType)
	}
	// THROUGHPUT_BASED is called AUTOSCALING_ALGORITHM_BASIC in the Dataflow API.
	if a := pool.AutoscalingSettings; a.Algorithm != "AUTOSCALING_ALGORITHM_BASIC" || a.MaxNumWorkers != 7 {
		t.Errorf("autoscaling %+v, want AUTOSCALING_ALGORITHM_BASIC up to 7 workers", a)
	}
	if !strings.HasPrefix(job.Environment.TempStoragePrefix, "gs://beamline-test-bucket/staging") {
		t.Errorf("temp storage %q, want under the staging location", job.Environment.TempStoragePrefix)
	}
	if !strings.Contains(stdout, "not run and not published") {
		t.Errorf("stdout does not say that nothing ran:\n%s", stdout)
	}
	if pubs := publications(t, cfg); len(pubs) != 0 {
		t.Errorf("a dry run published %d days", len(pubs))
	}
}

// publications returns the days that cfg's store has published.
func publications(t *testing.T, cfg Config) []string {
	t.Helper()
	out := []string{}
	for _, p := range storePublications(t, cfg) {
		out = append(out, day(p.Day))
	}
	return out
}

// storePublications returns the publications of cfg's store.
func storePublications(t *testing.T, cfg Config) []store.Publication {
	t.Helper()
	st, err := store.Open(context.Background(), cfg.Store)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pubs, err := st.Publications(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return pubs
}

// TestFlinkRunnerOnPrismJobServer submits the backfill with --runner=flink to a job server that
// speaks the same job API as Flink's (Prism's, started in this process), with the workers in
// LOOPBACK mode in the batch process, and compares the result with the reference.
func TestFlinkRunnerOnPrismJobServer(t *testing.T) {
	endpoint := prismtest.StartJobServer(t)
	cfg := sampleConfig(t)
	args := append(jobFlags(cfg), "--runner=flink", "--endpoint="+endpoint, "--environment_type=LOOPBACK",
		"--job_name=beamline-backfill-flink-test")
	start := time.Now()
	stdout, _ := runBatch(t, 3*time.Minute, nil, args...)
	t.Logf("backfill on the job server took %s", time.Since(start).Round(time.Millisecond))
	checkBackfill(t, cfg, parseReport(t, stdout), expected(t, cfg))
}

var (
	countsLine  = regexp.MustCompile(`(?m)^read (\d+), processed (\d+), filtered (\d+), duplicates (\d+), dead-lettered (\d+)$`)
	detailsLine = regexp.MustCompile(`(?m)^filtered by: (.*); dead-lettered by: (.*)$`)
	contextLine = regexp.MustCompile(`(?m)^context (\d+) `)
)

// parseReport reads the counts back from what Report.Print wrote.
func parseReport(t *testing.T, out string) Report {
	t.Helper()
	c, d, x := countsLine.FindStringSubmatch(out), detailsLine.FindStringSubmatch(out), contextLine.FindStringSubmatch(out)
	if c == nil || d == nil || x == nil {
		t.Fatalf("no conservation lines in the output:\n%s", out)
	}
	n := func(s string) int64 { v, _ := strconv.ParseInt(s, 10, 64); return v }
	return Report{Read: n(c[1]), Processed: n(c[2]), Duplicates: n(c[4]), Context: n(x[1]),
		Filtered: parseDetails(t, d[1]), DeadLettered: parseDetails(t, d[2])}
}

// parseDetails parses "name N, name N".
func parseDetails(t *testing.T, s string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, part := range strings.Split(s, ", ") {
		name, v, ok := strings.Cut(part, " ")
		n, err := strconv.ParseInt(v, 10, 64)
		if !ok || err != nil {
			t.Fatalf("bad count %q in %q", part, s)
		}
		out[name] = n
	}
	return out
}

// TestAsyncRefused checks that the batch job does not return before its pipeline has finished:
// it could not publish the run.
func TestAsyncRefused(t *testing.T) {
	*jobopts.Async = true
	defer func() { *jobopts.Async = false }()
	if _, err := Backfill(context.Background(), sampleConfig(t)); err == nil || !strings.Contains(err.Error(), "--async") {
		t.Errorf("Backfill with --async = %v, want an error about --async", err)
	}
}
