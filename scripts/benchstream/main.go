// Command benchstream measures the streaming job on Prism: it runs the job's binary with the
// generator source (or, with --source=kafka, on a Kafka topic that a kfake server in this
// process holds and a producer here feeds) at a target rate for a while, watches the view store, and prints the
// sustained events/s and the delay from the end of each 1-minute window to its row being
// final in the store (p50, p99, max).
//
//	go run ./scripts/benchstream --bin=/tmp/streaming --rate=5000 --duration=150s --out=/tmp/bench
//
// The delay of a row is the wall-clock time of the last change of its country_activity or
// category_activity row seen by polling the store (every --poll), minus the end of its window:
// the stream has no late events, so that change is the on-time pane (or an early pane that
// already had the final counts, counted as 0). Only windows that end after the first --warmup
// of the run and at least --settle before its end count (the speed watermark the job records
// is the end of the latest minute window that the writer's watermark passed, a minute at a
// time, so it cannot time a row); a row of those windows that was still changing at the end would
// show a delay below its real one, so the report also says how far the job's generator fell
// behind. Polling costs the machine a little CPU, as a reader of the store would.
//
// A run has only a few windows, so the report also times every pane, which takes the same path
// through the job: the early panes fire when the watermark passes each multiple of the job's
// early-firing step (--early_firing among the job's flags, 5 s by default; the generator's
// event time is the wall clock) and the on-time pane at the window's end, so the delay of a
// change of a row seen at wall time t is t minus the latest multiple of the step at or before
// t (for delays under one step).
//
// The baseline, measured in the same run: the plain-Go reference (package
// io/views/reference) computes the same views over the raw archive the job wrote, in this
// process on one goroutine; the report gives the job's CPU time per event next to the
// reference's, and their ratio.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/beamline/beamline/io/store"
	_ "github.com/beamline/beamline/io/store/sqlitestore"
	"github.com/beamline/beamline/io/views"
	"github.com/beamline/beamline/io/views/reference"
	"github.com/beamline/beamline/transforms/aggregate"
)

func main() {
	bin := flag.String("bin", "", "the streaming job's binary (required)")
	rate := flag.Int("rate", 5000, "target events per second")
	src := flag.String("source", "generator", "the job's source: generator (the generator source, in the job) or kafka (a Kafka protocol server in this process, kfake, fed at the rate by a producer here; the job reads its topic of --partitions partitions)")
	partitions := flag.Int("partitions", 4, "partitions of the Kafka topic (--source=kafka)")
	duration := flag.Duration("duration", 150*time.Second, "how long the job runs (--run_for)")
	out := flag.String("out", "", "directory for the store, archive, dead letters and log (required)")
	reference := flag.String("reference", "testdata/reference/categories.csv", "reference CSV")
	poll := flag.Duration("poll", 100*time.Millisecond, "how often the store is polled (a row is seen up to this late)")
	warmup := flag.Duration("warmup", 30*time.Second, "windows that end earlier in the run are not measured")
	settle := flag.Duration("settle", 30*time.Second, "windows that end later than this before the end of the run are not measured")
	flag.Parse()
	if *bin == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "benchstream: --bin and --out are required")
		os.Exit(2)
	}
	if *src != "generator" && *src != "kafka" || *partitions <= 0 {
		fmt.Fprintf(os.Stderr, "benchstream: --source=%s --partitions=%d: want generator or kafka, and a positive count\n", *src, *partitions)
		os.Exit(2)
	}
	if err := checkOut(*out); err != nil {
		fmt.Fprintln(os.Stderr, "benchstream:", err)
		os.Exit(2)
	}
	res, err := run(*bin, *out, *reference, *src, int32(*partitions), *rate, *duration, *poll, *warmup, *settle, flag.Args())
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchstream:", err)
		os.Exit(1)
	}
	if res.base, err = measureBaseline(filepath.Join(*out, "lake"), *reference); err != nil {
		fmt.Fprintln(os.Stderr, "benchstream: baseline:", err)
		os.Exit(1)
	}
	res.print(os.Stdout)
}

// baseline is the plain-Go reference's run over the job's archive.
type baseline struct {
	records   int64
	wall, cpu time.Duration
}

// measureBaseline computes the views of every day of the archive at lakeDir with the
// reference, and times it.
func measureBaseline(lakeDir, categories string) (baseline, error) {
	days, err := filepath.Glob(filepath.Join(lakeDir, "raw", "dt=*"))
	if err != nil || len(days) == 0 {
		return baseline{}, fmt.Errorf("no archive under %s", lakeDir)
	}
	first, err1 := time.Parse(time.DateOnly, strings.TrimPrefix(filepath.Base(days[0]), "dt="))
	last, err2 := time.Parse(time.DateOnly, strings.TrimPrefix(filepath.Base(days[len(days)-1]), "dt="))
	if err1 != nil || err2 != nil {
		return baseline{}, fmt.Errorf("archive days %s..%s", days[0], days[len(days)-1])
	}
	cpu0, start := cpuTime(), time.Now()
	cats, err := reference.ReadCategories(categories)
	if err != nil {
		return baseline{}, err
	}
	recs, err := reference.ReadLake(lakeDir, first, last)
	if err != nil {
		return baseline{}, err
	}
	res := reference.Compute(reference.Config{From: first, To: last, Categories: cats, BotPatterns: reference.DefaultBotPatterns}, recs)
	return baseline{records: res.Counts.Read, wall: time.Since(start), cpu: cpuTime() - cpu0}, nil
}

// cpuTime returns this process's CPU time (user + system) so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// result is one measured run.
type result struct {
	source   string // the job's source, described
	rate     int
	duration time.Duration
	read     int64
	delays   []time.Duration
	windows  int
	panes    []time.Duration // delay of every change seen in the measured part of the run
	lag      time.Duration   // wall clock at the end minus the last recorded speed watermark
	report   []string        // the job's report lines
	base     baseline        // the reference over the run's archive
}

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

// watcher polls the store for changes of speed rows.
type watcher struct {
	url     string
	st      *store.Store
	last    map[string]string    // row -> its metrics, as last seen
	changed map[string]time.Time // row -> when it last changed
	ends    map[string]time.Time // row -> its window end
	seen    []time.Time          // when each change was seen
	wm      time.Time
}

func newWatcher(url string) *watcher {
	return &watcher{url: url, last: map[string]string{}, changed: map[string]time.Time{}, ends: map[string]time.Time{}}
}

func (w *watcher) close() {
	if w.st != nil {
		w.st.Close()
	}
}

// watch polls until the job exits and returns its error.
func (w *watcher) watch(poll time.Duration, exited <-chan error) error {
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		select {
		case err := <-exited:
			return err
		case <-tick.C:
			if err := w.poll(context.Background()); err != nil && w.st != nil {
				fmt.Fprintln(os.Stderr, "benchstream: poll:", err)
			}
		}
	}
}

func (w *watcher) poll(ctx context.Context) error {
	if w.st == nil {
		st, err := store.Open(ctx, w.url)
		if err != nil {
			return err // the job has not created it yet
		}
		w.st = st
	}
	now := time.Now()
	if wm, err := w.st.SpeedWatermark(ctx); err == nil && wm.After(w.wm) {
		w.wm = wm
	}
	for _, view := range []string{views.CountryActivity, views.CategoryActivity} {
		rows, err := w.st.Query(ctx, store.Query{View: view, Layer: views.Speed, From: now.Add(-5 * time.Minute), To: now.Add(time.Minute)})
		if err != nil {
			return err
		}
		for _, r := range rows {
			id := r.View + "/" + r.Key + "/" + r.WindowStart.Format(time.RFC3339)
			m := fmt.Sprint(r.Metrics)
			if w.last[id] != m {
				w.last[id], w.changed[id], w.ends[id] = m, now, r.WindowEnd
				w.seen = append(w.seen, now)
			}
		}
	}
	return nil
}

func (w *watcher) watermark() time.Time { return w.wm }

// delays returns the delay of every row of the windows that end in (after, closed], and how
// many windows those are.
func (w *watcher) delays(after, closed time.Time) ([]time.Duration, int) {
	var out []time.Duration
	windows := map[time.Time]bool{}
	for id, end := range w.ends {
		if !end.After(after) || end.After(closed) {
			continue
		}
		windows[end] = true
		out = append(out, max(w.changed[id].Sub(end), 0))
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, len(windows)
}

// earlyFiring returns the job's early-firing step: its --early_firing flag among args, or the
// default.
func earlyFiring(args []string) time.Duration {
	step := aggregate.DefaultEarlyFiring
	for _, a := range args {
		v, ok := strings.CutPrefix(strings.TrimLeft(a, "-"), "early_firing=")
		if d, err := time.ParseDuration(v); ok && err == nil && d > 0 {
			step = d
		}
	}
	return step
}

// paneDelays returns the delay of every change seen in (after, closed] from the latest
// multiple of the early-firing step before it, sorted.
func (w *watcher) paneDelays(after, closed time.Time, step time.Duration) []time.Duration {
	var out []time.Duration
	for _, t := range w.seen {
		if t.After(after) && !t.After(closed) {
			out = append(out, t.Sub(t.Truncate(step)))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// reportLines returns the job's report (its standard output).
func reportLines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// counter returns the first number after prefix on a report line that starts with it.
func counter(lines []string, prefix string) int64 {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			var n int64
			fmt.Sscanf(strings.TrimPrefix(l, prefix), "%d", &n)
			return n
		}
	}
	return 0
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(int(p*float64(len(sorted))), len(sorted)-1)]
}

func (r result) print(w *os.File) {
	rate := float64(r.read) / r.duration.Seconds()
	behind := float64(r.rate)*r.duration.Seconds() - float64(r.read)
	fmt.Fprintf(w, "%s, target %d events/s for %s: read %d = %.0f events/s sustained (%.0f%% of the target; the source was %.0f s behind at the end)\n",
		r.source, r.rate, r.duration, r.read, rate, 100*rate/float64(r.rate), max(behind, 0)/float64(r.rate))
	if settled, ok := jobSettled(r.report); ok {
		fmt.Fprintf(w, "settled (processed, filtered, duplicate or dead-lettered) by the end: %d = %.0f events/s (%.0f%% of what was read; the rest was still queued in the job)\n",
			settled, float64(settled)/r.duration.Seconds(), 100*float64(settled)/float64(max(r.read, 1)))
	}
	if len(r.delays) == 0 {
		fmt.Fprintln(w, "window end -> row final in the store: no window to measure")
	} else {
		fmt.Fprintf(w, "window end -> row final in the store: p50 %.2fs, p99 %.2fs, max %.2fs over %d rows of %d windows\n",
			percentile(r.delays, 0.5).Seconds(), percentile(r.delays, 0.99).Seconds(), r.delays[len(r.delays)-1].Seconds(), len(r.delays), r.windows)
	}
	if len(r.panes) > 0 {
		fmt.Fprintf(w, "every pane, step end -> row changed in the store: p50 %.2fs, p99 %.2fs, max %.2fs over %d changes\n",
			percentile(r.panes, 0.5).Seconds(), percentile(r.panes, 0.99).Seconds(), r.panes[len(r.panes)-1].Seconds(), len(r.panes))
	}
	if r.lag < 24*time.Hour {
		fmt.Fprintf(w, "recorded speed watermark: %.0fs behind the wall clock at the end (it moves a minute window at a time)\n", r.lag.Seconds())
	} else {
		fmt.Fprintln(w, "recorded speed watermark: none yet")
	}
	for _, l := range r.report {
		if strings.HasPrefix(l, "cpu ") || strings.HasPrefix(l, "read ") {
			fmt.Fprintln(w, "job:", l)
		}
	}
	b := r.base
	if b.records == 0 || r.read == 0 {
		return
	}
	refPer := b.cpu / time.Duration(b.records)
	fmt.Fprintf(w, "baseline (same run): the plain-Go reference computes the views of the run's archive, %d records, in %s (%.0f events/s on one core), %s CPU per event\n",
		b.records, b.wall.Round(time.Millisecond), float64(b.records)/b.wall.Seconds(), refPer)
	if cpu, ok := jobCPU(r.report); ok {
		jobPer := cpu / time.Duration(r.read)
		fmt.Fprintf(w, "ratio: the job uses %s CPU per event, %.1fx the reference's\n", jobPer, float64(jobPer)/float64(refPer))
	}
}

// jobSettled returns how many events the job's "read N, processed P, filtered F, duplicates D,
// dead-lettered X" report line says were settled: P+F+D+X.
func jobSettled(report []string) (int64, bool) {
	for _, l := range report {
		var read, processed, filtered, dups, dead int64
		if n, _ := fmt.Sscanf(l, "read %d, processed %d, filtered %d, duplicates %d, dead-lettered %d", &read, &processed, &filtered, &dups, &dead); n == 5 {
			return processed + filtered + dups + dead, true
		}
	}
	return 0, false
}

// jobCPU returns the CPU time on the job's "cpu D, peak RSS N MiB" report line.
func jobCPU(report []string) (time.Duration, bool) {
	for _, l := range report {
		if rest, ok := strings.CutPrefix(l, "cpu "); ok {
			d, err := time.ParseDuration(strings.TrimSuffix(strings.Fields(rest)[0], ","))
			return d, err == nil
		}
	}
	return 0, false
}
