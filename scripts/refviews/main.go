// Command refviews computes the views of a lake with the plain-Go reference (package
// io/views/reference), single-threaded, and prints the counts, the time it took and its peak
// RSS: the baseline that scripts/bench-batch.sh compares the batch job with. With --compare it
// also checks the store's published batch rows of the days against its own, row by row.
//
//	go run ./scripts/refviews --lake=DIR --from=2026-11-20 --to=2026-11-20 [--compare=sqlite://out/views.db]
package main

import (
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	lake := flag.String("lake", "", "lake directory (required)")
	from := flag.String("from", "", "first day, YYYY-MM-DD")
	to := flag.String("to", "", "last day, inclusive, YYYY-MM-DD")
	categories := flag.String("reference", "", "url_prefix,category CSV (optional)")
	lookahead := flag.Duration("lookahead", 6*time.Hour, "how far past --to sessions are followed, as the batch job's --lookahead")
	compareWith := flag.String("compare", "", "store URL: also check that its published batch rows of the days equal the reference's")
	flag.Parse()
	if err := run(*lake, *from, *to, *categories, *lookahead, *compareWith); err != nil {
		fmt.Fprintln(os.Stderr, "refviews:", err)
		os.Exit(1)
	}
}
