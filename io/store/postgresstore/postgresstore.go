// Package postgresstore is the self-hosted view store: a PostgreSQL database, accessed through
// github.com/jackc/pgx/v5 with a connection pool.
//
// # Usage
//
// Import the package for its side effect and open a store by URL (scheme postgres or
// postgresql, as libpq and pgx accept them):
//
//	import _ "github.com/beamline/beamline/io/store/postgresstore"
//	st, err := store.Open(ctx, "postgres://beamline@db.internal:5432/views?sslmode=require")
//
// Every parameter that pgx understands may be given in the URL (sslmode, connect_timeout,
// pool_max_conns, ...); passwords are best left to PGPASSWORD or a .pgpass file. One more
// parameter is this driver's: schema=NAME puts the store's tables in that schema, created if
// missing (default: the connection's search_path, normally public). A connect timeout of 10 s
// applies unless connect_timeout says otherwise; every call also honours its context.
//
// # Layout
//
// Batch rows live in batch_rows keyed by (run, view, key, window_start) with the UTC day of
// their window start; publications maps each day to the run that serves it, and a batch query
// joins the two in one statement, which reads one snapshot. Publish updates publications and
// deletes the rows of the runs it replaces (for the days they lose) in one transaction, so
// readers see the old runs or the new one, never a mix. Speed rows live in speed_rows keyed by
// (view, key, window_start); meta holds the speed watermark. Times are timestamptz (microsecond
// precision), metrics are jsonb objects, and text columns use the "C" collation so that rows
// come back in the byte order that Go sorts strings in. Writes are INSERT ... ON CONFLICT DO
// UPDATE with every value bound as a parameter (arrays, unnested by the server).
package postgresstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/beamline/beamline/io/store"
)

// Schemes are the URL schemes this driver registers with store.Register.
var Schemes = []string{"postgres", "postgresql"}

// SchemaParam is the URL query parameter that names the schema of the store's tables.
const SchemaParam = "schema"

// connectTimeout applies when the URL does not set connect_timeout.
const connectTimeout = 10 * time.Second

func init() {
	for _, s := range Schemes {
		store.Register(s, "postgres", openURL)
	}
}

// Store is a view store in a PostgreSQL database. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
}

var _ store.Driver = (*Store)(nil)

// openURL connects to the database at u (a postgres:// or postgresql:// URL, with an optional
// schema parameter) and creates the store's schema if missing (unless read-only).
func openURL(ctx context.Context, u *url.URL, opts store.Options) (store.Driver, error) {
	cfg, schema, err := poolConfig(u)
	if err != nil {
		return nil, err
	}
	if opts.ReadOnly {
		cfg.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s := &Store{pool: pool}
	if opts.ReadOnly {
		if err := s.checkExists(ctx); err != nil {
			pool.Close()
			return nil, err
		}
		return s, nil
	}
	if err := s.createSchema(ctx, schema); err != nil {
		pool.Close()
		return nil, fmt.Errorf("create schema: %w", err)
	}
	return s, nil
}

// checkExists returns store.ErrNotExist unless the store's tables are in its search path.
func (s *Store) checkExists(ctx context.Context) error {
	var found bool
	if err := s.pool.QueryRow(ctx, `SELECT to_regclass('publications') IS NOT NULL`).Scan(&found); err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("%w: the database holds no view store (no publications table)", store.ErrNotExist)
	}
	return nil
}

// poolConfig parses u without this driver's own parameter, and sets the search path to the
// schema that parameter names.
func poolConfig(u *url.URL) (*pgxpool.Config, string, error) {
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return nil, "", fmt.Errorf("scheme %q: want postgres or postgresql", u.Scheme)
	}
	clean := *u
	q := clean.Query()
	schema := q.Get(SchemaParam)
	q.Del(SchemaParam)
	clean.RawQuery = q.Encode()
	cfg, err := pgxpool.ParseConfig(clean.String())
	if err != nil {
		return nil, "", errors.New("bad connection parameters") // pgx's message may hold the password
	}
	if !q.Has("connect_timeout") {
		cfg.ConnConfig.ConnectTimeout = connectTimeout
	}
	if schema != "" {
		cfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{schema}.Sanitize()
	}
	return cfg, schema, nil
}

// Close closes the store's connections.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}
