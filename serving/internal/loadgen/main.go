// Command loadgen fills a view store with synthetic data and drives the serving API over HTTP, for
// scripts/bench-serving.sh.
//
// # Usage
//
//	loadgen fill --store=sqlite://out/views.db --day=2026-11-20 [--days=1] [--keys=50] [--sparse_keys=0] [--speed_hours=2]
//	loadgen run --base=http://127.0.0.1:18080 --day=2026-11-20 [--query=hour] [--keys=50] [--requests=50000] [--concurrency=32]
//
// fill writes one batch run with full days of rows for every view, --days of them ending with
// --day, and publishes it (so the batch cutoff is the end of --day), then speed rows for the
// first --speed_hours of the next day. --sparse_keys adds that many more page_views keys on
// --day, each with a row in 10 of its minutes (a day of many keys, for top queries).
//
// run sends a fixed number of GET requests with bounded concurrency, rotating over --keys keys:
//
//	hour     page_views rows of one key for the hour that spans the cutoff, [cutoff-30m,
//	         cutoff+30m), so every answer merges both layers
//	day1h    one key for the day before the cutoff plus the first speed hour, at granularity 1h
//	week1d   one key for the 7 days before the cutoff, at granularity 1d (needs --days=7)
//	top      the top 10 page_views keys by views over --day
//
// It prints requests, errors, req/s and latency percentiles.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	_ "github.com/beamline/beamline/io/store/sqlitestore"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: loadgen fill|run [flags]; loadgen fill -help, loadgen run -help")
		os.Exit(2)
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "fill":
		err = fill(args)
	case "run":
		err = runLoad(args)
	default:
		err = fmt.Errorf("unknown command %q: want fill or run", cmd)
	}
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}
