package lake

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
)

// Compacted files: the archive's compaction (package archive) rewrites the many small files of
// an hour partition into a few large ones. A compacted file <hr dir>/compacted-<id>.jsonl.gz
// replaces the files of its hour that its manifest, <hr dir>/compacted-<id>.manifest.json,
// lists. The manifest is written before the compacted file appears under its name, and stays
// as long as the file does; so a reader that sees a compacted file skips the files it replaces
// (whether or not they are deleted yet), and a reader that does not see it reads the small files,
// which the compaction deletes only a grace period after the compacted file appeared.

// CompactedPrefix starts the base name of every compacted file.
const CompactedPrefix = "compacted-"

// Manifest says what one compacted file replaces.
type Manifest struct {
	// Files are the base names of the replaced files, in the compacted file's directory.
	Files []string `json:"files"`
	// Records is the number of records of the compacted file (and of the replaced files).
	Records int64 `json:"records"`
	// Bytes is the total size of the replaced files.
	Bytes int64 `json:"bytes"`
	// Created is when the compacted file was written.
	Created time.Time `json:"created"`
}

// Replaced returns the paths of the files that the compacted file at p replaces.
func (m Manifest) Replaced(p string) []string {
	dir := p[:strings.LastIndex(p, "/")+1] // not path.Dir, which turns s3:// into s3:/
	out := make([]string, len(m.Files))
	for i, name := range m.Files {
		out[i] = dir + name
	}
	return out
}

// IsCompacted says whether path names a compacted file.
func IsCompacted(p string) bool {
	return strings.HasPrefix(path.Base(p), CompactedPrefix) && strings.HasSuffix(p, ".jsonl.gz")
}

// ManifestPath returns the manifest path of the compacted file at p.
func ManifestPath(p string) string {
	return strings.TrimSuffix(p, ".jsonl.gz") + ".manifest.json"
}

// ReadManifest reads the manifest of the compacted file at p.
func ReadManifest(ctx context.Context, fs filesystem.Interface, p string) (Manifest, error) {
	var m Manifest
	rc, err := fs.OpenRead(ctx, ManifestPath(p))
	if err != nil {
		return m, fmt.Errorf("compacted file %s has no readable manifest (it cannot say which files it replaces): %w", p, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err == nil {
		err = json.Unmarshal(b, &m)
	}
	if err != nil {
		return m, fmt.Errorf("manifest of compacted file %s: %w", p, err)
	}
	return m, nil
}

// WriteManifest writes the manifest of the compacted file at p.
func WriteManifest(ctx context.Context, fs filesystem.Interface, p string, m Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	w, err := fs.OpenWrite(ctx, ManifestPath(p))
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		w.Close()
		return err
	}
	if s, ok := w.(interface{ Sync() error }); ok {
		if err := s.Sync(); err != nil {
			w.Close()
			return err
		}
	}
	return w.Close()
}

// Resolve returns files (sorted paths, as listed) without those that a compacted file among them
// replaces.
func Resolve(ctx context.Context, fs filesystem.Interface, files []string) ([]string, error) {
	replaced := map[string]bool{}
	for _, f := range files {
		if !IsCompacted(f) {
			continue
		}
		m, err := ReadManifest(ctx, fs, f)
		if err != nil {
			return nil, err
		}
		for _, p := range m.Replaced(f) {
			replaced[p] = true
		}
	}
	if len(replaced) == 0 {
		return files, nil
	}
	out := files[:0:0]
	for _, f := range files {
		if !replaced[f] {
			out = append(out, f)
		}
	}
	return out, nil
}
