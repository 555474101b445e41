// Package storetest is the conformance suite that every view-store driver must pass, so that the
// pipelines and the serving API can rely on the semantics documented in package store whichever
// driver a URL selects.
//
// # Usage
//
// Call RunConformanceTests from a driver's tests with a function that opens a fresh, empty store:
//
//	func TestConformance(t *testing.T) {
//		storetest.RunConformanceTests(t, func(t *testing.T) *store.Store {
//			st, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "views.db"))
//			if err != nil {
//				t.Fatal(err)
//			}
//			return st
//		})
//	}
//
// The suite closes every store it opens. It runs against a real store, so a driver for a remote
// service runs it against that service's local emulator or a scratch database.
package storetest

import (
	"testing"

	"github.com/beamline/beamline/io/store"
)

// conformanceTests are the suite's tests, each run against its own fresh store.
var conformanceTests = []struct {
	name string
	test func(t *testing.T, st *store.Store)
}{
	{"BatchInvisibleUntilPublished", testBatchInvisibleUntilPublished},
	{"RepublishReplacesRun", testRepublishReplacesRun},
	{"OlderRunNeverReplacesNewer", testOlderRunNeverReplacesNewer},
	{"Retain", testRetain},
	{"Runs", testRuns},
	{"HalfWrittenRunNeverServed", testHalfWrittenRunNeverServed},
	{"WriteBatchIsIdempotent", testWriteBatchIsIdempotent},
	{"UpsertSpeedLastWriteWins", testUpsertSpeedLastWriteWins},
	{"UpsertSpeedNeverGoesDown", testUpsertSpeedNeverGoesDown},
	{"QueryFilters", testQueryFilters},
	{"RowsRoundTripExactly", testRowsRoundTripExactly},
	{"QueryRejectsUnknownLayer", testQueryRejectsUnknownLayer},
	{"Publications", testPublications},
	{"SpeedWatermark", testSpeedWatermark},
	{"ConcurrentPublishIsAtomic", testConcurrentPublishIsAtomic},
	{"CancelledContext", testCancelledContext},
	{"InvalidRowsRejected", testInvalidRowsRejected},
	{"EmptyCallsAreNoOps", testEmptyCallsAreNoOps},
}

// RunConformanceTests runs the conformance suite as subtests of t. open must return a fresh,
// empty store for the subtest it is given; the suite closes it when that subtest ends.
func RunConformanceTests(t *testing.T, open func(t *testing.T) *store.Store) {
	t.Helper()
	for _, ct := range conformanceTests {
		t.Run(ct.name, func(t *testing.T) {
			st := open(t)
			t.Cleanup(func() {
				if err := st.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			ct.test(t, st)
		})
	}
}
