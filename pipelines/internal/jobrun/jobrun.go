// Package jobrun holds what the job mains share around a run: the CPU and heap profiles
// (--cpuprofile, --memprofile), the process's CPU time and peak memory for their reports, and
// list flags.
package jobrun

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"
)

// StartProfile writes a CPU profile to path until stop is called; an empty path profiles
// nothing.
func StartProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// StartHeapProfile writes a heap profile (live objects, after a garbage collection) to path at
// once and then every period until stop is called; an empty path profiles nothing. The file
// always holds a complete profile: each one is written beside it and renamed over it. The
// last one is of the running job (a profile written after the job ended would show little).
func StartHeapProfile(path string, period time.Duration) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	write := func() error {
		tmp := path + ".tmp"
		f, err := os.Create(tmp)
		if err != nil {
			return fmt.Errorf("--memprofile: %w", err)
		}
		runtime.GC()
		err = pprof.Lookup("heap").WriteTo(f, 0)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("--memprofile: %w", err)
		}
		return os.Rename(tmp, path)
	}
	if err := write(); err != nil {
		return nil, err
	}
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = write() // the next tick tries again; the last good profile stays
			}
		}
	}()
	return func() { close(done); <-finished }, nil
}

// Usage returns the CPU time (user + system) of this process so far and its peak resident set
// in bytes, Prism included when it runs embedded; zeros where the system does not say. On a
// shared machine CPU time compares runs better than wall time.
func Usage() (cpu time.Duration, peakRSS int64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), ru.Maxrss << 10 // Linux reports KiB
}

// List splits a comma-separated flag value, dropping spaces and empty items.
func List(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Counts formats counts sorted by name, each with format (a %s for the name and a %d for the
// count), joined by sep: the jobs' reports print their counters so.
func Counts(counts map[string]int64, format, sep string) string {
	names := make([]string, 0, len(counts))
	for n := range counts {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf(format, n, counts[n])
	}
	return strings.Join(parts, sep)
}

// JobOptions sets Beam's global job options for one run: --job_name to name when the flag is
// empty, and each of experiments added to --experiments unless it is there. The runners read
// these globals when they submit; restore puts back what the flags held, so that nothing a run
// chose leaks into a later run in the same process (the tests run many). It returns the job's
// name.
func JobOptions(name string, experiments ...string) (job string, restore func()) {
	oldName, oldExp := *jobopts.JobName, *jobopts.Experiments
	if *jobopts.JobName == "" {
		*jobopts.JobName = name
	}
	have := jobopts.GetExperiments()
	for _, e := range experiments {
		if !slices.Contains(have, e) {
			have = append(have, e)
		}
	}
	*jobopts.Experiments = strings.Join(have, ",")
	return *jobopts.JobName, func() { *jobopts.JobName, *jobopts.Experiments = oldName, oldExp }
}

// Counters returns the job's counters of namespace "beamline", summed by name over steps.
func Counters(res beam.PipelineResult) map[string]int64 {
	out := map[string]int64{}
	for _, c := range res.Metrics().AllMetrics().Counters() {
		if c.Namespace() == "beamline" {
			out[c.Name()] += c.Result()
		}
	}
	return out
}

// TuneGC sets the garbage collector's target heap growth to percent and a soft memory limit of
// limit bytes, each unless the environment sets it (GOGC, GOMEMLIMIT). The batch job spills
// its shuffles and holds little live memory, so a higher target trades some of it for CPU;
// the limit makes the collector work harder rather than let the heap grow past it.
func TuneGC(percent int, limit int64) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(percent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(limit)
	}
}
