package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/io/archive"
	"github.com/beamline/beamline/io/source/pubsubsource/pubsubtest"
	"github.com/beamline/beamline/io/store"
	"github.com/beamline/beamline/io/topic"
)

// writeArchive writes records as one archive file of the hour of at, as the archive writer
// does.
func writeArchive(t *testing.T, dir string, at time.Time, records [][]byte) {
	t.Helper()
	path := archive.FileName(dir, at)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	for _, r := range records {
		zw.Write(append(r, '\n'))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestIngestWarmRestartRepublishes starts the ingest stage with a store whose speed watermark
// is set (the aggregate stage's) and an archive whose tail holds events before and after the
// point a restart replays from (as --stage=all does): it publishes the archived events from
// that point on, once each (the aggregate stage drops those it has already counted), and
// filters the older ones as out_of_range.
func TestIngestWarmRestartRepublishes(t *testing.T) {
	srv := pubsubtest.Start(t, 10*time.Second)
	cfg := testConfig(t, srv.URL+"?idle=1s&call=500ms")
	cfg.Stage, cfg.OutputTopic = StageIngest, srv.CreateTopic(t, "ingested")
	wm := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	from := planRestart(wm, time.Time{}, cfg.lateness()).ReplayFrom
	ctx := context.Background()
	st, err := store.Open(ctx, cfg.Store)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetSpeedWatermark(ctx, wm); err != nil {
		t.Fatal(err)
	}
	st.Close()
	rec := func(id string, at time.Time) []byte {
		return []byte(fmt.Sprintf(`{"event_id":%q,"type":"click","user_id":"u","url":"https://x/","ts":%q}`, id, at.Format(time.RFC3339Nano)))
	}
	writeArchive(t, cfg.Archive, from, [][]byte{rec("old", from.Add(-time.Minute)), rec("a", from), rec("b", from.Add(20*time.Minute)), []byte("garbage")})
	writeArchive(t, cfg.Archive, wm, [][]byte{rec("c", wm.Add(5*time.Minute)), rec("a", from)})
	writeArchive(t, cfg.Archive, from.Add(-time.Hour), [][]byte{rec("older", from.Add(-time.Hour))})

	j := startJob(t, cfg)
	published := func() map[string]int {
		ids := map[string]int{}
		for _, m := range srv.Messages() {
			if m.Topic == "projects/"+pubsubtest.Project+"/topics/ingested" {
				ids[m.Attributes[topic.AttrEventID]]++
			}
		}
		return ids
	}
	want := map[string]int{"a": 1, "b": 1, "c": 1}
	ok := j.waitFor(t, time.Minute, func() bool { return cmp.Equal(want, published()) })
	j.stop(t)
	if !ok {
		t.Errorf("published %v, want %v", published(), want)
	}
	c := j.rep.Counters
	if j.rep.Plan.ReplayFrom != from || len(j.rep.Plan.Files) != 2 || c["filtered_out_of_range"] != 1 || c["duplicates"] != 1 {
		t.Errorf("replayed %d files from %s (want 2 from %s); counters %v: want 1 filtered out_of_range and 1 duplicate",
			len(j.rep.Plan.Files), j.rep.Plan.ReplayFrom, from, c)
	}
}
