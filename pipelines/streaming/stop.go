package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	jobpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/jobmanagement_v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// noSplits is the Prism experiment that turns off Prism's dynamic splitting of bundles.
// Prism splits slow bundles of every stage, stateful ones included, and a split of a bundle
// that holds timers loses them (apache/beam#35771; Prism logs "Unexpected split on a bundle
// with timers"): measured with the generator test, 2 of 4 runs split such bundles and lost
// events in dedupe, 0 of 4 with splitting off. The sources refuse runner splits anyway. Run adds
// it to --experiments for the run (other runners ignore an experiment they do not know).
const noSplits = "prism_disable_sdf_split"

// stopAfter cancels the job called name through the job service at endpoint once runFor has
// passed (never when it is 0) or stop is done, whichever comes first. Cancelling stops the
// job cleanly (state CANCELLED); open windows are not flushed. It returns when it has
// cancelled the job or done is closed. Without a job service (endpoint empty: the Dataflow
// runner, whose jobs are stopped with its own tools) it does nothing.
func stopAfter(stop context.Context, done <-chan struct{}, endpoint, name string, runFor time.Duration) {
	if endpoint == "" {
		if runFor > 0 {
			slog.Warn("streaming: --run_for needs a job service (Prism, Flink); this runner's job is stopped with its own tools", "job", name)
		}
		return
	}
	var timer <-chan time.Time
	if runFor > 0 {
		t := time.NewTimer(runFor)
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-done:
		return
	case <-timer:
		slog.Info("streaming: --run_for has passed; cancelling the job", "job", name, "run_for", runFor)
	case <-stop.Done():
		slog.Info("streaming: interrupted; cancelling the job", "job", name)
	}
	for {
		err := cancelJob(endpoint, name)
		if err == nil {
			return
		}
		slog.Warn("streaming: cancel failed; retrying", "job", name, "err", err)
		select {
		case <-done:
			return
		case <-time.After(time.Second):
		}
	}
}

// errNotRunning means the job is not (yet) known to the job service as running.
var errNotRunning = fmt.Errorf("job not running")

// cancelJob cancels the running jobs called name on the job service at endpoint.
func cancelJob(endpoint, name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cc, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("cancel job %s: %w", name, err)
	}
	defer cc.Close()
	client := jobpb.NewJobServiceClient(cc)
	jobs, err := client.GetJobs(ctx, &jobpb.GetJobsRequest{})
	if err != nil {
		return fmt.Errorf("cancel job %s: list jobs: %w", name, err)
	}
	cancelled := false
	for _, j := range jobs.GetJobInfo() {
		if j.GetJobName() != name || terminal(j.GetState()) {
			continue
		}
		if _, err := client.Cancel(ctx, &jobpb.CancelJobRequest{JobId: j.GetJobId()}); err != nil {
			return fmt.Errorf("cancel job %s (%s): %w", name, j.GetJobId(), err)
		}
		cancelled = true
	}
	if !cancelled {
		return fmt.Errorf("cancel job %s: %w", name, errNotRunning)
	}
	return nil
}

func terminal(s jobpb.JobState_Enum) bool {
	switch s {
	case jobpb.JobState_DONE, jobpb.JobState_FAILED, jobpb.JobState_CANCELLED, jobpb.JobState_DRAINED, jobpb.JobState_UPDATED:
		return true
	}
	return false
}
