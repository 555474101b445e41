package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	_ "github.com/beamline/beamline/io/store/sqlitestore"
	"github.com/beamline/beamline/io/views/reference"
)

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
