package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/beamline/beamline/io/lake/laketest"
)

// TestBackfillFromS3 backfills the committed lake from an in-process S3 server, with the
// reference CSV and the dead letters on S3 too, and compares with the same reference as the
// local test.
func TestBackfillFromS3(t *testing.T) {
	srv := laketest.StartS3(t, "bucket")
	if n := srv.Upload(t, sampleLake, "bucket", "lake"); n == 0 {
		t.Fatal("uploaded no files")
	}
	if err := srv.Put("bucket", "reference/categories.csv", categories); err != nil {
		t.Fatal(err)
	}
	cfg := sampleConfig(t)
	want := expected(t, cfg) // from the local copy
	cfg.Lake = "s3://bucket/lake"
	cfg.Reference = "s3://bucket/reference/categories.csv"
	cfg.DeadLetter = "s3://bucket/deadletter"

	rep, err := Backfill(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkBackfill(t, cfg, rep, want)
	if sum(rep.DeadLettered) == 0 {
		t.Error("no dead letters: the sample lake has some, so the S3 sink went untested")
	}
}

// TestBackfillReachesGCS checks that a gs:// lake goes through Beam's GCS filesystem (here to a
// local endpoint set by STORAGE_EMULATOR_HOST that knows no bucket) and that the error names
// the lake.
func TestBackfillReachesGCS(t *testing.T) {
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"error":{"code":404,"message":"The specified bucket does not exist."}}`))
	}))
	defer srv.Close()
	t.Setenv("STORAGE_EMULATOR_HOST", srv.URL)

	cfg := sampleConfig(t)
	cfg.Lake = "gs://no-such-bucket/lake"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := Backfill(ctx, cfg)
	if err == nil || !strings.Contains(err.Error(), "list lake gs://no-such-bucket/lake") || !strings.Contains(err.Error(), "404") {
		t.Errorf("Backfill from a missing GCS bucket = %v, want a 404 error naming the lake", err)
	}
	t.Logf("error: %v", err)
	if requests.Load() == 0 {
		t.Error("the GCS endpoint got no request")
	}
}
