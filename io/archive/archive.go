// Package archive is the raw archive of the streaming job: every record the job reads, written
// to the data lake exactly as the batch job reads it back (package lake), and acknowledged to
// its source only once the file holding it is durable.
//
// # Layout
//
// Records are partitioned by event time (their element timestamp) into
// <dir>/raw/dt=YYYY-MM-DD/hr=HH/<unique>.jsonl.gz, one gzip file per hour partition and bundle,
// one record per line. A file is written under a temporary name and renamed when complete
// (where the filesystem renames; object stores publish an object only when it is closed), and
// local files are synced before they are closed, so a file that the lake lists is complete.
//
// # Acknowledgement
//
// The writer acknowledges the messages of a bundle (their AckIDs, with the source's Acker
// opened by URL) after every file of the bundle is closed: a message is acknowledged only
// once it is durable (DESIGN.md "Nothing lost"). A crash before that leaves the messages
// unacknowledged, and the queue delivers them again; a crash between the close and the
// acknowledgement archives them twice, which dedupe absorbs. The archive is therefore
// at-least-once: every message read is in it, a few perhaps twice.
//
// # What flows on
//
// Write returns the records it archived, once they are durable, each named as a read of the
// archive names it ("path:line", relative to the archive's root, as lake.Read and Replay do).
// So the rest of the job sees only records that are in the archive, and a record read from the
// queue and the same record replayed from the archive after a restart carry the same source:
// that is how the dead letters of a replay are told from those already written
// (deadletter.Unwritten).
//
// Metrics (namespace "beamline"): "archived" counts records written, "archive_files" files,
// "acked" messages acknowledged.
package archive

import (
	"bufio"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local" // local paths always work
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/google/uuid"

	"github.com/beamline/beamline/io/event"
	"github.com/beamline/beamline/io/lake"
	"github.com/beamline/beamline/io/source"
)

func init() {
	register.DoFn4x1[context.Context, beam.EventTime, source.Message, func(beam.EventTime, event.Raw), error](&writeFn{})
}

// Write archives msgs (PCollection<source.Message>, timestamped with event time) under dir and
// acknowledges them to the source at sourceURL once durable. It returns the archived records
// (PCollection<event.Raw>, each at its message's timestamp, with its archive source; see the
// package doc), emitted when the bundle's files are closed and its messages acknowledged.
func Write(s beam.Scope, dir, sourceURL string, msgs beam.PCollection) beam.PCollection {
	s = s.Scope("archive.Write")
	filesystem.ValidateScheme(dir)
	return beam.ParDo(s, &writeFn{Dir: dir, Source: sourceURL}, msgs)
}

// FileName returns the name of a new archive file of the hour that t falls in.
func FileName(dir string, t time.Time) string {
	t = t.UTC()
	return fmt.Sprintf("%s/%s-%s.jsonl.gz", lake.HourDir(dir, t), t.Truncate(time.Hour).Format("20060102T15"), uuid.NewString())
}

// writeFn writes the records of a bundle into one file per hour partition, closes them in
// FinishBundle, then acknowledges the bundle's messages.
type writeFn struct {
	Dir    string
	Source string

	fs     filesystem.Interface
	acker  source.Acker
	files  map[int64]*file // by hour, Unix seconds
	ackIDs []string
	out    []archived

	archived, filesWritten, acked beam.Counter
}

func (f *writeFn) Setup(ctx context.Context) error {
	fs, err := filesystem.New(ctx, f.Dir)
	if err != nil {
		return fmt.Errorf("archive %s: %w", f.Dir, err)
	}
	acker, err := source.OpenAcker(ctx, f.Source)
	if err != nil {
		fs.Close()
		return fmt.Errorf("archive %s: %w", f.Dir, err)
	}
	f.fs, f.acker = fs, acker
	f.archived = beam.NewCounter("beamline", "archived")
	f.filesWritten = beam.NewCounter("beamline", "archive_files")
	f.acked = beam.NewCounter("beamline", "acked")
	return nil
}

// archived is a record written in this bundle, emitted when the bundle is durable.
type archived struct {
	at  beam.EventTime
	raw event.Raw
}

func (f *writeFn) StartBundle(context.Context, func(beam.EventTime, event.Raw)) {
	f.files, f.ackIDs, f.out = map[int64]*file{}, f.ackIDs[:0], f.out[:0]
}

func (f *writeFn) ProcessElement(ctx context.Context, et beam.EventTime, m source.Message, _ func(beam.EventTime, event.Raw)) error {
	t := et.ToTime().UTC()
	hour := t.Truncate(time.Hour).Unix()
	w, ok := f.files[hour]
	if !ok {
		var err error
		if w, err = create(ctx, f.fs, f.Dir, FileName(f.Dir, t)); err != nil {
			return err
		}
		f.files[hour] = w
	}
	if err := w.writeLine(m.Data); err != nil {
		return err
	}
	if m.AckID != "" {
		f.ackIDs = append(f.ackIDs, m.AckID)
	}
	f.archived.Inc(ctx, 1)
	f.out = append(f.out, archived{at: et, raw: event.Raw{Bytes: m.Data, Source: w.rel + ":" + strconv.Itoa(w.lines)}})
	return nil
}

func (f *writeFn) FinishBundle(ctx context.Context, emit func(beam.EventTime, event.Raw)) error {
	files := f.files
	f.files = nil
	var firstErr error
	for _, w := range files {
		if err := w.close(ctx, f.fs); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	if firstErr != nil {
		return firstErr // nothing is acknowledged: the queue delivers the bundle again
	}
	f.filesWritten.Inc(ctx, int64(len(files)))
	if len(f.ackIDs) > 0 {
		if err := f.acker.Ack(ctx, f.ackIDs); err != nil {
			return fmt.Errorf("archive %s: acknowledge %d messages: %w", f.Dir, len(f.ackIDs), err)
		}
		f.acked.Inc(ctx, int64(len(f.ackIDs)))
	}
	for i, a := range f.out {
		emit(a.at, a.raw)
		f.out[i] = archived{} // the bundle's records are not held until the next one
	}
	return nil
}

func (f *writeFn) Teardown() error {
	var err error
	if f.acker != nil {
		err = f.acker.Close()
	}
	if f.fs != nil {
		if cerr := f.fs.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// file is one archive file being written.
type file struct {
	path  string // final name
	rel   string // final name relative to the archive's root
	lines int    // lines written
	temp  string // name while written
	w     io.WriteCloser
	gz    *gzip.Writer
	buf   *bufio.Writer
}

func create(ctx context.Context, fs filesystem.Interface, root, path string) (*file, error) {
	temp := path
	if _, ok := fs.(filesystem.Renamer); ok {
		temp = path + ".tmp"
	}
	w, err := fs.OpenWrite(ctx, temp)
	if err != nil {
		return nil, fmt.Errorf("archive %s: %w", path, err)
	}
	gz := gzip.NewWriter(w)
	return &file{path: path, rel: lake.Relative(root, path), temp: temp, w: w, gz: gz, buf: bufio.NewWriterSize(gz, 64<<10)}, nil
}

func (w *file) writeLine(b []byte) error {
	if _, err := w.buf.Write(b); err != nil {
		return fmt.Errorf("archive %s: %w", w.path, err)
	}
	if err := w.buf.WriteByte('\n'); err != nil {
		return fmt.Errorf("archive %s: %w", w.path, err)
	}
	w.lines++
	return nil
}

// close flushes, syncs (local files) and closes the file, then gives it its final name.
func (w *file) close(ctx context.Context, fs filesystem.Interface) error {
	err := w.buf.Flush()
	if err == nil {
		err = w.gz.Close()
	}
	if s, ok := w.w.(interface{ Sync() error }); ok && err == nil {
		err = s.Sync()
	}
	if cerr := w.w.Close(); err == nil {
		err = cerr
	}
	if err == nil && w.temp != w.path {
		err = fs.(filesystem.Renamer).Rename(ctx, w.temp, w.path)
	}
	if err != nil {
		return fmt.Errorf("archive %s: %w", w.path, err)
	}
	return nil
}
