package reference_test

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/io/views"
	"github.com/beamline/beamline/io/views/reference"
)

// writeFiles writes files (slash-separated path -> contents) under a new temporary directory
// and returns it; names ending in ".gz" are gzipped.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, contents := range files {
		path := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		data := []byte(contents)
		if strings.HasSuffix(name, ".gz") {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			zw.Write(data)
			zw.Close()
			data = buf.Bytes()
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestReadLake(t *testing.T) {
	root := writeFiles(t, map[string]string{
		"raw/dt=2026-11-20/hr=00/b.jsonl":     "b1\nb2\n",
		"raw/dt=2026-11-20/hr=00/a.jsonl.gz":  "a1\r\n\r\na3\r\r\n",
		"raw/dt=2026-11-20/hr=13/c.jsonl":     "c1\n\nc3", // no final newline
		"raw/dt=2026-11-20/hr=13/empty.jsonl": "",
		"raw/dt=2026-11-20/hr=13/nl.jsonl":    "\n",
		"raw/dt=2026-11-20/hr=13/x.json":      "not a lake file\n",
		"raw/dt=2026-11-20/hr=13/x.jsonl.bak": "not a lake file\n",
		"raw/dt=2026-11-20/other/y.jsonl":     "not an hour\n",
		"raw/dt=2026-11-21/hr=02/d.jsonl":     "d1\n",
		"raw/dt=2026-11-22/hr=00/e.jsonl":     "after the range\n",
		"raw/dt=2026-11-19/hr=23/f.jsonl":     "before the range\n",
	})
	recs, err := reference.ReadLake(root, day, day.AddDate(0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	want := []reference.Record{
		{Raw: []byte("a1"), Source: "raw/dt=2026-11-20/hr=00/a.jsonl.gz:1"},
		{Raw: []byte(""), Source: "raw/dt=2026-11-20/hr=00/a.jsonl.gz:2"},
		{Raw: []byte("a3\r"), Source: "raw/dt=2026-11-20/hr=00/a.jsonl.gz:3"},
		{Raw: []byte("b1"), Source: "raw/dt=2026-11-20/hr=00/b.jsonl:1"},
		{Raw: []byte("b2"), Source: "raw/dt=2026-11-20/hr=00/b.jsonl:2"},
		{Raw: []byte("c1"), Source: "raw/dt=2026-11-20/hr=13/c.jsonl:1"},
		{Raw: []byte(""), Source: "raw/dt=2026-11-20/hr=13/c.jsonl:2"},
		{Raw: []byte("c3"), Source: "raw/dt=2026-11-20/hr=13/c.jsonl:3"},
		{Raw: []byte(""), Source: "raw/dt=2026-11-20/hr=13/nl.jsonl:1"},
		{Raw: []byte("d1"), Source: "raw/dt=2026-11-21/hr=02/d.jsonl:1"},
	}
	if diff := cmp.Diff(want, recs); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}

	if recs, err := reference.ReadLake(root, day.AddDate(0, 0, 5), day.AddDate(0, 0, 6)); err != nil || len(recs) != 0 {
		t.Errorf("days without partitions: %d records, error %v; want none, nil", len(recs), err)
	}
	if _, err := reference.ReadLake(filepath.Join(root, "missing"), day, day); err == nil {
		t.Error("a missing lake: no error")
	}
	bad := writeFiles(t, map[string]string{"raw/dt=2026-11-20/hr=00/a.jsonl.gz": "x"})
	os.WriteFile(filepath.Join(bad, "raw/dt=2026-11-20/hr=00/a.jsonl.gz"), []byte("not gzip"), 0o644)
	if _, err := reference.ReadLake(bad, day, day); err == nil {
		t.Error("a corrupt .gz file: no error")
	}
}

func TestReadCategories(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"ok.csv":     "url_prefix,category\nhttps://a.example/,a\n\"https://b.example/?x=1,2\",b\n",
		"header.csv": "prefix,category\nhttps://a.example/,a\n",
		"dup.csv":    "url_prefix,category\nhttps://a.example/,a\nhttps://a.example/,b\n",
		"fields.csv": "url_prefix,category\nhttps://a.example/\n",
		"empty.csv":  "",
	})
	got, err := reference.ReadCategories(filepath.Join(dir, "ok.csv"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"https://a.example/": "a", "https://b.example/?x=1,2": "b"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("categories (-want +got):\n%s", diff)
	}
	for _, name := range []string{"header.csv", "dup.csv", "fields.csv", "empty.csv", "missing.csv"} {
		if _, err := reference.ReadCategories(filepath.Join(dir, name)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestWriteCSV(t *testing.T) {
	start := time.Date(2026, 11, 20, 10, 5, 0, 0, time.UTC)
	rows := []views.Row{
		{View: views.PageViews, Key: "https://a.example/?q=1,2", WindowStart: start, WindowEnd: start.Add(time.Minute),
			Metrics: map[string]int64{"views": 3, "visitors": 2}, Layer: views.Batch},
		{View: views.Sessions, Key: "DE", WindowStart: start.Truncate(time.Hour), WindowEnd: start.Truncate(time.Hour).Add(time.Hour),
			Metrics: map[string]int64{"sessions": 1, "events": 2, "duration_s": 30}, Layer: views.Batch},
	}
	var buf bytes.Buffer
	if err := reference.WriteCSV(&buf, rows); err != nil {
		t.Fatal(err)
	}
	want := "view,key,window_start,window_end,metrics\n" +
		"page_views,\"https://a.example/?q=1,2\",2026-11-20T10:05:00Z,2026-11-20T10:06:00Z,views=3;visitors=2\n" +
		"sessions,DE,2026-11-20T10:00:00Z,2026-11-20T11:00:00Z,duration_s=30;events=2;sessions=1\n"
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("csv (-want +got):\n%s", diff)
	}
}
