// Command genlake writes a synthetic data lake: raw/dt=YYYY-MM-DD/hr=HH/part-NNNNN.jsonl[.gz]
// files of events from package generator, partitioned by event time.
//
// Records are written in the order they arrive; each hour partition gets a few files, and late
// events (and duplicates) that arrive after their partition's hour go to later files of that
// partition, as an archiving job would write them. Part files that already exist are not
// overwritten.
//
// # Usage
//
//	go run ./scripts/genlake --out=testdata/lake --seed=1 --events=3500 --from=2026-11-20 --days=2
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"
)

func main() {
	var cfg config
	flag.StringVar(&cfg.out, "out", "", "lake directory to write (required)")
	flag.Uint64Var(&cfg.seed, "seed", 1, "generator seed")
	flag.IntVar(&cfg.events, "events", 3500, "number of records")
	from := flag.String("from", "2026-11-20", "first day (YYYY-MM-DD, UTC)")
	flag.IntVar(&cfg.days, "days", 2, "number of days the records span")
	flag.IntVar(&cfg.users, "users", 0, "distinct users (0: events/20, at least 50)")
	flag.Float64Var(&cfg.dup, "dup", 0.02, "fraction of duplicate records")
	flag.Float64Var(&cfg.late, "late", 0.05, "fraction of late events")
	flag.Float64Var(&cfg.bad, "bad", 0.02, "fraction of malformed records")
	flag.Float64Var(&cfg.bot, "bot", 0.03, "fraction of bot events")
	flag.Float64Var(&cfg.gzipFraction, "gzip_fraction", 0.5, "fraction of files written gzipped")
	flag.IntVar(&cfg.filesPerHour, "files_per_hour", 3, "files per hour partition, not counting late ones")
	flag.Parse()

	start, err := time.Parse(time.DateOnly, *from)
	if err != nil {
		fail(fmt.Errorf("bad --from: %w", err))
	}
	cfg.from = start
	if err := cfg.validate(); err != nil {
		fail(err)
	}
	began := time.Now()
	stats, err := write(cfg)
	if err != nil {
		fail(err)
	}
	slog.Info("wrote lake", "out", cfg.out, "records", stats.records, "files", stats.files, "late_files", stats.lateFiles,
		"elapsed", time.Since(began).Round(time.Millisecond))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "genlake:", err)
	os.Exit(2)
}
