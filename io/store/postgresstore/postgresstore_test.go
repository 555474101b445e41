package postgresstore_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/beamline/beamline/io/store"
	"github.com/beamline/beamline/io/store/postgresstore"
	"github.com/beamline/beamline/io/store/postgresstore/pgtest"
	"github.com/beamline/beamline/io/store/storetest"
	"github.com/beamline/beamline/io/views"
)

// The tests run against a real PostgreSQL: BEAMLINE_TEST_POSTGRES, or one that pgtest starts.
func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.StopShared()
	os.Exit(code)
}

var day1 = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)

func TestConformance(t *testing.T) {
	srv := pgtest.Shared(t)
	storetest.RunConformanceTests(t, func(t *testing.T) *store.Store {
		return open(t, srv.FreshURL(t))
	})
}

var (
	open       = storetest.Open
	openClosed = storetest.OpenClosed
)

// pageViews returns n page_views rows of the minute starting at start, keys prefixed by prefix.
var pageViews = storetest.PageViewRows

func TestOpenURLSchemes(t *testing.T) {
	base := pgtest.Shared(t).FreshURL(t)
	for _, scheme := range postgresstore.Schemes {
		u, _ := url.Parse(base)
		u.Scheme = scheme
		st := openClosed(t, u.String())
		if _, ok := st.Driver().(*postgresstore.Store); !ok {
			t.Errorf("store.Open(%s://...) has driver %T, want *postgresstore.Store", scheme, st.Driver())
		}
	}
}

func TestOpenErrors(t *testing.T) {
	for _, rawURL := range []string{
		"postgres://beamline:s3cret@127.0.0.1:1/views?connect_timeout=2", // nothing listens on port 1
		"postgres://beamline:s3cret@127.0.0.1:5432/views?sslmode=bogus",
		"postgresql://beamline:s3cret@127.0.0.1:1/views?connect_timeout=2",
	} {
		st, err := store.Open(t.Context(), rawURL)
		if err == nil {
			st.Close()
			t.Fatalf("store.Open(%s): nil error, want one", rawURL)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("store.Open error shows the password: %v", err)
		}
		if !strings.Contains(err.Error(), "postgres store: ") {
			t.Errorf("store.Open error %q does not say which driver failed", err)
		}
	}
}

// TestSchemasAreSeparate checks that stores in two schemas of one database share nothing.
func TestSchemasAreSeparate(t *testing.T) {
	srv := pgtest.Shared(t)
	a, b := openClosed(t, srv.FreshURL(t)), openClosed(t, srv.FreshURL(t))
	ctx := t.Context()
	if err := a.UpsertSpeed(ctx, pageViews("/a", day1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	if err := a.Publish(ctx, "run-a", []time.Time{day1}); err != nil {
		t.Fatal(err)
	}
	got, err := b.Query(ctx, store.Query{View: views.PageViews, Layer: views.Speed, From: day1, To: day1.Add(time.Hour)})
	if err != nil || len(got) != 0 {
		t.Errorf("other schema's speed rows = %d, %v; want none", len(got), err)
	}
	if pubs, err := b.Publications(ctx); err != nil || len(pubs) != 0 {
		t.Errorf("other schema's publications = %v, %v; want none", pubs, err)
	}
}

// TestConcurrentOpen opens one new store from many goroutines at once, as the workers of a
// pipeline do: creating the schema must not race.
func TestConcurrentOpen(t *testing.T) {
	rawURL := pgtest.Shared(t).FreshURL(t)
	const openers = 8
	var wg sync.WaitGroup
	for i := range openers {
		wg.Go(func() {
			st, err := store.Open(t.Context(), rawURL)
			if err != nil {
				t.Errorf("opener %d: %v", i, err)
				return
			}
			defer st.Close()
			if err := st.UpsertSpeed(t.Context(), pageViews(fmt.Sprintf("/o%d", i), day1, 10, 1)); err != nil {
				t.Errorf("opener %d: UpsertSpeed: %v", i, err)
			}
		})
	}
	wg.Wait()
	st := openClosed(t, rawURL)
	got, err := st.Query(t.Context(), store.Query{View: views.PageViews, Layer: views.Speed, From: day1, To: day1.Add(time.Hour)})
	if err != nil || len(got) != openers*10 {
		t.Errorf("rows after concurrent opens = %d, %v; want %d", len(got), err, openers*10)
	}
}

// TestPublishCollectsGarbage: the rows of a replaced run are deleted for the days it lost.
func TestPublishCollectsGarbage(t *testing.T) {
	rawURL := pgtest.Shared(t).FreshURL(t)
	storetest.CheckPublishCollectsGarbage(t, openClosed(t, rawURL), func() map[string]int { return countByRun(t, rawURL) })
}

// countByRun counts the batch rows of each run in the schema of rawURL, with a plain connection.
func countByRun(t *testing.T, rawURL string) map[string]int {
	t.Helper()
	u, _ := url.Parse(rawURL)
	q := u.Query()
	schema := q.Get(postgresstore.SchemaParam)
	q.Del(postgresstore.SchemaParam)
	u.RawQuery = q.Encode()
	conn, err := pgx.Connect(t.Context(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(t.Context(), `SELECT run, count(*) FROM `+pgx.Identifier{schema, "batch_rows"}.Sanitize()+` GROUP BY run`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	var run string
	var n int
	if _, err := pgx.ForEachRow(rows, []any{&run, &n}, func() error { out[run] = n; return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// BenchmarkWriteBatch measures WriteBatch calls of 10,000 rows, each into a fresh run.
func BenchmarkWriteBatch(b *testing.B) {
	st, err := store.Open(b.Context(), pgtest.Shared(b).FreshURL(b))
	if err != nil {
		b.Fatal(err)
	}
	storetest.BenchmarkWriteBatch(b, st, 10_000)
}

func TestReadOnly(t *testing.T) {
	srv := pgtest.Shared(t)
	storetest.RunReadOnlyTests(t, func(t *testing.T) string { return srv.FreshURL(t) })
}
