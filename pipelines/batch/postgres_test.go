package main

import (
	"context"
	"testing"

	"github.com/beamline/beamline/io/store/postgresstore/pgtest"
)

// TestBackfillIntoPostgres backfills the committed lake into a PostgreSQL store (every worker
// opens it, as on a real runner) and compares with the reference.
func TestBackfillIntoPostgres(t *testing.T) {
	srv, err := pgtest.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop() })
	cfg := sampleConfig(t)
	cfg.Store = srv.FreshURL(t)
	rep, err := Backfill(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkBackfill(t, cfg, rep, expected(t, cfg))
}
