package main

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/beamline/beamline/io/views/reference"
)

// run computes the views of the days from..to, reading the lake's partitions from three days
// before to three days after them: the context a batch run reads (see package scope).
func run(lake, from, to, categories string, lookahead time.Duration, compareWith string) error {
	if lake == "" {
		return fmt.Errorf("--lake is required")
	}
	f, err := time.Parse(time.DateOnly, from)
	if err != nil {
		return fmt.Errorf("--from: %w", err)
	}
	t, err := time.Parse(time.DateOnly, to)
	if err != nil {
		return fmt.Errorf("--to: %w", err)
	}
	start := time.Now()
	cats := map[string]string{}
	if categories != "" {
		if cats, err = reference.ReadCategories(categories); err != nil {
			return err
		}
	}
	recs, err := reference.ReadLake(lake, f.AddDate(0, 0, -3), t.AddDate(0, 0, 3))
	if err != nil {
		return err
	}
	res := reference.Compute(reference.Config{From: f, To: t, Lookahead: lookahead, Categories: cats, BotPatterns: reference.DefaultBotPatterns}, recs)
	elapsed := time.Since(start)
	c := res.Counts
	fmt.Printf("read %d, processed %d, filtered %d, duplicates %d, dead-lettered %d\n", c.Read, c.Processed, total(c.Filtered), c.Duplicates, total(c.DeadLettered))
	views := map[string]int{}
	for _, r := range res.Rows {
		views[r.View]++
	}
	var parts []string
	for v, n := range views {
		parts = append(parts, fmt.Sprintf("%s=%d", v, n))
	}
	fmt.Printf("rows %s\n", strings.Join(parts, " "))
	fmt.Printf("context %d\n", c.Context)
	fmt.Printf("reference: %d records in %s (%.0f events/s)\n", c.Read, elapsed.Round(time.Millisecond), float64(c.Read)/elapsed.Seconds())
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		fmt.Printf("peak RSS %d MiB, CPU %.1f s\n", ru.Maxrss>>10, cpu.Seconds())
	}
	if compareWith != "" {
		return compare(context.Background(), compareWith, f, t, res.Rows)
	}
	return nil
}

func total(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}
