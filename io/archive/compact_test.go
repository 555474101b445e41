package archive

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/s3"
	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/io/event"
	"github.com/beamline/beamline/io/lake"
	"github.com/beamline/beamline/io/lake/laketest"
)

var compactDay = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)

// smallArchive writes files small files into each of hours hours of compactDay under dir, as
// the streaming job's archive writes them (gzip, and a few plain and awkward ones), and returns
// the archive's records as a reader sees them.
func smallArchive(t *testing.T, dir string, hours, files int) []string {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 8))
	for h := range hours {
		hdir := lake.HourDir(dir, compactDay.Add(time.Duration(h)*time.Hour))
		if err := os.MkdirAll(hdir, 0o755); err != nil {
			t.Fatal(err)
		}
		for f := range files {
			var body bytes.Buffer
			for r := range 1 + rng.IntN(20) {
				fmt.Fprintf(&body, `{"event_id":"h%d-f%d-r%d","ts":"x"}`+"\n", h, f, r)
			}
			switch f % 5 {
			case 1:
				body.WriteString("\n") // an empty record
			case 2:
				body.WriteString(`no newline at the end`)
			case 3:
				body.WriteString("crlf\r\n")
			}
			name := filepath.Join(hdir, fmt.Sprintf("%02d-%03d.jsonl.gz", h, f))
			data := gzipped(t, body.Bytes())
			if f == 4 {
				name, data = strings.TrimSuffix(name, ".gz"), body.Bytes() // a plain file
			}
			if err := os.WriteFile(name, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return readerView(t, dir)
}

func gzipped(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readerView returns the records of compactDay under dir as the batch job reads them (lake.List,
// then every line of every file), sorted.
func readerView(t *testing.T, dir string) []string {
	t.Helper()
	recs, err := readRecords(dir)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func readRecords(dir string) ([]string, error) {
	parts, err := lake.List(context.Background(), dir, compactDay, compactDay)
	if err != nil {
		return nil, err
	}
	fs, err := filesystem.New(context.Background(), dir)
	if err != nil {
		return nil, err
	}
	defer fs.Close()
	var out []string
	for _, f := range parts[0].Files {
		if strings.Contains(f, "corrupt") { // TestCompact's: the batch job fails or quarantines it
			continue
		}
		rc, err := fs.OpenRead(context.Background(), f)
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return nil, err
		}
		var r io.Reader = bytes.NewReader(b)
		if strings.HasSuffix(f, ".gz") {
			gz, err := gzip.NewReader(r)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			r = gz
		}
		if _, err := lake.Lines(r, f, 0, func(raw event.Raw) { out = append(out, string(raw.Bytes)) }); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
	}
	slices.Sort(out)
	return out, nil
}

func countFiles(t testing.TB, dir string) (listed, onDisk int) {
	t.Helper()
	parts, err := lake.List(context.Background(), dir, compactDay, compactDay)
	if err != nil {
		t.Fatal(err)
	}
	all, _ := filepath.Glob(filepath.Join(lake.DayDir(dir, compactDay), "hr=*", "*"))
	return len(parts[0].Files), len(all)
}

// TestCompact compacts the closed hours of an archive and checks that a reader sees exactly the
// same records in far fewer files, that an hour still open and a corrupt file are left alone,
// and that the small files go only after the grace period.
func TestCompact(t *testing.T) {
	dir := t.TempDir()
	want := smallArchive(t, dir, 3, 40)
	// A corrupt file in hour 0: skipped, left where it is (the batch job's rule applies to it).
	corrupt := filepath.Join(lake.HourDir(dir, compactDay), "zz-corrupt.jsonl.gz")
	if err := os.WriteFile(corrupt, gzipped(t, []byte("x\n"))[:10], 0o644); err != nil {
		t.Fatal(err)
	}
	now := compactDay.Add(2*time.Hour + DefaultCompactClosed) // hours 0 and 1 closed, hour 2 not
	ctx := context.Background()
	opts := CompactOptions{Now: func() time.Time { return now }, TargetBytes: 2 << 10}
	reps, err := Compact(ctx, dir, compactDay, compactDay, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(reps) != 3 {
		t.Fatalf("reports of %d hours, want 3: %+v", len(reps), reps)
	}
	for i, r := range reps {
		t.Logf("hour %d: files %d -> %d, %d compacted into %d, %d records, skipped %v", i, r.FilesBefore, r.FilesAfter, r.Compacted, r.Written, r.Records, r.Skipped)
	}
	if r := reps[0]; r.FilesBefore != 41 || r.Compacted != 40 || r.Written < 2 || r.FilesAfter != r.Written+1 || len(r.Skipped) != 1 {
		t.Errorf("hour 0: %+v; want its 40 good files in a few files of about 2 KiB each, the corrupt one skipped", r)
	}
	if r := reps[2]; r.FilesAfter != 40 || r.Compacted != 0 {
		t.Errorf("hour 2 (not closed): %+v; want it left alone", r)
	}
	if got := readerView(t, dir); !cmp.Equal(want, got) {
		t.Fatalf("records after compaction differ (-before +after):\n%s", cmp.Diff(want, got))
	}
	listed, onDisk := countFiles(t, dir)
	if onDisk <= listed+80 {
		t.Errorf("%d files on disk, %d listed: the replaced files should stay for the grace period", onDisk, listed)
	}
	// After the grace period the replaced files go; the reader's records stay the same.
	now = now.Add(DefaultCompactGrace)
	if _, err := Compact(ctx, dir, compactDay, compactDay, opts); err != nil {
		t.Fatal(err)
	}
	for h := range 2 {
		left, _ := filepath.Glob(filepath.Join(lake.HourDir(dir, compactDay.Add(time.Duration(h)*time.Hour)), "[0-9]*"))
		if len(left) > 0 {
			t.Errorf("hour %d after the grace period: replaced files %v are still there", h, left)
		}
	}
	if got := readerView(t, dir); !cmp.Equal(want, got) {
		t.Fatalf("records after deletion differ (-before +after):\n%s", cmp.Diff(want, got))
	}
	if _, err := os.Stat(corrupt); err != nil {
		t.Errorf("the corrupt file was not left in place: %v", err)
	}
}

// childEnv names the archive that TestCompactChild compacts when the test binary runs itself.
const childEnv = "BEAMLINE_COMPACT_CHILD"

// TestCompactChild is the process that TestCompactKilled kills: it compacts the archive named by
// childEnv, slowly (a pause before each step), and does nothing in a normal test run.
func TestCompactChild(t *testing.T) {
	dir := os.Getenv(childEnv)
	if dir == "" {
		return
	}
	now := compactDay.Add(24 * time.Hour)
	if os.Getenv(childEnv+"_LATER") != "" {
		now = now.Add(2 * DefaultCompactGrace)
	}
	_, err := Compact(context.Background(), dir, compactDay, compactDay, CompactOptions{
		TargetBytes: 4 << 10, Now: func() time.Time { return now },
		OnStep: func(string, string) { time.Sleep(5 * time.Millisecond) },
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCompactKilled kills the compaction (kill -9) at random points, over and over, while a
// reader reads the archive in a loop, then lets it finish: every read, at every point, sees
// exactly the archive's records (never both a compacted file and the files it replaces, never
// neither), and the end state holds every record once.
func TestCompactKilled(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		t.Skip("in the child")
	}
	dir := t.TempDir()
	want := smallArchive(t, dir, 4, 60)

	var stop atomic.Bool
	var reads atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan string, 1)
	wg.Go(func() {
		for !stop.Load() {
			got, err := readRecords(dir)
			if err == nil && !cmp.Equal(want, got) {
				err = fmt.Errorf("(-want +got):\n%s", cmp.Diff(want, got))
			}
			if err != nil {
				select {
				case errs <- err.Error():
				default:
				}
				return
			}
			reads.Add(1)
		}
	})
	child := func(later bool, killAfter time.Duration) (finished bool) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCompactChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), childEnv+"="+dir)
		if later {
			cmd.Env = append(cmd.Env, childEnv+"_LATER=1")
		}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("compaction failed: %v\n%s", err, out.String())
			}
			return true
		case <-time.After(killAfter):
			cmd.Process.Kill() // SIGKILL
			<-done
			return false
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	kills := 0
	// Phase 1 compacts (the replaced files stay: grace); phase 2, later, deletes them.
	for _, later := range []bool{false, true} {
		for round := 0; ; round++ {
			killAfter := time.Duration(20+rng.IntN(300)) * time.Millisecond
			if round >= 12 {
				killAfter = time.Minute
			}
			if child(later, killAfter) {
				break
			}
			kills++
			if got := readerView(t, dir); !cmp.Equal(want, got) {
				t.Fatalf("after kill %d: records differ (-want +got):\n%s", kills, cmp.Diff(want, got))
			}
		}
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatalf("a concurrent read saw other records: %s", e)
	}
	listed, onDisk := countFiles(t, dir)
	t.Logf("%d kills, %d concurrent reads, each with exactly the archive's %d records; 240 files -> %d listed, %d on disk",
		kills, reads.Load(), len(want), listed, onDisk)
	if kills < 6 || listed >= 40 || onDisk > 2*listed {
		t.Errorf("%d kills, %d files listed, %d on disk: want kills, a few compacted files and their manifests", kills, listed, onDisk)
	}
	if got := readerView(t, dir); !cmp.Equal(want, got) {
		t.Fatalf("final records differ (-want +got):\n%s", cmp.Diff(want, got))
	}
}

// TestCompactS3 compacts an archive in an object store (S3, which has no rename: the compacted
// file is published by a copy) and checks the records a reader sees.
func TestCompactS3(t *testing.T) {
	local := t.TempDir()
	want := smallArchive(t, local, 2, 30)
	srv := laketest.StartS3(t, "bucket")
	srv.Upload(t, local, "bucket", "archive")
	dir := "s3://bucket/archive"
	now := compactDay.Add(24 * time.Hour)
	reps, err := Compact(context.Background(), dir, compactDay, compactDay, CompactOptions{Grace: -1, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if len(reps) != 2 || reps[0].FilesAfter != 1 || reps[1].FilesAfter != 1 {
		t.Fatalf("reports %+v; want each hour in one file", reps)
	}
	if got := readerView(t, dir); !cmp.Equal(want, got) {
		t.Fatalf("records on S3 after compaction differ (-before +after):\n%s", cmp.Diff(want, got))
	}
	// A second run finds nothing to do: the replaced files are gone, nothing was staged.
	reps, err = Compact(context.Background(), dir, compactDay, compactDay, CompactOptions{Grace: -1, Now: func() time.Time { return now }})
	if err != nil || len(reps) != 2 || reps[0].Compacted+reps[0].Deleted+reps[1].Compacted+reps[1].Deleted != 0 {
		t.Errorf("second run: %+v, %v; want nothing to do", reps, err)
	}
}

// BenchmarkReadHour reads one hour of archive as the batch job does (lake.List, then every
// record of every file) in the streaming job's many small files and after compaction:
// go test ./io/archive -run XXX -bench ReadHour.
func BenchmarkReadHour(b *testing.B) {
	const files, records = 2000, 50
	dir := b.TempDir()
	hdir := lake.HourDir(dir, compactDay)
	if err := os.MkdirAll(hdir, 0o755); err != nil {
		b.Fatal(err)
	}
	for f := range files {
		var body bytes.Buffer
		for r := range records {
			fmt.Fprintf(&body, `{"event_id":"f%d-r%d","event_type":"pageview","ts":"2026-11-20T00:00:00Z","user_id":"u%d","url":"https://shop.example/p/%d"}`+"\n", f, r, r, f%50)
		}
		var gz bytes.Buffer
		w := gzip.NewWriter(&gz)
		w.Write(body.Bytes())
		w.Close()
		if err := os.WriteFile(filepath.Join(hdir, fmt.Sprintf("%05d.jsonl.gz", f)), gz.Bytes(), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	read := func(b *testing.B) {
		for b.Loop() {
			recs, err := readRecords(dir)
			if err != nil || len(recs) != files*records {
				b.Fatalf("read %d records, %v", len(recs), err)
			}
		}
		listed, _ := countFiles(b, dir)
		b.ReportMetric(float64(listed), "files")
	}
	b.Run("small-files", read)
	now := compactDay.Add(24 * time.Hour)
	if _, err := Compact(context.Background(), dir, compactDay, compactDay, CompactOptions{Grace: -1, Now: func() time.Time { return now }}); err != nil {
		b.Fatal(err)
	}
	b.Run("compacted", read)
}
