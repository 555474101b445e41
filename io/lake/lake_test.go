package lake_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/gcs"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/s3"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/beamline/beamline/io/event"
	"github.com/beamline/beamline/io/lake"
	"github.com/beamline/beamline/io/lake/laketest"
)

const sampleLake = "../../testdata/lake"

var (
	day1 = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	day2 = day1.AddDate(0, 0, 1)
)

// localFiles returns the sample lake's files of day, relative to the lake, sorted.
func localFiles(t *testing.T, day time.Time) []string {
	t.Helper()
	var out []string
	for _, ext := range []string{"*.jsonl", "*.jsonl.gz"} {
		m, err := filepath.Glob(filepath.Join(sampleLake, "raw", "dt="+day.Format(time.DateOnly), "hr=*", ext))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range m {
			rel, _ := filepath.Rel(sampleLake, p)
			out = append(out, filepath.ToSlash(rel))
		}
	}
	slices.Sort(out)
	return out
}

// relFiles lists root's days and returns each day's files relative to root.
func relFiles(t *testing.T, root string, from, to time.Time) [][]string {
	t.Helper()
	parts, err := lake.List(t.Context(), root, from, to)
	if err != nil {
		t.Fatalf("List(%s): %v", root, err)
	}
	out := make([][]string, len(parts))
	for i, p := range parts {
		out[i] = []string{}
		for _, f := range p.Files {
			out[i] = append(out[i], strings.TrimPrefix(f, strings.TrimSuffix(root, "/")+"/"))
		}
	}
	return out
}

func TestListLocal(t *testing.T) {
	want := [][]string{localFiles(t, day1), localFiles(t, day2), {}}
	if len(want[0]) == 0 || len(want[1]) == 0 {
		t.Fatal("the sample lake has no files")
	}
	for _, root := range []string{sampleLake, sampleLake + "/"} {
		if d := cmp.Diff(want, relFiles(t, root, day1, day2.AddDate(0, 0, 1))); d != "" {
			t.Errorf("List(%s) (-want +got):\n%s", root, d)
		}
	}
}

// TestDays finds the sample lake's days, locally and on S3 (no directory objects), and none in
// an empty directory.
func TestDays(t *testing.T) {
	srv := laketest.StartS3(t, "bucket")
	srv.Upload(t, sampleLake, "bucket", "data/lake")
	for _, root := range []string{sampleLake, "s3://bucket/data/lake"} {
		days, err := lake.Days(t.Context(), root)
		if err != nil || !cmp.Equal(days, []time.Time{day1, day2}) {
			t.Errorf("Days(%s) = %v, %v; want %s and %s", root, days, err, day1, day2)
		}
	}
	if days, err := lake.Days(t.Context(), t.TempDir()); err != nil || len(days) != 0 {
		t.Errorf("Days of an empty directory = %v, %v; want none", days, err)
	}
}

// TestListS3 lists the sample lake from S3, where there are no directory objects and '*' does
// not cross '/': the same files as from the local copy, by day.
func TestListS3(t *testing.T) {
	srv := laketest.StartS3(t, "bucket")
	srv.Upload(t, sampleLake, "bucket", "data/lake")
	want := [][]string{localFiles(t, day1), localFiles(t, day2), {}}
	for _, root := range []string{"s3://bucket/data/lake", "s3://bucket/data/lake/"} {
		if d := cmp.Diff(want, relFiles(t, root, day1, day2.AddDate(0, 0, 1))); d != "" {
			t.Errorf("List(%s) (-want +got):\n%s", root, d)
		}
	}
	if got := relFiles(t, "s3://bucket/data/lake", day1.AddDate(1, 0, 0), day1.AddDate(1, 0, 0)); len(got) != 1 || len(got[0]) != 0 {
		t.Errorf("List of a day without files = %v, want one empty partition", got)
	}
	for _, root := range []string{"s3://bucket/data", "s3://bucket/nope", "s3://bucket/data/lake/raw/dt=2026-11-20"} {
		_, err := lake.List(t.Context(), root, day1, day2)
		if !errors.Is(err, lake.ErrNoLake) || !strings.Contains(err.Error(), root) {
			t.Errorf("List(%s) = %v, want ErrNoLake naming the root", root, err)
		}
	}
	if _, err := lake.List(t.Context(), "s3://no-such-bucket/lake", day1, day2); err == nil || !strings.Contains(err.Error(), "s3://no-such-bucket/lake") {
		t.Errorf("List of a missing bucket = %v, want an error naming the root", err)
	}
}

// TestS3KeepsBytes reads every uploaded file back through Beam's S3 filesystem: gzip files,
// CRLF lines and non-UTF-8 bytes come back exactly.
func TestS3KeepsBytes(t *testing.T) {
	srv := laketest.StartS3(t, "bucket")
	if n := srv.Upload(t, sampleLake, "bucket", "lake"); n == 0 {
		t.Fatal("uploaded no files")
	}
	fs, err := filesystem.New(t.Context(), "s3://bucket/lake")
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	for _, rel := range append(localFiles(t, day1), localFiles(t, day2)...) {
		want, err := os.ReadFile(filepath.Join(sampleLake, filepath.FromSlash(rel)))
		if err != nil {
			t.Fatal(err)
		}
		rc, err := fs.OpenRead(t.Context(), "s3://bucket/lake/"+rel)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("s3://bucket/lake/%s: read %d bytes (err %v), want the %d bytes of the local file", rel, len(got), err, len(want))
		}
	}
}

// fakeGCS answers the GCS JSON API's object listing with objects, and records the prefixes it
// was asked for. It is enough to see that gs:// paths reach Beam's GCS filesystem.
type fakeGCS struct {
	objects []string
	mu      sync.Mutex
	asked   []string
}

func (f *fakeGCS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/storage/v1/b/bucket/o" {
		http.Error(w, `{"error":{"code":404,"message":"no such bucket"}}`, http.StatusNotFound)
		return
	}
	prefix := r.URL.Query().Get("prefix")
	f.mu.Lock()
	f.asked = append(f.asked, prefix)
	f.mu.Unlock()
	type object struct {
		Bucket string `json:"bucket"`
		Name   string `json:"name"`
	}
	items := []object{}
	for _, o := range f.objects {
		if strings.HasPrefix(o, prefix) {
			items = append(items, object{"bucket", o})
		}
	}
	json.NewEncoder(w).Encode(map[string]any{"kind": "storage#objects", "items": items})
}

// TestListGCS lists a lake through Beam's GCS filesystem, pointed at a fake listing endpoint by
// STORAGE_EMULATOR_HOST.
func TestListGCS(t *testing.T) {
	gcs := &fakeGCS{objects: []string{
		"lake/raw/dt=2026-11-20/hr=00/part-0.jsonl", "lake/raw/dt=2026-11-20/hr=13/part-1.jsonl.gz",
		"lake/raw/dt=2026-11-20/hr=13/_SUCCESS", "lake/raw/dt=2026-11-21/hr=01/part-0.jsonl",
	}}
	srv := httptest.NewServer(gcs)
	defer srv.Close()
	t.Setenv("STORAGE_EMULATOR_HOST", srv.URL)

	got := relFiles(t, "gs://bucket/lake", day1, day1)
	want := [][]string{{"raw/dt=2026-11-20/hr=00/part-0.jsonl", "raw/dt=2026-11-20/hr=13/part-1.jsonl.gz"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("List(gs://bucket/lake) (-want +got):\n%s", d)
	}
	if len(gcs.asked) == 0 || gcs.asked[0] != "lake/raw/dt=2026-11-20/hr=" {
		t.Errorf("GCS was asked for prefixes %q, want lake/raw/dt=2026-11-20/hr= first", gcs.asked)
	}
	for _, root := range []string{"gs://bucket/elsewhere", "gs://other-bucket/lake"} {
		_, err := lake.List(t.Context(), root, day1, day1)
		if err == nil || !strings.Contains(err.Error(), "list lake "+root) {
			t.Errorf("List(%s) = %v, want an error naming the root", root, err)
		}
	}
}

func TestPartitionOf(t *testing.T) {
	for source, want := range map[string]string{
		"raw/dt=2026-11-20/hr=13/a.jsonl:42":               "2026-11-20",
		"s3://b/lake/raw/dt=2026-11-21/hr=00/x.jsonl.gz":   "2026-11-21",
		"raw/dt=2026-11-31/hr=13/a.jsonl:1":                "",
		"notraw/dt=2026-11-20/hr=13/a.jsonl:1":             "",
		"sub/sample:3":                                     "",
		"raw/dt=2026-11":                                   "",
		"lake/raw/dt=2026-11-20/hr=13/raw/dt=2026-11-19:1": "2026-11-19",
	} {
		got, ok := lake.PartitionOf(source)
		if (want == "") == ok || (ok && got.Format(time.DateOnly) != want) {
			t.Errorf("PartitionOf(%q) = %s, %v; want %q", source, got, ok, want)
		}
	}
}

// TestLinesCutsLongLines reads lines through a reader smaller than some of them: a line over the
// limit comes out cut to the limit with its full size, the others whole, CR LF and a missing
// final newline handled as for short lines.
func TestLinesCutsLongLines(t *testing.T) {
	long := strings.Repeat("x", 700<<10) // longer than the reader's 256 KiB buffer
	in := "a\r\n" + long + "\r\n" + "\n" + long[:10] + "\r\n" + long + "y"
	var got []event.Raw
	n, err := lake.Lines(strings.NewReader(in), "f", 20, func(r event.Raw) { got = append(got, r) })
	if err != nil || n != 5 {
		t.Fatalf("Lines = %d, %v; want 5 records", n, err)
	}
	want := []event.Raw{
		{Bytes: []byte("a"), Source: "f:1"},
		{Bytes: []byte(long[:20]), Source: "f:2", Size: int64(len(long))},
		{Bytes: []byte{}, Source: "f:3"},
		{Bytes: []byte(long[:10]), Source: "f:4"},
		{Bytes: []byte(long[:20]), Source: "f:5", Size: int64(len(long)) + 1},
	}
	if d := cmp.Diff(want, got, cmpopts.EquateEmpty()); d != "" {
		t.Errorf("Lines (-want +got):\n%s", d)
	}
	got = nil
	if _, err := lake.Lines(strings.NewReader(in), "f", 0, func(r event.Raw) { got = append(got, r) }); err != nil || len(got) != 5 || string(got[1].Bytes) != long || got[1].Size != 0 {
		t.Errorf("with the default limit the long lines must come out whole: err %v, %d records", err, len(got))
	}
}
