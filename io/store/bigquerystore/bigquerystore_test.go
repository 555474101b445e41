package bigquerystore_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/beamline/beamline/io/store"
	"github.com/beamline/beamline/io/store/bigquerystore"
	"github.com/beamline/beamline/io/store/bigquerystore/bqtest"
	"github.com/beamline/beamline/io/store/storetest"
)

const project = "beamline-test"

var datasets atomic.Int64

// TestConformance runs the conformance suite against the BigQuery emulator, one dataset per
// subtest. Without the emulator it skips, or fails in CI (see package bqtest).
func TestConformance(t *testing.T) {
	t.Setenv(bigquerystore.EmulatorHostEnv, bqtest.Start(t, project))
	storetest.RunConformanceTests(t, func(t *testing.T) *store.Store {
		url := fmt.Sprintf("bigquery://%s/views_%d", project, datasets.Add(1))
		st, err := store.Open(t.Context(), url)
		if err != nil {
			t.Fatalf("store.Open(%s): %v", url, err)
		}
		return st
	})
}

// TestReadOnly checks OpenReadOnly against the emulator, on a dataset that does not exist yet.
func TestReadOnly(t *testing.T) {
	t.Setenv(bigquerystore.EmulatorHostEnv, bqtest.Start(t, project))
	storetest.RunReadOnlyTests(t, func(t *testing.T) string {
		return fmt.Sprintf("bigquery://%s/views_%d", project, datasets.Add(1))
	})
}
