package archive

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/beamline/beamline/io/event"
	"github.com/beamline/beamline/io/lake"
)

func init() {
	register.DoFn2x0[event.Raw, func(beam.EventTime, event.Raw)](&stampFn{})
	register.Emitter2[beam.EventTime, event.Raw]()
}

// hourOf matches the partition of a lake file.
var hourOf = regexp.MustCompile(`/raw/dt=(\d{4}-\d{2}-\d{2})/hr=(\d{2})/[^/]+$`)

// Tail lists the archive files under dir of the hour partitions that may hold records at or
// after from: the hour of from and every later one (up to the day after now, or after from if
// that is later). A missing or empty archive has no tail.
func Tail(ctx context.Context, dir string, from, now time.Time) ([]string, error) {
	first := from.UTC().Truncate(time.Hour)
	last := now
	if from.After(now) {
		last = from
	}
	last = day(last).AddDate(0, 0, 1)
	parts, err := lake.List(ctx, dir, day(first), last)
	if err != nil {
		if errors.Is(err, lake.ErrNoLake) {
			return nil, nil
		}
		return nil, fmt.Errorf("archive tail %s: %w", dir, err)
	}
	var out []string
	for _, p := range parts {
		for _, f := range p.Files {
			if h, ok := HourOf(f); ok && !h.Before(first) {
				out = append(out, f)
			}
		}
	}
	return out, nil
}

func day(t time.Time) time.Time { return t.UTC().Truncate(24 * time.Hour) }

// HourOf returns the hour partition of an archive file's path.
func HourOf(path string) (time.Time, bool) {
	m := hourOf.FindStringSubmatch(path)
	if m == nil {
		return time.Time{}, false
	}
	t, err := time.Parse("2006-01-02T15", m[1]+"T"+m[2])
	return t, err == nil
}

// Replay reads files (from Tail) back and returns a bounded PCollection<event.Raw>, each record
// timestamped with its event time; a record without one (garbage) is stamped with from. The
// records' sources are "path:line" relative to dir, as the batch job's; records over
// maxRecordBytes are cut as lake.Read cuts them.
func Replay(s beam.Scope, dir string, files []string, from time.Time, maxRecordBytes int) beam.PCollection {
	s = s.Scope("archive.Replay")
	raws, _ := lake.Read(s, dir, files, lake.ReadOptions{MaxRecordBytes: maxRecordBytes})
	return beam.ParDo(s, &stampFn{FromMs: from.UnixMilli()}, raws)
}

// stampFn timestamps a record with its event time.
type stampFn struct {
	FromMs int64
}

func (f *stampFn) ProcessElement(raw event.Raw, emit func(beam.EventTime, event.Raw)) {
	e, err := event.Parse(raw.Bytes)
	if err != nil {
		emit(mtime.FromMilliseconds(f.FromMs), raw)
		return
	}
	emit(mtime.FromTime(e.Time), raw)
}
