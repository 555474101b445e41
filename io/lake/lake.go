// Package lake reads the raw data lake: JSON-lines files under
// <root>/raw/dt=YYYY-MM-DD/hr=HH/*.jsonl[.gz], partitioned by event time, on any filesystem that
// Beam's filesystem API knows (local paths, gs://, s3://; the binary imports the drivers).
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

// Partition is the files of one day.
type Partition struct {
	Day   time.Time
	Files []string
}

// List returns the files of the days from..to (inclusive, midnight UTC), in path order. It fails
// when the root has no partitions at all (a wrong --lake); a day without files is returned
// with no files, for the caller to report.
func List(ctx context.Context, root string, from, to time.Time) ([]Partition, error) {
	fs, err := filesystem.New(ctx, root)
	if err != nil {
		return nil, fmt.Errorf("list lake %s: %w", root, err)
	}
	defer fs.Close()
	found, err := fs.List(ctx, join(root, "raw", "dt=*"))
	if err != nil {
		return nil, fmt.Errorf("list lake %s: %w", root, err)
	}
	if len(found) == 0 {
		found, err = fs.List(ctx, join(root, "raw", "dt=*", "hr=*", "*"))
		if err != nil {
			return nil, fmt.Errorf("list lake %s: %w", root, err)
		}
	}
	if len(found) == 0 {
		return nil, fmt.Errorf("list lake %s: %w", root, ErrNoLake)
	}
	var parts []Partition
	for day := from.UTC(); !day.After(to); day = day.AddDate(0, 0, 1) {
		p := Partition{Day: day}
		for _, ext := range []string{"*.jsonl", "*.jsonl.gz"} {
			files, err := fs.List(ctx, join(DayDir(root, day), "hr=*", ext))
			if err != nil {
				return nil, fmt.Errorf("list lake %s day %s: %w", root, day.Format(time.DateOnly), err)
			}
			p.Files = append(p.Files, files...)
		}
		sort.Strings(p.Files)
		parts = append(parts, p)
	}
	return parts, nil
}

// relative returns path relative to root, for record sources.
func relative(root, path string) string {
	root = strings.TrimSuffix(root, "/") + "/"
	return strings.TrimPrefix(path, root)
}
