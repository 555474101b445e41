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

	"github.com/beamline/beamline/transforms/event"
)

func init() {
	register.DoFn3x1[context.Context, string, func(event.Raw), error](&readFn{})
	register.Emitter1[event.Raw]()
}

// Read reads files (paths under root, as List returns them) and returns a
// PCollection<event.Raw>, one record per line, lines over maxRecordBytes cut (see Lines). Files
// are spread over workers.
func Read(s beam.Scope, root string, files []string, maxRecordBytes int) beam.PCollection {
	s = s.Scope("lake.Read")
	if len(files) == 0 {
		panic("lake.Read: no files to read")
	}
	paths := beam.Reshuffle(s, beam.CreateList(s, files))
	return beam.ParDo(s, &readFn{Root: root, TotalFiles: len(files), MaxRecordBytes: maxRecordBytes}, paths)
}

// readFn reads one file and logs the progress of the whole read.
type readFn struct {
	Root           string
	TotalFiles     int
	MaxRecordBytes int
	fs             filesystem.Interface
}

func (f *readFn) Setup(ctx context.Context) error {
	fs, err := filesystem.New(ctx, f.Root)
	if err != nil {
		return fmt.Errorf("lake read %s: %w", f.Root, err)
	}
	f.fs = fs
	return nil
}

func (f *readFn) Teardown() error {
	if f.fs == nil {
		return nil
	}
	return f.fs.Close()
}

func (f *readFn) ProcessElement(ctx context.Context, path string, emit func(event.Raw)) error {
	rc, err := f.fs.OpenRead(ctx, path)
	if err != nil {
		return fmt.Errorf("lake read %s: %w", path, err)
	}
	defer rc.Close()
	var r io.Reader = rc
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(rc)
		if err != nil {
			return fmt.Errorf("lake read %s: %w", path, err)
		}
		defer gz.Close()
		r = gz
	}
	n, err := Lines(r, relative(f.Root, path), f.MaxRecordBytes, emit)
	if err != nil {
		return fmt.Errorf("lake read %s: %w", path, err)
	}
	progress.add(f.TotalFiles, n)
	return nil
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
