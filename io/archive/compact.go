package archive

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"

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
