// Package lake reads the raw data lake: JSON-lines files under
// <root>/raw/dt=YYYY-MM-DD/hr=HH/*.jsonl[.gz], partitioned by event time, on any filesystem that
// Beam's filesystem API knows (local paths, gs://, s3://; the binary imports the drivers).
//
// Compaction (package archive) rewrites the small files of an hour into a few large ones; List
// returns either the small files or the compacted file that replaces them, never both (see
// Resolve).
//
// Every line of every file becomes one event.Raw record with its source "path:line" (path
// relative to the root), so a dead letter says exactly where it came from. The empty segment
// after a final newline is not a record; a trailing '\r' is stripped.
package lake

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local" // local paths always work
)

// ErrNoLake is returned when the root holds no partitions at all.
var ErrNoLake = errors.New("no raw/dt=YYYY-MM-DD partitions")

// DayDir returns the partition directory of day under root.
func DayDir(root string, day time.Time) string {
	return join(root, "raw", "dt="+day.UTC().Format(time.DateOnly))
}

// HourDir returns the partition directory of the hour that t falls in.
func HourDir(root string, t time.Time) string {
	t = t.UTC()
	return join(DayDir(root, t), fmt.Sprintf("hr=%02d", t.Hour()))
}

func join(parts ...string) string {
	out := strings.TrimSuffix(parts[0], "/")
	for _, p := range parts[1:] {
		out += "/" + p
	}
	return out
}

// PartitionOf returns the day of the partition that a record's source ("raw/dt=YYYY-MM-DD/
// hr=HH/<file>:<line>", as Read names it) or a file's path lies in, and false when it names
// none.
func PartitionOf(source string) (time.Time, bool) {
	const seg = "raw/dt="
	i := strings.LastIndex(source, seg)
	if i < 0 || len(source) < i+len(seg)+len(time.DateOnly) || (i > 0 && source[i-1] != '/') {
		return time.Time{}, false
	}
	day, err := time.Parse(time.DateOnly, source[i+len(seg):i+len(seg)+len(time.DateOnly)])
	if err != nil {
		return time.Time{}, false
	}
	return day, true
}

// Partition is the files of one day.
type Partition struct {
	Day   time.Time
	Files []string
}

// List returns the files of the days from..to (inclusive, midnight UTC), in path order. It fails
// when the root has no partitions at all (a wrong --lake); a day without files is returned
// with no files, for the caller to report.
//
// Globs are matched as Beam's filesystems match them: on every one of them (local, s3://, gs://)
// '*' stays within one path segment. Object stores have no directory objects, so a glob that
// names a partition directory (raw/dt=*) finds nothing there; and each glob is answered by
// listing every object under its literal prefix. List therefore lists only the prefixes of the
// requested days, and looks at the whole lake only when none of them has a file.
func List(ctx context.Context, root string, from, to time.Time) ([]Partition, error) {
	fs, err := filesystem.New(ctx, root)
	if err != nil {
		return nil, fmt.Errorf("list lake %s: %w", root, err)
	}
	defer fs.Close()
	var (
		parts []Partition
		files int
	)
	for day := from.UTC(); !day.After(to); day = day.AddDate(0, 0, 1) {
		p, err := listDay(ctx, fs, root, day)
		if err != nil {
			return nil, err
		}
		parts, files = append(parts, p), files+len(p.Files)
	}
	if files == 0 {
		if err := checkLake(ctx, fs, root); err != nil {
			return nil, err
		}
	}
	return parts, nil
}

// listDay returns the lake files of day, sorted, without the files that a compacted file
// replaces (see Resolve).
func listDay(ctx context.Context, fs filesystem.Interface, root string, day time.Time) (Partition, error) {
	p := Partition{Day: day}
	for _, ext := range []string{"*.jsonl", "*.jsonl.gz"} {
		files, err := fs.List(ctx, join(DayDir(root, day), "hr=*", ext))
		if err != nil {
			return p, fmt.Errorf("list lake %s day %s: %w", root, day.Format(time.DateOnly), err)
		}
		p.Files = append(p.Files, files...)
	}
	sort.Strings(p.Files)
	files, err := Resolve(ctx, fs, p.Files)
	if err != nil {
		return p, fmt.Errorf("list lake %s day %s: %w", root, day.Format(time.DateOnly), err)
	}
	p.Files = files
	return p, nil
}

// Days returns the days that root has partitions for, sorted; none (and no error) for a root
// with no partitions. Local filesystems list the day directories; object stores, which have no
// directories, list every file of the lake, so use it only where that is affordable (a warm
// restart of the streaming job that finds no speed watermark).
func Days(ctx context.Context, root string) ([]time.Time, error) {
	fs, err := filesystem.New(ctx, root)
	if err != nil {
		return nil, fmt.Errorf("list lake %s: %w", root, err)
	}
	defer fs.Close()
	seen := map[time.Time]bool{}
	for _, glob := range []string{join(root, "raw", "dt=*"), join(root, "raw", "dt=*", "hr=*", "*")} {
		found, err := fs.List(ctx, glob)
		if err != nil {
			return nil, fmt.Errorf("list lake %s: %w", root, err)
		}
		for _, f := range found {
			if day, ok := PartitionOf(f); ok {
				seen[day] = true
			}
		}
		if len(seen) > 0 {
			break
		}
	}
	days := make([]time.Time, 0, len(seen))
	for d := range seen {
		days = append(days, d)
	}
	sort.Slice(days, func(i, j int) bool { return days[i].Before(days[j]) })
	return days, nil
}

// checkLake returns ErrNoLake unless root holds a partition: a day directory (local
// filesystems) or a file in an hour partition (object stores, which have no directories).
func checkLake(ctx context.Context, fs filesystem.Interface, root string) error {
	for _, glob := range []string{join(root, "raw", "dt=*"), join(root, "raw", "dt=*", "hr=*", "*")} {
		found, err := fs.List(ctx, glob)
		if err != nil {
			return fmt.Errorf("list lake %s: %w", root, err)
		}
		if len(found) > 0 {
			return nil
		}
	}
	return fmt.Errorf("list lake %s: %w", root, ErrNoLake)
}

// Relative returns path relative to the lake's root: what the sources of its records name
// ("relative path:line").
func Relative(root, path string) string {
	root = strings.TrimSuffix(root, "/") + "/"
	return strings.TrimPrefix(path, root)
}
