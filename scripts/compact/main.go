// Command compact rewrites the many small files of the streaming job's raw archive into a few
// large ones, hour by hour, once an hour can no longer receive records, and deletes the small
// files a grace period later (see archive.Compact for how readers never see both or neither).
// It prints, for each hour, the files a reader sees before and after.
//
//	go run ./scripts/compact --archive=/var/lib/beamline/lake [--from=2026-11-20 --to=2026-11-21]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/gcs" // gs:// archives
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/s3"  // s3:// archives

	"github.com/beamline/beamline/io/archive"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "compact:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("compact", flag.ContinueOnError)
	dir := fs.String("archive", "", "the archive's root (the streaming job's --archive; local path, gs:// or s3://) (required)")
	fromFlag := fs.String("from", "", "first day to compact, YYYY-MM-DD (default: 7 days before today)")
	toFlag := fs.String("to", "", "last day to compact, YYYY-MM-DD (default: today)")
	closed := fs.Duration("closed_after", archive.DefaultCompactClosed, "compact an hour once its end plus this has passed (allowed lateness and a margin)")
	grace := fs.Duration("grace", archive.DefaultCompactGrace, "delete the replaced small files this long after their compacted file was written (readers that listed them may still read them)")
	target := fs.Int64("target_bytes", archive.DefaultCompactTarget, "input bytes of one compacted file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	now := time.Now().UTC()
	from, to := now.AddDate(0, 0, -7).Truncate(24*time.Hour), now.Truncate(24*time.Hour)
	var err error
	if *fromFlag != "" {
		if from, err = time.Parse(time.DateOnly, *fromFlag); err != nil {
			return fmt.Errorf("--from=%q: want YYYY-MM-DD", *fromFlag)
		}
	}
	if *toFlag != "" {
		if to, err = time.Parse(time.DateOnly, *toFlag); err != nil {
			return fmt.Errorf("--to=%q: want YYYY-MM-DD", *toFlag)
		}
	}
	switch {
	case *dir == "":
		return fmt.Errorf("--archive is required")
	case to.Before(from):
		return fmt.Errorf("--to=%s is before --from=%s", to.Format(time.DateOnly), from.Format(time.DateOnly))
	case *closed < 0 || *grace < 0 || *target <= 0:
		return fmt.Errorf("--closed_after and --grace must not be negative, --target_bytes must be positive")
	}
	grace0 := *grace
	if grace0 == 0 {
		grace0 = -1 // delete at once
	}
	reps, err := archive.Compact(ctx, *dir, from, to, archive.CompactOptions{Closed: *closed, Grace: grace0, TargetBytes: *target})
	var before, after, records int64
	for _, r := range reps {
		fmt.Fprintf(out, "%s  files %4d -> %4d  compacted %4d into %d (%d records)  deleted %d", r.Hour.Format("2006-01-02T15"),
			r.FilesBefore, r.FilesAfter, r.Compacted, r.Written, r.Records, r.Deleted)
		if len(r.Skipped) > 0 {
			fmt.Fprintf(out, "  skipped unreadable %v", r.Skipped)
		}
		fmt.Fprintln(out)
		before, after, records = before+int64(r.FilesBefore), after+int64(r.FilesAfter), records+r.Records
	}
	fmt.Fprintf(out, "%d hours: files %d -> %d, %d records compacted\n", len(reps), before, after, records)
	return err
}
