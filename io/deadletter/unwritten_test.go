package deadletter

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/io/event"
)

// TestWritten reads the sources of earlier runs' dead letters: only those of records of the
// archive's hours from the replay's start on, in any run's directory but the current one.
func TestWritten(t *testing.T) {
	dir := t.TempDir()
	write := func(run string, sources ...string) {
		var lines []string
		for _, src := range sources {
			b, err := json.Marshal(Line{DeadLetter: event.DeadLetter{Raw: []byte("garbage"), Reason: "invalid_json", Source: src}})
			if err != nil {
				t.Fatal(err)
			}
			lines = append(lines, string(b))
		}
		if err := os.MkdirAll(filepath.Join(dir, run), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, run, "part-1.jsonl"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const (
		before = "raw/dt=2026-11-20/hr=09/a.jsonl.gz:3"
		at     = "raw/dt=2026-11-20/hr=10/b.jsonl.gz:7"
		after  = "raw/dt=2026-11-21/hr=00/c.jsonl.gz:1"
		mine   = "raw/dt=2026-11-20/hr=11/d.jsonl.gz:2"
	)
	write("speed-20261120T000000Z", before, at, "pubsub-subscription/12345")
	write("ingest-20261120T120000Z", after)
	write("speed-20261121T000000Z", mine) // the current run's own
	got, err := Written(context.Background(), dir, "speed-20261121T000000Z", time.Date(2026, 11, 20, 10, 30, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string]bool{at: true, after: true}, got); d != "" {
		t.Errorf("written sources (-want +got):\n%s", d)
	}
}
