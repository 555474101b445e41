package main

import (
	"context"
	"testing"

	"github.com/beamline/beamline/io/store/bigquerystore"
	"github.com/beamline/beamline/io/store/bigquerystore/bqtest"
)

// TestBackfillIntoBigQuery backfills the committed lake into a BigQuery store on the emulator
// (every worker opens it) and compares with the reference. Without the emulator it skips, or
// fails in CI: see package bqtest.
func TestBackfillIntoBigQuery(t *testing.T) {
	t.Setenv(bigquerystore.EmulatorHostEnv, bqtest.Start(t, "beamline-test"))
	cfg := sampleConfig(t)
	cfg.Store = "bigquery://beamline-test/views"
	rep, err := Backfill(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkBackfill(t, cfg, rep, expected(t, cfg))
}
