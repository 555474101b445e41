package lake

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/beamline/beamline/io/event"
)

func init() {
	register.DoFn4x1[context.Context, string, func(event.Raw), func(event.DeadLetter), error](&readFn{})
	register.Emitter1[event.Raw]()
	register.Emitter1[event.DeadLetter]()
}

// ReadOptions configure Read. The zero value reads records of up to
// event.DefaultMaxRecordBytes and fails on a corrupt file.
type ReadOptions struct {
	// MaxRecordBytes cuts longer lines (see Lines); 0 means event.DefaultMaxRecordBytes.
	MaxRecordBytes int
	// Quarantine skips a corrupt file (a gzip file that is truncated, not gzip or fails its
	// checksum) instead of failing: the file is decompressed once to check it before any of its
	// records is read, and it becomes one "corrupt_file" dead letter that names it.
	Quarantine bool
	// OwnedFirst and OwnedLast are the partition days whose files the run owns: their bytes
	// are counted ("lake_bytes"), and a corrupt one is counted as a record read and dead-lettered
	// ("corrupt_files", "corrupt_bytes"); a corrupt file of another day is context. Zero values
	// own every file.
	OwnedFirst, OwnedLast time.Time
}

// Read reads files (paths under root, as List returns them) and returns a
// PCollection<event.Raw>, one record per line, and the dead letters of the corrupt files it
// quarantined (PCollection<event.DeadLetter>). Files are spread over workers. A corrupt file
// fails the pipeline with an error that contains "corrupt lake file <path>: <reason>" unless
// opts.Quarantine.
//
// Metrics (namespace "beamline"): "lake_bytes" (owned files' sizes), "lake_files_read", and for
// quarantined files
// "corrupt_files", "corrupt_bytes", "read", "deadlettered_corrupt_file" and "context".
func Read(s beam.Scope, root string, files []string, opts ReadOptions) (raws, corrupt beam.PCollection) {
	s = s.Scope("lake.Read")
	if len(files) == 0 {
		panic("lake.Read: no files to read")
	}
	paths := beam.Reshuffle(s, beam.CreateList(s, files))
	return beam.ParDo2(s, &readFn{Root: root, TotalFiles: len(files), Options: opts}, paths)
}

// readFn reads one file and logs the progress of the whole read.
type readFn struct {
	Root       string
	TotalFiles int
	Options    ReadOptions

	fs                                                       filesystem.Interface
	bytes, files, corruptBytes, read, dead, other, filesRead beam.Counter
}

func (f *readFn) Setup(ctx context.Context) error {
	fs, err := filesystem.New(ctx, f.Root)
	if err != nil {
		return fmt.Errorf("lake read %s: %w", f.Root, err)
	}
	f.fs = fs
	f.bytes = beam.NewCounter("beamline", "lake_bytes")
	f.files = beam.NewCounter("beamline", "corrupt_files")
	f.corruptBytes = beam.NewCounter("beamline", "corrupt_bytes")
	f.read = beam.NewCounter("beamline", "read")
	f.dead = beam.NewCounter("beamline", "deadlettered_"+string(event.CorruptFile))
	f.other = beam.NewCounter("beamline", "context")
	f.filesRead = beam.NewCounter("beamline", "lake_files_read")
	return nil
}

func (f *readFn) Teardown() error {
	if f.fs == nil {
		return nil
	}
	return f.fs.Close()
}

func (f *readFn) ProcessElement(ctx context.Context, path string, emit func(event.Raw), corrupt func(event.DeadLetter)) error {
	rel := Relative(f.Root, path)
	owned := f.owns(rel)
	size, err := f.fs.Size(ctx, path)
	if err != nil {
		return fmt.Errorf("lake read %s: %w", path, err)
	}
	if owned {
		f.bytes.Inc(ctx, size)
	}
	if f.Options.Quarantine && strings.HasSuffix(path, ".gz") {
		if _, err := f.readLines(ctx, path, rel, func(event.Raw) {}); err != nil {
			slog.Warn("lake read: quarantined a corrupt file", "file", rel, "bytes", size, "err", err, "owned", owned)
			if !owned {
				f.other.Inc(ctx, 1)
				return nil
			}
			f.files.Inc(ctx, 1)
			f.corruptBytes.Inc(ctx, size)
			f.read.Inc(ctx, 1)
			f.dead.Inc(ctx, 1)
			corrupt(event.DeadLetter{Reason: string(event.CorruptFile), Source: rel,
				Detail: fmt.Sprintf("%v; the file's %d bytes were skipped (--on_corrupt_file=quarantine)", err, size)})
			return nil
		}
	}
	n, err := f.readLines(ctx, path, rel, emit)
	if err != nil {
		return fmt.Errorf("corrupt lake file %s: %w", rel, err)
	}
	progress.add(f.TotalFiles, n)
	f.filesRead.Inc(ctx, 1)
	return nil
}

// readLines emits the records of the file at path (rel relative to the root) and returns how
// many there were.
func (f *readFn) readLines(ctx context.Context, path, rel string, emit func(event.Raw)) (int64, error) {
	return ReadFile(ctx, f.fs, path, rel, f.Options.MaxRecordBytes, emit)
}

// ReadFile emits the records of the lake file at path on fs (gzip-compressed when its name ends
// in .gz), with sources "rel:line" and cut at maxBytes as Lines cuts them, and returns how many
// there were. It is Read's reader, for plain Go callers.
func ReadFile(ctx context.Context, fs filesystem.Interface, path, rel string, maxBytes int, emit func(event.Raw)) (int64, error) {
	rc, err := fs.OpenRead(ctx, path)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	var r io.Reader = rc
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(rc)
		if err != nil {
			return 0, fmt.Errorf("not a gzip file: %w", err)
		}
		defer gz.Close()
		r = gz
	}
	return Lines(r, rel, maxBytes, emit)
}

// owns says whether the run owns the file rel (by its partition day).
func (f *readFn) owns(rel string) bool {
	o := f.Options
	if o.OwnedFirst.IsZero() && o.OwnedLast.IsZero() {
		return true
	}
	day, ok := PartitionOf(rel)
	return ok && !day.Before(o.OwnedFirst) && !day.After(o.OwnedLast)
}

// Lines emits each line of r as a record whose source is "source:line". It returns the number
// of records. A line over maxBytes (0: event.DefaultMaxRecordBytes) is emitted cut to its first
// maxBytes bytes, with its full size in event.Raw.Size, so a huge line never sits in memory
// whole: parsing dead-letters it as too_large.
func Lines(r io.Reader, source string, maxBytes int, emit func(event.Raw)) (int64, error) {
	if maxBytes <= 0 {
		maxBytes = event.DefaultMaxRecordBytes
	}
	br := bufio.NewReaderSize(r, 256<<10)
	var (
		n, size int64
		line    []byte
		last    byte // the last byte of the line's previous chunk
	)
	for {
		chunk, err := br.ReadSlice('\n')
		if keep := maxBytes + 2 - len(line); keep > 0 {
			line = append(line, chunk[:min(len(chunk), keep)]...)
		}
		size += int64(len(chunk))
		if errors.Is(err, bufio.ErrBufferFull) {
			if len(chunk) > 0 {
				last = chunk[len(chunk)-1]
			}
			continue
		}
		if size > 0 {
			n++
			end := size
			if len(chunk) > 0 && chunk[len(chunk)-1] == '\n' {
				end--
				beforeNL := last
				if len(chunk) > 1 {
					beforeNL = chunk[len(chunk)-2]
				}
				if end > 0 && beforeNL == '\r' {
					end--
				}
			}
			rec := event.Raw{Source: source + ":" + strconv.FormatInt(n, 10)}
			if end <= int64(maxBytes) {
				rec.Bytes = line[:end]
			} else {
				rec.Bytes, rec.Size = line[:maxBytes], end
			}
			emit(rec)
		}
		line, size, last = nil, 0, 0
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// progress logs the read's progress from every worker of this process, at most every
// few seconds, so a long backfill is never silent.
var progress = &readProgress{every: 5 * time.Second}

type readProgress struct {
	mu      sync.Mutex
	every   time.Duration
	start   time.Time
	last    time.Time
	files   int
	records int64
}

func (p *readProgress) add(total int, records int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if p.start.IsZero() {
		p.start, p.last = now, now
	}
	p.files++
	p.records += records
	if now.Sub(p.last) < p.every && p.files < total {
		return
	}
	p.last = now
	rate := float64(p.records) / max(now.Sub(p.start).Seconds(), 1e-3)
	slog.Info("lake read progress", "files", p.files, "of", total, "records", p.records, "records_per_s", int64(rate))
	if p.files >= total {
		p.start, p.files, p.records = time.Time{}, 0, 0
	}
}
