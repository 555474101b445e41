// Package deadletter writes dead letters (records that could not be parsed) as JSON lines to
// any filesystem Beam knows (local, gs://, s3://), one file per bundle under
// <dir>/<name>/part-<unique>.jsonl, so nothing that was read is ever lost silently.
//
// Each line is {"reason", "detail", "source", "raw"} with raw as base64 (the bytes exactly as
// read), plus "raw_text" when those bytes are valid UTF-8, for people reading the file.
package deadletter

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local" // local paths always work
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/google/uuid"

	"github.com/beamline/beamline/io/event"
)

func init() {
	register.DoFn3x1[context.Context, event.DeadLetter, func(int), error](&writeFn{})
	register.Emitter1[int]()
}

// Line is the JSON form of one dead letter in the files.
type Line struct {
	event.DeadLetter
	RawText string `json:"raw_text,omitempty"`
}

// Write writes dls, a PCollection<event.DeadLetter> in the global window, under dir/name. It
// returns the number of dead letters each bundle wrote (PCollection<int>); see
// storeio.WriteBatch for why it deserves a consumer on Prism.
func Write(s beam.Scope, dir, name string, dls beam.PCollection) beam.PCollection {
	s = s.Scope("deadletter.Write")
	filesystem.ValidateScheme(dir)
	return beam.ParDo(s, &writeFn{Dir: dir, Name: name}, dls)
}

// writeFn writes the dead letters of a bundle into one file, created on the first one; the file
// is written under a temporary name and renamed when the bundle finishes, where the
// filesystem can rename (object stores publish an object only when it is closed anyway).
type writeFn struct {
	Dir, Name string

	fs    filesystem.Interface
	path  string
	w     io.WriteCloser
	buf   *bufio.Writer
	count int
}

func (f *writeFn) Setup(ctx context.Context) error {
	fs, err := filesystem.New(ctx, f.Dir)
	if err != nil {
		return fmt.Errorf("deadletter %s: %w", f.Dir, err)
	}
	f.fs = fs
	return nil
}

func (f *writeFn) ProcessElement(ctx context.Context, dl event.DeadLetter, _ func(int)) error {
	if f.w == nil {
		if err := f.open(ctx); err != nil {
			return err
		}
	}
	line := Line{DeadLetter: dl}
	if utf8.Valid(dl.Raw) {
		line.RawText = string(dl.Raw)
	}
	b, err := json.Marshal(line)
	if err != nil {
		return fmt.Errorf("deadletter %s: %w", f.path, err)
	}
	if _, err := f.buf.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("deadletter %s: %w", f.path, err)
	}
	f.count++
	return nil
}

func (f *writeFn) open(ctx context.Context) error {
	f.path = fmt.Sprintf("%s/%s/part-%s.jsonl", trimSlash(f.Dir), f.Name, uuid.NewString())
	w, err := f.fs.OpenWrite(ctx, f.tempPath())
	if err != nil {
		return fmt.Errorf("deadletter %s: %w", f.path, err)
	}
	f.w, f.buf = w, bufio.NewWriterSize(w, 64<<10)
	return nil
}

func (f *writeFn) tempPath() string {
	if _, ok := f.fs.(filesystem.Renamer); ok {
		return f.path + ".tmp"
	}
	return f.path
}

func (f *writeFn) FinishBundle(ctx context.Context, emit func(int)) error {
	if f.w == nil {
		return nil
	}
	emit(f.count)
	f.count = 0
	w, buf := f.w, f.buf
	f.w, f.buf = nil, nil
	if err := buf.Flush(); err != nil {
		w.Close()
		return fmt.Errorf("deadletter %s: %w", f.path, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("deadletter %s: %w", f.path, err)
	}
	if r, ok := f.fs.(filesystem.Renamer); ok {
		if err := r.Rename(ctx, f.path+".tmp", f.path); err != nil {
			return fmt.Errorf("deadletter %s: %w", f.path, err)
		}
	}
	return nil
}

func (f *writeFn) Teardown() error {
	if f.fs == nil {
		return nil
	}
	return f.fs.Close()
}

func trimSlash(s string) string {
	for len(s) > 1 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}
