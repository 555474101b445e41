package sqlitestore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/io/store"
	"github.com/beamline/beamline/io/store/sqlitestore"
	"github.com/beamline/beamline/io/store/storetest"
	"github.com/beamline/beamline/io/views"
)

var day1 = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)

func TestConformance(t *testing.T) {
	storetest.RunConformanceTests(t, func(t *testing.T) *store.Store {
		return openFile(t, filepath.Join(t.TempDir(), "views.db"))
	})
}

// openFile opens the store in file path; the caller closes it.
func openFile(t *testing.T, path string) *store.Store { return storetest.Open(t, "sqlite://"+path) }

// openClosed opens the store in path and closes it when t ends.
func openClosed(t *testing.T, path string) *store.Store {
	return storetest.OpenClosed(t, "sqlite://"+path)
}

// pageViews returns n page_views rows of the minute starting at start, keys prefixed by prefix.
var pageViews = storetest.PageViewRows

func TestOpenURL(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.Mkdir("rel", 0o755); err != nil {
		t.Fatal(err)
	}
	for _, rawURL := range []string{
		"sqlite://" + filepath.Join(dir, "abs.db"),
		"sqlite://rel/views.db",
		"sqlite://views.db",
	} {
		t.Run(rawURL, func(t *testing.T) {
			st, err := store.Open(t.Context(), rawURL)
			if err != nil {
				t.Fatalf("store.Open(%q): %v", rawURL, err)
			}
			defer st.Close()
			if _, ok := st.Driver().(*sqlitestore.Store); !ok {
				t.Errorf("store.Open(%q) has driver %T, want *sqlitestore.Store", rawURL, st.Driver())
			}
		})
	}
	for _, name := range []string{"abs.db", "rel/views.db", "views.db"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("database file not created: %v", err)
		}
	}
}

// fileAsDir returns the path of a regular file, where a directory is needed.
func fileAsDir(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestOpenCreatesDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new", "dir", "views.db")
	st, err := store.Open(t.Context(), "sqlite://"+path)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database file not created: %v", err)
	}
}

func TestOpenURLErrors(t *testing.T) {
	tests := []struct {
		url    string
		target error // if set, the error must wrap it
	}{
		{url: "sqlite://:memory:"}, // not even a valid URL: the port is not a number
		{url: "sqlite::memory:", target: sqlitestore.ErrInMemory},
		{url: "sqlite://"},
		{url: "sqlite:///tmp/views.db?cache=shared"},
		{url: "sqlite://user@host/views.db"},
		{url: "sqlite://" + filepath.Join(fileAsDir(t), "views.db")},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			st, err := store.Open(t.Context(), tc.url)
			if err == nil {
				st.Close()
				t.Fatalf("store.Open(%q): nil error, want one", tc.url)
			}
			if tc.target != nil && !errors.Is(err, tc.target) {
				t.Errorf("store.Open(%q) = %v, want an error wrapping %v", tc.url, err, tc.target)
			}
		})
	}
	if _, err := sqlitestore.Open(t.Context(), ":memory:"); !errors.Is(err, sqlitestore.ErrInMemory) {
		t.Errorf("Open(:memory:) = %v, want %v", err, sqlitestore.ErrInMemory)
	}
}

func TestPublishRejectsBadArguments(t *testing.T) {
	st := openClosed(t, filepath.Join(t.TempDir(), "views.db"))
	tests := []struct {
		name string
		run  string
		day  time.Time
	}{
		{"empty run", "", day1},
		{"not midnight", "run-a", day1.Add(time.Hour)},
		{"midnight elsewhere", "run-a", time.Date(2026, 11, 20, 0, 0, 0, 0, time.FixedZone("CET", 3600))},
	}
	for _, tc := range tests {
		if err := st.Publish(t.Context(), tc.run, []time.Time{tc.day}); err == nil {
			t.Errorf("%s: Publish(%q, %s): nil error, want one", tc.name, tc.run, tc.day)
		}
	}
	if err := st.WriteBatch(t.Context(), "", pageViews("/p", day1, 1, 1)); err == nil {
		t.Errorf("WriteBatch with an empty run: nil error, want one")
	}
}

// TestConcurrentWriters writes from many goroutines through two Store values on one file, as Beam
// DoFn instances and a second process would, while a reader queries.
func TestConcurrentWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "views.db")
	handles := []*store.Store{openClosed(t, path), openClosed(t, path)}
	const writers, calls, rowsPerCall = 8, 10, 50
	var wg sync.WaitGroup
	for w := range writers {
		st := handles[w%len(handles)]
		wg.Go(func() {
			for c := range calls {
				rows := pageViews(fmt.Sprintf("/w%d/c%d", w, c), day1, rowsPerCall, int64(w))
				if err := st.WriteBatch(t.Context(), "run-a", rows); err != nil {
					t.Errorf("writer %d: WriteBatch: %v", w, err)
					return
				}
				if err := st.UpsertSpeed(t.Context(), rows); err != nil {
					t.Errorf("writer %d: UpsertSpeed: %v", w, err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			if _, err := handles[1].Query(t.Context(), store.Query{View: views.PageViews, Layer: views.Speed, From: day1, To: day1.Add(time.Hour)}); err != nil {
				t.Errorf("reader: Query: %v", err)
				return
			}
		}
	})
	wg.Wait()
	if err := handles[1].Publish(t.Context(), "run-a", []time.Time{day1}); err != nil {
		t.Fatal(err)
	}
	for _, layer := range []views.Layer{views.Batch, views.Speed} {
		got, err := handles[0].Query(t.Context(), store.Query{View: views.PageViews, Layer: layer, From: day1, To: day1.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if want := writers * calls * rowsPerCall; len(got) != want {
			t.Errorf("%s rows after concurrent writes: %d, want %d", layer, len(got), want)
		}
	}
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "views.db")
	rows := pageViews("/p", day1, 3, 7)
	watermark := day1.Add(90 * time.Minute)
	st := openFile(t, path)
	write(t, st, rows, watermark)
	if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() == 0 {
		t.Fatalf("the write-ahead log before Close: %v, %v; want a non-empty file", fi, err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() != 0 {
		t.Errorf("the write-ahead log holds %d bytes after Close, want it checkpointed and truncated", fi.Size())
	}

	st = openClosed(t, path)
	for _, layer := range []views.Layer{views.Batch, views.Speed} {
		got, err := st.Query(t.Context(), store.Query{View: views.PageViews, Layer: layer, From: day1, To: day1.AddDate(0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		want := withLayer(rows, layer)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s rows after reopening (-want +got):\n%s", layer, diff)
		}
	}
	if got, err := st.SpeedWatermark(t.Context()); err != nil || !got.Equal(watermark) {
		t.Errorf("SpeedWatermark after reopening = %v, %v; want %v", got, err, watermark)
	}
}

// write writes rows to both layers, publishes them as run-a and sets the watermark.
func write(t *testing.T, st *store.Store, rows []views.Row, watermark time.Time) {
	t.Helper()
	ctx := t.Context()
	err := errors.Join(
		st.WriteBatch(ctx, "run-a", rows),
		st.Publish(ctx, "run-a", []time.Time{views.Day(rows[0].WindowStart)}),
		st.UpsertSpeed(ctx, rows),
		st.SetSpeedWatermark(ctx, watermark))
	if err != nil {
		t.Fatal(err)
	}
}

func withLayer(rows []views.Row, layer views.Layer) []views.Row {
	out := make([]views.Row, len(rows))
	for i, r := range rows {
		r.Layer = layer
		out[i] = r
	}
	return out
}

// TestPublishCollectsGarbage: the rows of a replaced run are deleted for the days it lost.
func TestPublishCollectsGarbage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "views.db")
	storetest.CheckPublishCollectsGarbage(t, openClosed(t, path), func() map[string]int { return countByRun(t, path) })
}

func countByRun(t *testing.T, path string) map[string]int {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(t.Context(), `SELECT run, count(*) FROM batch_rows GROUP BY run`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var run string
		var n int
		if err := rows.Scan(&run, &n); err != nil {
			t.Fatal(err)
		}
		out[run] = n
	}
	return out
}

// TestQueryHonoursCancelMidway cancels a context while a large query runs.
func TestQueryHonoursCancelMidway(t *testing.T) {
	st := openClosed(t, filepath.Join(t.TempDir(), "views.db"))
	if err := st.UpsertSpeed(t.Context(), pageViews("/p", day1, 20000, 1)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Millisecond)
	defer cancel()
	_, err := st.Query(ctx, store.Query{View: views.PageViews, Layer: views.Speed, From: day1, To: day1.Add(time.Hour)})
	if err == nil {
		t.Skip("query finished within a millisecond; nothing to cancel")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Query past its deadline = %v, want an error wrapping %v", err, context.DeadlineExceeded)
	}
}

// BenchmarkWriteBatch measures WriteBatch calls of 100,000 rows, each into a fresh run.
func BenchmarkWriteBatch(b *testing.B) {
	st, err := sqlitestore.Open(b.Context(), filepath.Join(b.TempDir(), "views.db"))
	if err != nil {
		b.Fatal(err)
	}
	storetest.BenchmarkWriteBatch(b, st, 100_000)
}

func TestReadOnly(t *testing.T) {
	storetest.RunReadOnlyTests(t, func(t *testing.T) string {
		return "sqlite://" + filepath.Join(t.TempDir(), "views.db")
	})
}

// TestRunsOfAnOlderStore opens read-only a store created before run history (no runs table):
// it has no runs, and serving it does not fail.
func TestRunsOfAnOlderStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "views.db")
	openClosed(t, path)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DROP TABLE runs`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	st, err := sqlitestore.OpenReadOnly(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if runs, err := st.Runs(t.Context()); err != nil || len(runs) != 0 {
		t.Errorf("Runs of a store without run history = %v, %v; want none, nil", runs, err)
	}
}

// BenchmarkWriteDay measures a backfill's write of 200,000 shuffled rows into one run, in calls
// of 1,000 rows (the batch job's bundles) and in one call.
func BenchmarkWriteDay(b *testing.B) {
	for _, per := range []int{1_000, 200_000} {
		b.Run(fmt.Sprintf("per=%d", per), func(b *testing.B) {
			st, err := sqlitestore.Open(b.Context(), filepath.Join(b.TempDir(), "views.db"))
			if err != nil {
				b.Fatal(err)
			}
			storetest.BenchmarkWriteDay(b, st, 200_000, per)
		})
	}
}
