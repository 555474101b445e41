package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/beamline/beamline/io/store/sqlitestore"
)

// checkOut fails unless dir is missing or empty: in an earlier run's directory the job would
// find that run's speed watermark and archive and warm-restart from them, replaying the old
// events before it settles anything new.
func checkOut(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) || err == nil && len(entries) == 0 {
		return nil
	}
	if err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	return fmt.Errorf("--out %s is not empty: give a new directory (the job would warm-restart from the earlier run's store and archive there)", dir)
}

func run(bin, out, reference, src string, partitions int32, rate int, d, poll, warmup, settle time.Duration, extra []string) (result, error) {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return result{}, err
	}
	url := "sqlite://" + filepath.Join(out, "views.db")
	source, described := fmt.Sprintf("generator://?rate=%d&dup=0.01&bad=0.005&bots=0.01&seed=7", rate), "the generator source"
	if src == "kafka" {
		k, err := startKafka(partitions)
		if err != nil {
			return result{}, fmt.Errorf("kafka: %w", err)
		}
		defer k.close()
		k.feed(rate)
		source, described = k.url, fmt.Sprintf("a Kafka topic of %d partitions (kfake and its producer in the bench process)", partitions)
	}
	args := append([]string{
		"--source=" + source,
		"--store=" + url, "--archive=" + filepath.Join(out, "lake"), "--deadletter=" + filepath.Join(out, "deadletter"),
		"--reference=" + reference, "--run_for=" + d.String(), "--dedupe_ttl=10m",
	}, extra...)
	logf, err := os.Create(filepath.Join(out, "job.log"))
	if err != nil {
		return result{}, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, args...)
	var stdout strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, logf
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return result{}, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	w := newWatcher(url)
	defer w.close()
	if err := w.watch(poll, exited); err != nil {
		return result{}, fmt.Errorf("job: %w (log: %s)", err, logf.Name())
	}
	end := time.Now()
	res := result{source: described, rate: rate, duration: d, report: reportLines(stdout.String())}
	res.read = counter(res.report, "read ")
	res.lag = end.Sub(w.watermark())
	res.delays, res.windows = w.delays(start.Add(warmup), end.Add(-settle))
	res.panes = w.paneDelays(start.Add(warmup), end.Add(-settle), earlyFiring(extra))
	return res, nil
}
