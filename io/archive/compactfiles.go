package archive

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	"github.com/google/uuid"

	"github.com/beamline/beamline/io/lake"
)

// compactFiles rewrites files (one hour's, not compacted yet) into compacted files of about
// TargetBytes of input each.
func (c *compactor) compactFiles(ctx context.Context, hour time.Time, files []string, rep *HourReport) error {
	var group []string
	var size int64
	flush := func() error {
		if len(group) < c.o.MinFiles {
			group, size = nil, 0
			return nil
		}
		err := c.compactGroup(ctx, hour, group, rep)
		group, size = nil, 0
		return err
	}
	for _, f := range files {
		n, err := c.fs.Size(ctx, f)
		if err != nil {
			return err
		}
		if len(group) > 0 && size+n > c.o.TargetBytes {
			if err := flush(); err != nil {
				return err
			}
		}
		group, size = append(group, f), size+n
	}
	return flush()
}

// compactGroup writes one compacted file for group and commits it. A file of the group that
// cannot be read (a corrupt gzip file) is left out and left where it is.
func (c *compactor) compactGroup(ctx context.Context, hour time.Time, group []string, rep *HourReport) error {
	for len(group) >= c.o.MinFiles {
		final := fmt.Sprintf("%s/%s%s-%s.jsonl.gz", lake.HourDir(c.dir, hour), lake.CompactedPrefix, hour.Format("20060102T15"), uuid.NewString())
		staged := final + stagedSuffix
		c.o.OnStep("stage", staged)
		records, bytes, bad, err := c.stage(ctx, staged, group)
		if err != nil {
			c.remove(ctx, staged)
			return err
		}
		if bad != "" {
			if err := c.remove(ctx, staged); err != nil {
				return err
			}
			rep.Skipped = append(rep.Skipped, bad)
			group = slices.DeleteFunc(group, func(f string) bool { return f == bad })
			continue
		}
		m := lake.Manifest{Records: records, Bytes: bytes, Created: c.o.Now().UTC()}
		for _, f := range group {
			m.Files = append(m.Files, path.Base(f))
		}
		c.o.OnStep("manifest", lake.ManifestPath(final))
		if err := lake.WriteManifest(ctx, c.fs, final, m); err != nil {
			return fmt.Errorf("write manifest of %s: %w", final, err)
		}
		c.o.OnStep("commit", final)
		if err := c.commit(ctx, staged, final); err != nil {
			return fmt.Errorf("commit %s: %w", final, err)
		}
		rep.Compacted += len(group)
		rep.Written++
		rep.Records += records
		return nil
	}
	return nil
}

// stage writes the records of files, in order, into one gzip file at staged and returns their
// count and the files' total size; bad names a file that could not be read (nothing is then
// counted).
func (c *compactor) stage(ctx context.Context, staged string, files []string) (records, bytes int64, bad string, err error) {
	w, err := c.fs.OpenWrite(ctx, staged)
	if err != nil {
		return 0, 0, "", err
	}
	gz := gzip.NewWriter(w)
	for _, f := range files {
		n, size, err := c.copyRecords(ctx, gz, f)
		if errors.Is(err, errUnreadable) {
			gz.Close()
			w.Close()
			return 0, 0, f, nil
		}
		if err != nil {
			gz.Close()
			w.Close()
			return 0, 0, "", err
		}
		records, bytes = records+n, bytes+size
	}
	err = gz.Close()
	if s, ok := w.(interface{ Sync() error }); ok && err == nil {
		err = s.Sync()
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	return records, bytes, "", err
}

// errUnreadable marks a lake file that cannot be decompressed.
var errUnreadable = errors.New("unreadable lake file")

// copyRecords appends the records of the lake file f to w, each ending with a newline (a last
// line without one gets one, so that it stays a record of its own), and returns how many there
// were and the file's size.
func (c *compactor) copyRecords(ctx context.Context, w io.Writer, f string) (records, size int64, err error) {
	if size, err = c.fs.Size(ctx, f); err != nil {
		return 0, 0, err
	}
	rc, err := c.fs.OpenRead(ctx, f)
	if err != nil {
		return 0, 0, err
	}
	defer rc.Close()
	var r io.Reader = rc
	if strings.HasSuffix(f, ".gz") {
		gz, err := gzip.NewReader(rc)
		if err != nil {
			return 0, 0, fmt.Errorf("%w %s: %v", errUnreadable, f, err)
		}
		defer gz.Close()
		r = gz
	}
	lc := &lineCounter{w: w}
	if _, err := io.Copy(lc, r); err != nil {
		return 0, 0, fmt.Errorf("%w %s: %v", errUnreadable, f, err)
	}
	if lc.open {
		if _, err := w.Write([]byte{'\n'}); err != nil {
			return 0, 0, err
		}
		lc.lines++
	}
	return lc.lines, size, nil
}

// lineCounter passes bytes on and counts the lines (records, as lake.Lines counts them).
type lineCounter struct {
	w     io.Writer
	lines int64
	open  bool // bytes after the last newline
}

func (l *lineCounter) Write(p []byte) (int, error) {
	for i, b := range p {
		if b == '\n' {
			l.lines++
		}
		if i == len(p)-1 {
			l.open = b != '\n'
		}
	}
	return l.w.Write(p)
}

// count returns the records of the compacted file f.
func (c *compactor) count(ctx context.Context, f string) (int64, error) {
	n, _, err := c.copyRecords(ctx, io.Discard, f)
	return n, err
}

// commit gives the staged file its final name: a rename where the filesystem has one, else a
// copy (object stores publish the copy whole) and the removal of the staged file.
func (c *compactor) commit(ctx context.Context, staged, final string) error {
	if r, ok := c.fs.(filesystem.Renamer); ok {
		return r.Rename(ctx, staged, final)
	}
	cp, ok := c.fs.(filesystem.Copier)
	if !ok {
		return fmt.Errorf("the filesystem of %s can neither rename nor copy", final)
	}
	if err := cp.Copy(ctx, staged, final); err != nil {
		return err
	}
	return c.remove(ctx, staged)
}

// remove deletes the file p; a file that is gone already is not an error.
func (c *compactor) remove(ctx context.Context, p string) error {
	r, ok := c.fs.(filesystem.Remover)
	if !ok {
		return fmt.Errorf("the filesystem of %s cannot remove files", p)
	}
	if err := r.Remove(ctx, p); err != nil {
		if _, serr := c.fs.Size(ctx, p); serr != nil { // gone: another attempt removed it
			return nil
		}
		return fmt.Errorf("remove %s: %w", p, err)
	}
	return nil
}
