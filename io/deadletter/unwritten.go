package deadletter

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/beamline/beamline/io/archive"
	"github.com/beamline/beamline/io/event"
)

func init() {
	register.DoFn3x0[context.Context, event.DeadLetter, func(event.DeadLetter)](&unwrittenFn{})
	register.Emitter1[event.DeadLetter]()
}

// Unwritten drops from dls (PCollection<event.DeadLetter>) those that earlier runs already wrote
// under dir: the dead letters of records of the archive's hours from from on (sources
// "raw/dt=.../hr=.../FILE:LINE", as the streaming job names every record it reads; see package
// archive) that a directory of dir other than run's holds with the same source. A warm restart
// replays the archive's tail, whose bad records the stopped run had mostly dead-lettered
// already: with Unwritten each is written once, and a replayed one counts as a duplicate (the
// counter "duplicates" goes up and "deadlettered_<reason>", which parsing counted, down), so
// the run's conservation line still balances.
//
// Each worker reads the earlier runs' dead-letter files when it sets the transform up, and
// keeps the sources of those in the hours replayed.
func Unwritten(s beam.Scope, dir, run string, from time.Time, dls beam.PCollection) beam.PCollection {
	s = s.Scope("deadletter.Unwritten")
	filesystem.ValidateScheme(dir)
	return beam.ParDo(s, &unwrittenFn{Dir: dir, Run: run, FromMs: from.UnixMilli()}, dls)
}

type unwrittenFn struct {
	Dir, Run string
	FromMs   int64

	written    map[string]bool
	duplicates beam.Counter
	dead       map[string]beam.Counter
}

func (f *unwrittenFn) Setup(ctx context.Context) error {
	written, err := Written(ctx, f.Dir, f.Run, time.UnixMilli(f.FromMs))
	if err != nil {
		return err
	}
	f.written = written
	f.duplicates = beam.NewCounter("beamline", "duplicates")
	f.dead = map[string]beam.Counter{}
	return nil
}

func (f *unwrittenFn) ProcessElement(ctx context.Context, dl event.DeadLetter, emit func(event.DeadLetter)) {
	if !f.written[dl.Source] {
		emit(dl)
		return
	}
	c, ok := f.dead[dl.Reason]
	if !ok {
		c = beam.NewCounter("beamline", "deadlettered_"+dl.Reason)
		f.dead[dl.Reason] = c
	}
	c.Dec(ctx, 1)
	f.duplicates.Inc(ctx, 1)
}

// Written returns the sources of the dead letters under dir, in every directory but run's, of
// records of the archive's hours from from on (see Unwritten).
func Written(ctx context.Context, dir, run string, from time.Time) (map[string]bool, error) {
	fs, err := filesystem.New(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("deadletter %s: %w", dir, err)
	}
	defer fs.Close()
	files, err := fs.List(ctx, trimSlash(dir)+"/*/part-*.jsonl")
	if err != nil {
		return nil, fmt.Errorf("deadletter %s: list: %w", dir, err)
	}
	first := from.UTC().Truncate(time.Hour)
	written := map[string]bool{}
	for _, file := range files {
		if path.Base(path.Dir(file)) == run {
			continue
		}
		if err := readSources(ctx, fs, file, func(source string) {
			if file, _, ok := strings.Cut(source, ":"); ok {
				if h, ok := archive.HourOf("/" + file); ok && !h.Before(first) {
					written[source] = true
				}
			}
		}); err != nil {
			return nil, err
		}
	}
	return written, nil
}

// readSources calls fn with the source of each dead letter of file.
func readSources(ctx context.Context, fs filesystem.Interface, file string, fn func(string)) error {
	rc, err := fs.OpenRead(ctx, file)
	if err != nil {
		return fmt.Errorf("deadletter %s: %w", file, err)
	}
	defer rc.Close()
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 64<<10), 4*event.DefaultMaxRecordBytes)
	for sc.Scan() {
		var line struct {
			Source string `json:"source"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			return fmt.Errorf("deadletter %s: %w", file, err)
		}
		fn(line.Source)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("deadletter %s: %w", file, err)
	}
	return nil
}
