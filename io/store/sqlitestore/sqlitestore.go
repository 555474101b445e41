// Package sqlitestore is the embedded view store: one SQLite file, accessed through the pure-Go
// modernc.org/sqlite driver (no cgo). It is the default store for local runs, demos and tests.
//
// # Usage
//
// Import the package for its side effect and open a store by URL:
//
//	import _ "github.com/beamline/beamline/io/store/sqlitestore"
//	st, err := store.Open(ctx, "sqlite:///var/lib/beamline/views.db")
//
// The URL names a file: sqlite:///abs/path/views.db is absolute, sqlite://rel/path/views.db is
// relative to the working directory. The file is created if missing; its directory must exist.
// In-memory databases are not supported (see [ErrInMemory]). [Open] opens a store by path.
//
// # Concurrency
//
// The file is kept in WAL mode, so readers never block writers and always read one committed
// snapshot per query. Writers through one [Store] queue for its single write connection; writers in
// other Store values or processes on the same file wait for each other up to a busy timeout.
//
// # Layout
//
// Batch rows live in batch_rows keyed by (run, view, key, window_start) with the UTC day of their
// window start; publications maps each day to the run that serves it, and a batch query joins the
// two in one statement. Speed rows live in speed_rows keyed by (view, key, window_start); meta holds
// the speed watermark. Times are Unix milliseconds (UTC) and metrics are JSON objects.
package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/beamline/beamline/io/store"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Scheme is the URL scheme this driver registers with store.Register.
const Scheme = "sqlite"

// busyTimeout is how long a write waits for another connection (another Store value or process on
// the same file) to release its lock before it fails.
const busyTimeout = 30 * time.Second

// maxReaders bounds the read connections of one Store.
const maxReaders = 8

// ErrInMemory is returned when asked for an in-memory database: each connection of a pool would
// see its own empty database, so a store needs a file.
var ErrInMemory = errors.New("in-memory sqlite databases are not supported; use a file path")

func init() {
	store.Register(Scheme, "sqlite", openURL)
}

// Store is a view store in one SQLite file, the driver under store.Store. It is safe for
// concurrent use.
type Store struct {
	w        *sql.DB // one connection: this Store's writers queue here instead of in SQLite's busy loop
	r        *sql.DB // read-only pool
	readOnly bool
	stmts    sync.Map // query text -> *sql.Stmt on r, prepared once (see stmt)
}

var _ store.Driver = (*Store)(nil)

// name is the driver's name in errors.
const name = "sqlite"

// Open opens (creating if needed) the store in the SQLite file at path and creates its schema.
func Open(ctx context.Context, path string) (*store.Store, error) {
	d, err := open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("%s store: open %s: %w", name, path, err)
	}
	return store.New(name, d, store.Options{}), nil
}

// OpenReadOnly opens the existing store in the SQLite file at path for reading: it fails with
// store.ErrNotExist when there is no such file, or when the file holds no view store, and
// every write fails.
func OpenReadOnly(ctx context.Context, path string) (*store.Store, error) {
	d, err := openReadOnly(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("%s store: open %s: %w", name, path, err)
	}
	return store.New(name, d, store.Options{ReadOnly: true}), nil
}

// open opens (creating if needed) the store in the SQLite file at path and creates its schema.
func open(ctx context.Context, path string) (*Store, error) {
	if err := checkPath(path); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	s, err := openPools(path, false)
	if err != nil {
		return nil, err
	}
	if err := s.createSchema(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close checkpoints the write-ahead log (unless the store is read-only) into the database file and truncates it (best effort:
// a reader in another process may hold it), then closes the store's connections. Without it a
// WAL written by large backfills stays on disk at its largest size.
func (s *Store) Close() error {
	if !s.readOnly {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := s.w.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
			slog.Warn("sqlite store: checkpoint on close", "err", err)
		}
	}
	s.stmts.Range(func(_, st any) bool {
		st.(*sql.Stmt).Close()
		return true
	})
	return errors.Join(s.w.Close(), s.r.Close())
}

// stmt returns the statement of text prepared on the read pool, preparing it on first use:
// the serving API runs a few query shapes many times a second, and parsing them each time was
// a sixth of a query's cost.
func (s *Store) stmt(ctx context.Context, text string) (*sql.Stmt, error) {
	if st, ok := s.stmts.Load(text); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := s.r.PrepareContext(ctx, text)
	if err != nil {
		return nil, err
	}
	if prev, loaded := s.stmts.LoadOrStore(text, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

func openURL(ctx context.Context, u *url.URL, opts store.Options) (store.Driver, error) {
	path, err := pathOf(u)
	if err != nil {
		return nil, err
	}
	if opts.ReadOnly {
		return openReadOnly(ctx, path)
	}
	return open(ctx, path)
}

// openReadOnly opens the existing store in the SQLite file at path for reading.
func openReadOnly(ctx context.Context, path string) (*Store, error) {
	if err := checkPath(path); err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%w: %w", store.ErrNotExist, err)
	}
	s, err := openPools(path, true)
	if err != nil {
		return nil, err
	}
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'publications'`).Scan(&n); err != nil || n == 0 {
		s.Close()
		return nil, fmt.Errorf("%w: %s holds no view store (%v)", store.ErrNotExist, path, err)
	}
	return s, nil
}

// pathOf returns the file named by a sqlite URL: host and path together, so that both
// sqlite:///abs/views.db and sqlite://rel/views.db work.
func pathOf(u *url.URL) (string, error) {
	if u.Opaque == ":memory:" {
		return "", ErrInMemory
	}
	if u.Opaque != "" || u.User != nil {
		return "", fmt.Errorf("malformed url %q: want sqlite:///abs/path.db or sqlite://rel/path.db", u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("url %q: query parameters are not supported", u.Redacted())
	}
	return u.Host + u.Path, nil
}

func checkPath(path string) error {
	switch {
	case path == "":
		return errors.New("no file path")
	case path == ":memory:" || strings.HasPrefix(path, "file:"):
		return ErrInMemory
	case strings.ContainsRune(path, '?'):
		return fmt.Errorf("path %q: must not contain '?'", path)
	}
	return nil
}

func openPools(path string, readOnly bool) (*Store, error) {
	common := fmt.Sprintf("_busy_timeout=%d", busyTimeout.Milliseconds())
	// The writer's page cache (64 MiB, the default is 2 MiB) holds the pages a backfill's large
	// transactions touch, so they are written to the WAL once per commit, not spilled.
	writer := "&_journal_mode=WAL&_synchronous=NORMAL&_txlock=immediate&_pragma=cache_size(-65536)"
	if readOnly {
		writer = "&_query_only=1"
	}
	w, err := sql.Open("sqlite", path+"?"+common+writer)
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	r, err := sql.Open("sqlite", path+"?"+common+"&_query_only=1")
	if err != nil {
		w.Close()
		return nil, err
	}
	r.SetMaxOpenConns(maxReaders)
	r.SetMaxIdleConns(maxReaders)
	return &Store{w: w, r: r, readOnly: readOnly}, nil
}
