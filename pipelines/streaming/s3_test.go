package main

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/beamline/beamline/io/archive"
	"github.com/beamline/beamline/io/lake/laketest"
	"github.com/beamline/beamline/io/views"
)

// TestArchiveToS3 runs the job on a finite generator stream with the raw archive and the dead
// letters on S3 (an in-process S3 server, through Beam's S3 filesystem). The archive on S3
// holds every record read, partitioned as the batch job reads it; the speed views equal the
// independent reference computed from a local copy of that archive; the batch job's graph
// backfilled straight from s3://, one run per day, gives the same rows (sessions that cross
// midnight included: each is counted whole by the run of its first day); every garbage record is a dead letter
// on S3; and the warm restart's listing of the archive's tail works on S3.
func TestArchiveToS3(t *testing.T) {
	srv := laketest.StartS3(t, "bucket")
	// ~17 minutes of event time that cross midnight: every user's session crosses it.
	start := time.Date(2026, 11, 20, 23, 50, 0, 0, time.UTC)
	const records = 6000
	src := fmt.Sprintf("generator://?rate=3000&speedup=500&count=%d&seed=23&dup=0.03&late=0.05&bad=0.02&bots=0.02&users=200&max_late=3m&start=%s",
		records, start.Format(time.RFC3339))
	cfg := testConfig(t, src)
	cfg.Archive, cfg.DeadLetter = "s3://bucket/lake", "s3://bucket/deadletter"
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if c := rep.Counters; c["read"] != records || c["archived"] != records {
		t.Errorf("read %d, archived %d records; want %d each", c["read"], c["archived"], records)
	}

	local := cfg
	local.Archive = filepath.Join(t.TempDir(), "lake")
	files := srv.Download(t, "bucket", "lake", local.Archive)
	first := start.Truncate(24 * time.Hour)
	last := first.AddDate(0, 0, 1)
	want := expected(t, local, first, last)
	if want.Counts.Read != records {
		t.Fatalf("the archive on S3 holds %d records in %d files, want %d records", want.Counts.Read, files, records)
	}
	speed := rowsOf(t, cfg.Store, views.Speed, first, last.AddDate(0, 0, 1))
	diffRows(t, "speed views differ from the reference computed on the S3 archive", want.Rows, speed)
	if got, w := int64(len(deadLetters(t, cfg.DeadLetter))), sumOf(want.Counts.DeadLettered); got != w || w == 0 {
		t.Errorf("%d dead letters on S3, reference %d (want some)", got, w)
	}

	backfill(t, cfg, first, last)
	batch := rowsOf(t, cfg.Store, views.Batch, first, last.AddDate(0, 0, 1))
	diffRows(t, "the batch backfill from s3:// differs from the speed views", speed, batch)

	tail, err := archive.Tail(context.Background(), cfg.Archive, start, time.Now())
	if err != nil {
		t.Fatalf("archive.Tail on S3: %v", err)
	}
	if len(tail) == 0 || len(tail) > files {
		t.Errorf("archive.Tail on S3 listed %d files, the archive has %d", len(tail), files)
	}
}
