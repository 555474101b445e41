package main

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/io/views/reference"
)

func testConfig(out string) config {
	return config{
		out: out, seed: 5, events: 3000, days: 2, from: time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC),
		dup: 0.02, late: 0.1, bad: 0.02, bot: 0.03, gzipFraction: 0.5, filesPerHour: 3,
	}
}

// tree returns the files under root and their contents.
func tree(t *testing.T, root string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		rel, _ := filepath.Rel(root, path)
		files[filepath.ToSlash(rel)] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestWrite(t *testing.T) {
	cfg := testConfig(t.TempDir())
	st, err := write(cfg)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := reference.ReadLake(cfg.out, cfg.from, cfg.from.AddDate(0, 0, cfg.days-1))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != cfg.events || st.records != cfg.events {
		t.Errorf("wrote %d records, read back %d; want %d", st.records, len(recs), cfg.events)
	}
	files, gz := map[string]bool{}, 0
	for _, rec := range recs {
		file, _, _ := strings.Cut(rec.Source, ":")
		if !files[file] {
			files[file] = true
			if strings.HasSuffix(file, ".gz") {
				gz++
			}
		}
		var ev struct{ TS string }
		if json.Unmarshal(rec.Raw, &ev) != nil {
			continue
		}
		ts, err := time.Parse(time.RFC3339Nano, ev.TS)
		if err != nil {
			continue
		}
		if want := ts.UTC().Format("raw/dt=2006-01-02/hr=15/"); !strings.HasPrefix(rec.Source, want) {
			t.Errorf("%s: ts %s belongs under %s", rec.Source, ev.TS, want)
		}
	}
	if len(files) != st.files {
		t.Errorf("wrote %d files, read %d", st.files, len(files))
	}
	if gz == 0 || gz == len(files) {
		t.Errorf("%d of %d files gzipped, want a mix", gz, len(files))
	}
	if st.lateFiles == 0 {
		t.Error("no file for late records")
	}

	again := testConfig(t.TempDir())
	if _, err := write(again); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(tree(t, cfg.out), tree(t, again.out)); diff != "" {
		t.Errorf("same seed, different lakes (-first +second):\n%s", diff)
	}
	if _, err := write(cfg); err == nil {
		t.Error("writing over an existing lake: no error")
	}
}

func TestValidate(t *testing.T) {
	good := testConfig("x")
	if err := good.validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
	for _, bad := range []func(*config){
		func(c *config) { c.out = "" },
		func(c *config) { c.days = 0 },
		func(c *config) { c.events = -1 },
		func(c *config) { c.filesPerHour = 0 },
		func(c *config) { c.dup, c.late, c.bad, c.bot = 0.5, 0.5, 0.1, 0 },
	} {
		c := testConfig("x")
		bad(&c)
		if err := c.validate(); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
}
