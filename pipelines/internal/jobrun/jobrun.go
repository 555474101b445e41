// Package jobrun holds what the job mains share around a run: the CPU profile (--cpuprofile),
// the process's CPU time and peak memory for their reports, and list flags.
package jobrun

import (
	"fmt"
	"os"
	"runtime/pprof"
	"sort"
	"strings"
	"syscall"
	"time"
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
