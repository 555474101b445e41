// Package spill moves a shuffle's payload out of the runner's memory: a bundle writes the values
// it would shuffle to a file of its own under a local directory and shuffles only their
// references (Ref: file, offset, length); the consumer of the grouping reads the values back.
//
// It exists for Prism, which holds every element of a batch pipeline's shuffle in memory, and
// several copies of it while it builds a stage's input (measured: docs/design-notes.md "The
// batch job on one machine"). With the events spilled, the runner holds a few bytes per batch
// and memory no longer grows with the number of events. Runners with a shuffle service of their own
// (Dataflow, Flink) need none of it: spill directories are local, so use it only when every
// worker runs on the machine that holds the directory.
//
// A value is written once and read once; a spill directory belongs to one pipeline run and is
// removed by the caller when the run ends (RemoveStale removes those that a killed process
// left behind).
package spill

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/google/uuid"

	"github.com/beamline/beamline/internal/varcode"
)

// Ref locates one spilled value: Len bytes at Off in the file Path.
type Ref struct {
	Path     string
	Off, Len int64
}

func init() {
	beam.RegisterCoder(reflect.TypeOf((*Ref)(nil)).Elem(), encodeRef, decodeRef)
}

func encodeRef(r Ref) []byte {
	b := varcode.AppendString(nil, r.Path)
	return binary.AppendVarint(binary.AppendVarint(b, r.Off), r.Len)
}

func decodeRef(b []byte) (Ref, error) {
	d := varcode.NewDecoder(b)
	r := Ref{Path: d.Str(), Off: d.Varint(), Len: d.Varint()}
	if d.Err() == nil && (r.Off < 0 || r.Len < 0) {
		return Ref{}, errors.New("spill: negative offset or length in a reference")
	}
	return r, d.Err()
}

// suffix names spill files.
const suffix = ".spill"

// Writer appends values to one file of its own in a directory, created on the first Put.
type Writer struct {
	dir  string
	f    *os.File
	w    *bufio.Writer
	path string
	off  int64
}

// NewWriter returns a Writer of a new file in dir (created if missing).
func NewWriter(dir string) *Writer {
	return &Writer{dir: dir}
}

// Put appends b and returns where it is. The value can be read once Close returned.
func (w *Writer) Put(b []byte) (Ref, error) {
	if w.f == nil {
		if err := os.MkdirAll(w.dir, 0o755); err != nil {
			return Ref{}, fmt.Errorf("spill: %w", err)
		}
		w.path = filepath.Join(w.dir, uuid.NewString()+suffix)
		f, err := os.Create(w.path)
		if err != nil {
			return Ref{}, fmt.Errorf("spill: %w", err)
		}
		w.f, w.w, w.off = f, bufio.NewWriterSize(f, 1<<20), 0
	}
	if _, err := w.w.Write(b); err != nil {
		return Ref{}, fmt.Errorf("spill: write %s: %w", w.path, err)
	}
	r := Ref{Path: w.path, Off: w.off, Len: int64(len(b))}
	w.off += int64(len(b))
	return r, nil
}

// Close flushes and closes the file; a later Put starts a new one.
func (w *Writer) Close() error {
	if w.f == nil {
		return nil
	}
	f, bw := w.f, w.w
	w.f, w.w = nil, nil
	if err := bw.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("spill: write %s: %w", w.path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("spill: close %s: %w", w.path, err)
	}
	return nil
}

// Reader reads spilled values, keeping the files it opened open until Close.
type Reader struct {
	files map[string]*os.File
	buf   []byte
}

// Read returns the value at r. The slice is reused by the next Read.
func (rd *Reader) Read(r Ref) ([]byte, error) {
	if !strings.HasSuffix(r.Path, suffix) {
		return nil, fmt.Errorf("spill: %q is not a spill file", r.Path)
	}
	f, ok := rd.files[r.Path]
	if !ok {
		var err error
		if f, err = os.Open(r.Path); err != nil {
			return nil, fmt.Errorf("spill: %w", err)
		}
		if rd.files == nil {
			rd.files = map[string]*os.File{}
		}
		rd.files[r.Path] = f
	}
	if int64(cap(rd.buf)) < r.Len {
		rd.buf = make([]byte, r.Len)
	}
	b := rd.buf[:r.Len]
	if _, err := f.ReadAt(b, r.Off); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("spill: read %s at %d: %w", r.Path, r.Off, err)
	}
	return b, nil
}

// Close closes the files rd opened.
func (rd *Reader) Close() error {
	var errs []error
	for _, f := range rd.files {
		errs = append(errs, f.Close())
	}
	rd.files = nil
	return errors.Join(errs...)
}

// RemoveStale removes the entries of root last modified more than age ago: the spill
// directories of runs that a killed process could not remove. A missing root is no error.
func RemoveStale(root string, age time.Duration) error {
	entries, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("spill: %w", err)
	}
	var errs []error
	for _, e := range entries {
		info, err := e.Info()
		if err == nil && time.Since(info.ModTime()) > age {
			errs = append(errs, os.RemoveAll(filepath.Join(root, e.Name())))
		}
	}
	return errors.Join(errs...)
}
