package archive

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	"github.com/google/uuid"

	"github.com/beamline/beamline/io/lake"
)

// CompactOptions configure Compact. Zero values mean the defaults.
type CompactOptions struct {
	// Closed is the time after which an hour can no longer receive records: an hour is
	// compacted once its end plus Closed has passed. Default 1h10m (the batch job's allowed
	// lateness of 10m plus a margin of an hour).
	Closed time.Duration
	// Grace is how long the files that a compacted file replaces are kept after it was written,
	// so that a reader that listed them before can still read them. Default 1h; a negative
	// value deletes them at once (for archives nobody reads meanwhile).
	Grace time.Duration
	// TargetBytes bounds the input (compressed) of one compacted file: an hour with more is
	// compacted into several. Default 256 MiB.
	TargetBytes int64
	// MinFiles: an hour with fewer files to compact is left as it is. Default 2.
	MinFiles int
	// Now returns the current time; default time.Now.
	Now func() time.Time
	// OnStep, when set, is called before each step that changes the archive, with the step
	// ("stage", "manifest", "commit", "verify", "delete") and the file it concerns. Tests use
	// it to stop the compaction at each step.
	OnStep func(step, file string)
}

// Compaction defaults.
const (
	DefaultCompactClosed = 70 * time.Minute
	DefaultCompactGrace  = time.Hour
	DefaultCompactTarget = 256 << 20
)

// HourReport is what Compact did to one hour partition.
type HourReport struct {
	Hour time.Time
	// FilesBefore and FilesAfter are the files a reader (lake.List) sees before and after.
	FilesBefore, FilesAfter int
	// Compacted is the number of files rewritten into Written new ones, holding Records records.
	Compacted, Written int
	Records            int64
	// Deleted is the number of replaced files deleted (their grace period over).
	Deleted int
	// Skipped names files that could not be read (corrupt): they stay as they are.
	Skipped []string
}

// Compact rewrites the small files of each closed hour of the archive under dir, on days from
// to to (midnight UTC, inclusive), into a few large ones, and deletes the files that compacted
// files replaced once their grace period is over.
//
// It is atomic for readers and safe to kill at any point: a compacted file is written under a
// name that no reader lists ("stage"), its manifest (the files it replaces and its record count)
// is written next ("manifest"), then it takes its name ("commit"): from then on lake.List returns
// it instead of the files it replaces. Before deleting those files ("delete"), Compact reads the
// compacted file back and checks its record count against the manifest ("verify"). A run
// killed before the commit leaves only a staged file and perhaps a manifest, which the next run
// removes; one killed after it leaves a committed compacted file whose replaced files the next
// run deletes. Run one Compact at a time per archive.
func Compact(ctx context.Context, dir string, from, to time.Time, opts CompactOptions) ([]HourReport, error) {
	o := compactDefaults(opts)
	fs, err := filesystem.New(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("compact %s: %w", dir, err)
	}
	defer fs.Close()
	c := &compactor{fs: fs, dir: dir, o: o}
	var out []HourReport
	for d := from.UTC().Truncate(24 * time.Hour); !d.After(to); d = d.AddDate(0, 0, 1) {
		for h := range 24 {
			hour := d.Add(time.Duration(h) * time.Hour)
			rep, err := c.hour(ctx, hour)
			if err != nil {
				return out, fmt.Errorf("compact %s hour %s: %w", dir, hour.Format("2006-01-02T15"), err)
			}
			if rep.FilesBefore > 0 || rep.Deleted > 0 {
				out = append(out, rep)
			}
		}
	}
	return out, nil
}

func compactDefaults(o CompactOptions) CompactOptions {
	if o.Closed <= 0 {
		o.Closed = DefaultCompactClosed
	}
	if o.Grace < 0 {
		o.Grace = 0
	} else if o.Grace == 0 {
		o.Grace = DefaultCompactGrace
	}
	if o.TargetBytes <= 0 {
		o.TargetBytes = DefaultCompactTarget
	}
	if o.MinFiles <= 0 {
		o.MinFiles = 2
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.OnStep == nil {
		o.OnStep = func(string, string) {}
	}
	return o
}

type compactor struct {
	fs  filesystem.Interface
	dir string
	o   CompactOptions
}

// stagedSuffix ends the name of a compacted file while it is written; no reader lists it.
const stagedSuffix = ".staged"

// hourState is what one hour directory holds.
type hourState struct {
	data      []string                 // *.jsonl and *.jsonl.gz, sorted
	compacted map[string]lake.Manifest // committed compacted files
	replaced  map[string]bool          // files a committed compacted file replaces
	staged    []string                 // uncommitted compacted files
	manifests []string                 // every manifest
}

func (c *compactor) list(ctx context.Context, hour time.Time) (hourState, error) {
	st := hourState{compacted: map[string]lake.Manifest{}, replaced: map[string]bool{}}
	hdir := lake.HourDir(c.dir, hour)
	glob := func(pattern string) ([]string, error) { return c.fs.List(ctx, hdir+"/"+pattern) }
	for _, pattern := range []string{"*.jsonl", "*.jsonl.gz"} {
		files, err := glob(pattern)
		if err != nil {
			return st, err
		}
		st.data = append(st.data, files...)
	}
	slices.Sort(st.data)
	var err error
	if st.staged, err = glob(lake.CompactedPrefix + "*" + stagedSuffix); err != nil {
		return st, err
	}
	if st.manifests, err = glob(lake.CompactedPrefix + "*.manifest.json"); err != nil {
		return st, err
	}
	for _, f := range st.data {
		if !lake.IsCompacted(f) {
			continue
		}
		m, err := lake.ReadManifest(ctx, c.fs, f)
		if err != nil {
			return st, err
		}
		st.compacted[f] = m
		for _, p := range m.Replaced(f) {
			st.replaced[p] = true
		}
	}
	return st, nil
}

// visible returns how many files of st a reader sees.
func (st hourState) visible() int {
	n := 0
	for _, f := range st.data {
		if !st.replaced[f] {
			n++
		}
	}
	return n
}

func (c *compactor) hour(ctx context.Context, hour time.Time) (HourReport, error) {
	rep := HourReport{Hour: hour}
	st, err := c.list(ctx, hour)
	if err != nil {
		return rep, err
	}
	rep.FilesBefore = st.visible()
	if err := c.removeUncommitted(ctx, st); err != nil {
		return rep, err
	}
	if !c.o.Now().Before(hour.Add(time.Hour + c.o.Closed)) {
		var todo []string
		for _, f := range st.data {
			if !lake.IsCompacted(f) && !st.replaced[f] {
				todo = append(todo, f)
			}
		}
		if len(todo) >= c.o.MinFiles {
			if err := c.compactFiles(ctx, hour, todo, &rep); err != nil {
				return rep, err
			}
			if st, err = c.list(ctx, hour); err != nil {
				return rep, err
			}
		}
	}
	if rep.Deleted, err = c.deleteReplaced(ctx, st); err != nil {
		return rep, err
	}
	rep.FilesAfter = st.visible()
	return rep, nil
}

// removeUncommitted removes what a killed run left before its commit: staged files, and
// manifests whose compacted file does not exist.
func (c *compactor) removeUncommitted(ctx context.Context, st hourState) error {
	for _, f := range st.staged {
		if err := c.remove(ctx, f); err != nil {
			return err
		}
	}
	for _, m := range st.manifests {
		data := strings.TrimSuffix(m, ".manifest.json") + ".jsonl.gz"
		if _, ok := st.compacted[data]; !ok {
			if err := c.remove(ctx, m); err != nil {
				return err
			}
		}
	}
	return nil
}

// deleteReplaced deletes the files that committed compacted files replace, once their grace
// period is over and the compacted file holds the records its manifest promises.
func (c *compactor) deleteReplaced(ctx context.Context, st hourState) (int, error) {
	present := map[string]bool{}
	for _, f := range st.data {
		present[f] = true
	}
	deleted := 0
	for _, f := range slices.Sorted(maps.Keys(st.compacted)) {
		m := st.compacted[f]
		var gone []string
		for _, p := range m.Replaced(f) {
			if present[p] {
				gone = append(gone, p)
			}
		}
		if len(gone) == 0 || c.o.Now().Before(m.Created.Add(c.o.Grace)) {
			continue
		}
		c.o.OnStep("verify", f)
		n, err := c.count(ctx, f)
		if err != nil {
			return deleted, fmt.Errorf("verify %s: %w", f, err)
		}
		if n != m.Records {
			return deleted, fmt.Errorf("verify %s: it holds %d records, its manifest says %d: the files it replaces are kept", f, n, m.Records)
		}
		for _, p := range gone {
			c.o.OnStep("delete", p)
			if err := c.remove(ctx, p); err != nil {
				return deleted, err
			}
			deleted++
		}
	}
	return deleted, nil
}

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
