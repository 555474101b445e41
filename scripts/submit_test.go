package scripts_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"

	_ "github.com/beamline/beamline/io/store/sqlitestore"
)

// TestSubmitDataflowDryRun submits the batch job with the script's defaults and --dry_run, and
// checks the printed job.
func TestSubmitDataflowDryRun(t *testing.T) {
	env, _ := backfillEnv(t)
	env = append(env, "BEAMLINE_BIN="+batchBinary(t), "BEAMLINE_PROJECT=beamline-test", "BEAMLINE_REGION=europe-west1",
		"BEAMLINE_STAGING=gs://beamline-test-bucket/staging", "BEAMLINE_FROM=2026-11-20", "BEAMLINE_TO=2026-11-20",
		"BEAMLINE_DEADLETTER=gs://beamline-test-bucket/dead")
	r := script(t, 2*time.Minute, env, "submit-dataflow.sh", "batch", "--dry_run", "--", "--labels={\"team\":\"data\"}")
	if r.code != 0 {
		t.Fatalf("submit-dataflow.sh: exit %d\n%s", r.code, r.stderr)
	}
	for _, want := range []string{`\"type\": \"JOB_TYPE_BATCH\"`, `\"name\": \"beamline-batch\"`,
		`\"machineType\": \"n2-standard-4\"`, `\"algorithm\": \"AUTOSCALING_ALGORITHM_BASIC\"`,
		`\"maxNumWorkers\": 20`, `\"team\": \"data\"`} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("the printed job lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("stderr:\n%s", r.stderr)
	}
}

func TestSubmitUsageErrors(t *testing.T) {
	base := []string{"BEAMLINE_BIN=/bin/true", "BEAMLINE_PROJECT=p", "BEAMLINE_REGION=r", "BEAMLINE_STAGING=gs://b/s"}
	for _, tc := range []struct {
		script string
		args   []string
		want   string
	}{
		{"submit-dataflow.sh", []string{"batch", "--gpu=nvidia-tesla-t4"}, "only --stage=score may ask for GPUs"},
		{"submit-dataflow.sh", []string{"streaming", "--stage=aggregate", "--gpu=nvidia-l4"}, "only --stage=score may ask for GPUs"},
		{"submit-dataflow.sh", []string{"streaming", "--stage=enrich"}, "want all, ingest, score or aggregate"},
		{"submit-dataflow.sh", []string{"batch", "--update"}, "--update, --drain and --cancel are for streaming jobs"},
		{"submit-dataflow.sh", []string{"batch", "--staging_location=/tmp/x"}, "must be a gs:// path"},
		{"submit-dataflow.sh", []string{"wordcount"}, "first argument: batch or streaming"},
		{"submit-flink.sh", []string{"batch"}, "--endpoint (BEAMLINE_FLINK_ENDPOINT) is required"},
		{"submit-flink.sh", []string{"streaming", "--endpoint=h:1", "--stage=ingest", "--gpu=t4"}, "only --stage=score may ask for GPUs"},
		{"submit-dataflow.sh", []string{"streaming", "--stage=ingest"}, "--output_topic (BEAMLINE_OUTPUT_TOPIC) is required for --stage=ingest"},
		{"submit-flink.sh", []string{"streaming", "--endpoint=h:1", "--stage=score"}, "--output_topic (BEAMLINE_OUTPUT_TOPIC) is required for --stage=score"},
	} {
		r := script(t, 10*time.Second, base, tc.script, tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s %v: exit %d, stderr %q; want exit 2 saying %q", tc.script, tc.args, r.code, r.stderr, tc.want)
		}
	}
}

// TestSubmitFlinkToJobServer submits the batch job with submit-flink.sh to Prism's job server
// (the job API of Flink's), started in this process, with LOOPBACK workers.
func TestSubmitFlinkToJobServer(t *testing.T) {
	env, storeURL := backfillEnv(t)
	env = append(env, "BEAMLINE_BIN="+batchBinary(t), "BEAMLINE_FROM=2026-11-20", "BEAMLINE_TO=2026-11-21")
	r := script(t, 3*time.Minute, env, "submit-flink.sh", "batch", "--endpoint="+startJobServer(t),
		"--environment_type=loopback")
	if r.code != 0 {
		t.Fatalf("submit-flink.sh: exit %d\n%s", r.code, r.stderr)
	}
	if !regexp.MustCompile(`(?m)^read \d+, processed \d+`).MatchString(r.stdout) {
		t.Errorf("no conservation line in the output:\n%s", r.stdout)
	}
	if runs := publishedRuns(t, storeURL); len(runs) != 2 {
		t.Errorf("published %v, want 2 days", runs)
	}
}

// startJobServer starts Prism's job server in this process on a free port and returns its
// endpoint; it runs until the test process exits.
func startJobServer(t *testing.T) string {
	t.Helper()
	port := freeTCPPort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := prism.CreateJobServer(ctx, prism.Options{Port: port}); err != nil {
		t.Fatalf("start the prism job server on port %d: %v", port, err)
	}
	return fmt.Sprintf("localhost:%d", port)
}

// TestSubmitDataflowStreamingDryRun submits the streaming job with --dry_run, as one job
// (--stage=all) and as its three stage jobs, and checks the printed jobs: streaming, on
// Streaming Engine, autoscaled, named after the stage, and the accelerator resource hint on
// the score stage's job only (in the Go SDK resource hints apply to a whole job).
func TestSubmitDataflowStreamingDryRun(t *testing.T) {
	const bucket = "gs://beamline-test-bucket"
	sub := func(name string) string {
		return "--source=pubsub://projects/beamline-test/subscriptions/" + name + "?timestamp_attribute=ts"
	}
	store := "--store=sqlite://" + filepath.Join(t.TempDir(), "views.db")
	tests := []struct {
		stage   string
		args    []string
		machine string
		workers int
	}{
		{"all", []string{"--source=generator://?rate=10", store, "--archive=" + bucket + "/lake"}, "n2-standard-4", 10},
		{"ingest", []string{"--source=pubsub://projects/beamline-test/subscriptions/raw", store, "--archive=" + bucket + "/lake",
			"--output_topic=pubsub://projects/beamline-test/topics/ingested"}, "n2-standard-2", 10},
		{"score", []string{sub("ingested-score"), "--model=logreg+" + bucket + "/spam.json",
			"--output_topic=pubsub://projects/beamline-test/topics/scored"}, "n1-standard-4", 4},
		{"aggregate", []string{sub("scored-aggregate"), store}, "n2-highmem-2", 10},
	}
	env := []string{"BEAMLINE_BIN=" + jobBinary(t, "streaming"), "BEAMLINE_PROJECT=beamline-test",
		"BEAMLINE_REGION=europe-west1", "BEAMLINE_STAGING=" + bucket + "/staging", "BEAMLINE_DEADLETTER=" + bucket + "/dead"}
	for _, tc := range tests {
		t.Run(tc.stage, func(t *testing.T) {
			args := append([]string{"streaming", "--dry_run", "--stage=" + tc.stage}, tc.args...)
			r := script(t, 2*time.Minute, env, "submit-dataflow.sh", args...)
			if r.code != 0 {
				t.Fatalf("submit-dataflow.sh %v: exit %d\n%s", args, r.code, r.stderr)
			}
			for _, want := range []string{`\"type\": \"JOB_TYPE_STREAMING\"`, `\"name\": \"beamline-streaming-` + tc.stage + `\"`,
				`\"machineType\": \"` + tc.machine + `\"`, `\"algorithm\": \"AUTOSCALING_ALGORITHM_BASIC\"`,
				fmt.Sprintf(`\"maxNumWorkers\": %d`, tc.workers), `enable_streaming_engine`} {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("the printed job lacks %s", want)
				}
			}
			// The pipeline's environment carries the hint as beam:resources:accelerator:v1 (in
			// the text form of the pipeline proto, whose spacing varies).
			hint := regexp.MustCompile(`beam:resources:accelerator:v1\\"\s*value:\\"type:nvidia-tesla-t4;count:1;install-nvidia-driver\\"`)
			if got := hint.MatchString(r.stderr); got != (tc.stage == "score") {
				t.Errorf("accelerator resource hint in the printed job: %v, want it on the score stage's job only", got)
			}
			if tc.stage != "score" && strings.Contains(r.stderr, "accelerator") {
				t.Errorf("the printed %s job mentions an accelerator", tc.stage)
			}
			if !strings.Contains(r.stdout, "was not run") {
				t.Errorf("stdout does not say that the job did not run:\n%s", r.stdout)
			}
			if t.Failed() {
				t.Logf("stderr:\n%s", r.stderr)
			}
		})
	}
}

// fakeBinary writes a job binary that prints its arguments, one per line, and returns it.
func fakeBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "job")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\nfor a in \"$@\"; do echo \"ARG $a\"; done\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// args returns the arguments that a fakeBinary printed.
func args(out string) []string {
	var a []string
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "ARG "); ok {
			a = append(a, v)
		}
	}
	return a
}

// TestStageFlags checks the flags that the submit scripts give each streaming stage (on a
// binary that prints them): GPUs only for score, machine types and workers per stage.
func TestStageFlags(t *testing.T) {
	const gpuHint = "--resource_hints=accelerator=type:nvidia-tesla-t4;count:1;install-nvidia-driver"
	dataflow := []string{"BEAMLINE_BIN=" + fakeBinary(t), "BEAMLINE_PROJECT=p", "BEAMLINE_REGION=r", "BEAMLINE_STAGING=gs://b/s"}
	flink := []string{"BEAMLINE_BIN=" + fakeBinary(t), "BEAMLINE_FLINK_ENDPOINT=jobserver:8099"}
	// Settings shared by every stage, as an operator's environment would set them: each stage
	// gets only those it uses.
	const topic = "--output_topic=pubsub://projects/p/topics/t"
	shared := []string{"BEAMLINE_OUTPUT_TOPIC=pubsub://projects/p/topics/t", "BEAMLINE_MODEL=logreg+gs://b/spam.json",
		"BEAMLINE_ARCHIVE=gs://b/lake", "BEAMLINE_STORE=bigquery://p/views", "BEAMLINE_REFERENCE=gs://b/categories.csv",
		"BEAMLINE_DEADLETTER=gs://b/dead", "BEAMLINE_SOURCE=pubsub://projects/p/subscriptions/s"}
	dataflow = append(dataflow, shared...)
	flink = append(flink, shared...)
	const (
		model     = "--model=logreg+gs://b/spam.json"
		archive   = "--archive=gs://b/lake"
		store     = "--store=bigquery://p/views"
		reference = "--reference=gs://b/categories.csv"
	)
	tests := []struct {
		name     string
		env      []string
		script   string
		args     []string
		want     []string
		wantNone []string
	}{
		{"dataflow score", dataflow, "submit-dataflow.sh", []string{"streaming", "--stage=score", "--update", "--sdk_container_image=img:1"},
			[]string{gpuHint, "--stage=score", "--worker_machine_type=n1-standard-4", "--max_num_workers=4", "--update",
				"--sdk_container_image=img:1", "--experiments=enable_streaming_engine", "--autoscaling_algorithm=THROUGHPUT_BASED",
				"--job_name=beamline-streaming-score", topic, model, "--deadletter=gs://b/dead"}, []string{archive, store, reference}},
		{"dataflow score on CPU", dataflow, "submit-dataflow.sh", []string{"streaming", "--stage=score", "--gpu=none"},
			[]string{"--stage=score"}, []string{gpuHint}},
		{"dataflow L4", dataflow, "submit-dataflow.sh", []string{"streaming", "--stage=score", "--gpu=nvidia-l4", "--gpu_count=2", "--machine_type=g2-standard-24"},
			[]string{"--resource_hints=accelerator=type:nvidia-l4;count:2;install-nvidia-driver", "--worker_machine_type=g2-standard-24"}, nil},
		{"dataflow ingest", dataflow, "submit-dataflow.sh", []string{"streaming", "--stage=ingest", "--max_num_workers=30", "--", "--labels={}"},
			[]string{"--stage=ingest", "--worker_machine_type=n2-standard-2", "--max_num_workers=30", "--labels={}",
				topic, archive, store, reference}, []string{gpuHint, model}},
		{"dataflow aggregate", dataflow, "submit-dataflow.sh", []string{"streaming", "--stage=aggregate"},
			[]string{"--stage=aggregate", "--worker_machine_type=n2-highmem-2", "--max_num_workers=10", store},
			[]string{gpuHint, topic, model, archive, reference}},
		{"dataflow all", dataflow, "submit-dataflow.sh", []string{"streaming"},
			[]string{"--stage=all", archive, store, reference, model}, []string{gpuHint, topic}},
		{"flink score", flink, "submit-flink.sh", []string{"streaming", "--stage=score", "--gpu=nvidia-tesla-t4"},
			[]string{gpuHint, "--runner=flink", "--endpoint=jobserver:8099", "--environment_type=DOCKER",
				"--environment_config=apache/beam_go_sdk:2.77.0", "--stage=score", topic, model}, []string{archive, store}},
		{"flink aggregate", flink, "submit-flink.sh", []string{"streaming", "--stage=aggregate"},
			[]string{"--stage=aggregate", store}, []string{topic, model, archive}},
		{"flink loopback", flink, "submit-flink.sh", []string{"batch", "--environment_type=loopback", "--lake=s3://b/lake"},
			[]string{"--environment_type=LOOPBACK", "--lake=s3://b/lake", "--job_name=beamline-batch", model, store},
			[]string{"--stage=batch", topic}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := script(t, 10*time.Second, tc.env, tc.script, tc.args...)
			if r.code != 0 {
				t.Fatalf("exit %d\n%s", r.code, r.stderr)
			}
			got := args(r.stdout)
			for _, w := range tc.want {
				if !slices.Contains(got, w) {
					t.Errorf("flags lack %s: %q", w, got)
				}
			}
			for _, w := range tc.wantNone {
				if slices.Contains(got, w) {
					t.Errorf("flags have %s: %q", w, got)
				}
			}
		})
	}
}

// TestDrain drains a streaming stage through a stand-in gcloud that records its calls.
func TestDrain(t *testing.T) {
	dir := t.TempDir()
	calls := filepath.Join(dir, "calls")
	gcloud := "#!/bin/sh\necho \"$*\" >>" + calls + "\ncase \"$*\" in *list*) echo 2026-11-22_01_02_03-123;; esac\n"
	if err := os.WriteFile(filepath.Join(dir, "gcloud"), []byte(gcloud), 0o755); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + dir + ":" + os.Getenv("PATH"), "BEAMLINE_PROJECT=p", "BEAMLINE_REGION=r"}
	r := script(t, 10*time.Second, env, "submit-dataflow.sh", "streaming", "--stage=ingest", "--drain")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	b, err := os.ReadFile(calls)
	if err != nil {
		t.Fatal(err)
	}
	want := "dataflow jobs list --project=p --region=r --status=active --filter=name=beamline-streaming-ingest --format=value(JOB_ID)\n" +
		"dataflow jobs drain 2026-11-22_01_02_03-123 --project=p --region=r\n"
	if string(b) != want {
		t.Errorf("gcloud calls:\n%s\nwant:\n%s", b, want)
	}
}
