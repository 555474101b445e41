// Package bigquerystore is the production view store on Google Cloud: a BigQuery dataset,
// accessed through cloud.google.com/go/bigquery.
//
// # Usage
//
// Import the package for its side effect and open a store by URL:
//
//	import _ "github.com/beamline/beamline/io/store/bigquerystore"
//	st, err := store.Open(ctx, "bigquery://my-project/views")
//
// The dataset and its tables are created if missing. Credentials are Application Default
// Credentials. If BIGQUERY_EMULATOR_HOST is set (host:port of a local emulator such as
// github.com/goccy/bigquery-emulator), the store talks to it over HTTP without credentials.
//
// # Layout: append-only, latest version wins
//
// BigQuery has no cheap row updates (DML cannot touch rows still in the streaming buffer, and
// the emulator has no MERGE), so every write is an append through streaming inserts, and every
// row carries a version (microseconds of the writer's clock, then one more per row of the call); a
// read keeps, for each identity, the row with the highest version (picked in Go: the queries
// only filter):
//
//   - batch_rows (run, view, key, window_start, window_end, day, metrics, version): writing the
//     same (run, view, key, window start) again replaces the row at read time.
//   - speed_rows (view, key, window_start, window_end, metrics, version): per (view, key,
//     window start) the heaviest row (views.Row.Weight) is served, of equal ones the newest, so
//     a served speed row never goes down.
//   - publications (run, days, published_at, version): one row per Publish, listing all its
//     days. A day is served by the run that started last (run IDs sort by start time) of the
//     publications that list it. Publishing is
//     one single-row insert, so readers see all of its days switch at once. A batch query reads
//     the publications, then the rows of the runs they name: rows are never changed and a run
//     is complete before it is published, so that is one snapshot.
//   - meta (name, value, version): the speed watermark.
//
// Metrics are JSON text (exact int64s), times are TIMESTAMPs (microseconds). Rows of replaced
// runs and older versions are not deleted; expire them with the tables' partitioning or a
// scheduled query once out of the streaming buffer.
package bigquerystore

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/option"

	"github.com/beamline/beamline/io/store"
)

// Scheme is the URL scheme this driver registers with store.Register.
const Scheme = "bigquery"

// EmulatorHostEnv names the environment variable that points the store at an emulator.
const EmulatorHostEnv = "BIGQUERY_EMULATOR_HOST"

func init() {
	store.Register(Scheme, "bigquery", openURL)
}

// Store is a view store in a BigQuery dataset, the driver under store.Store. It is safe for
// concurrent use.
type Store struct {
	client  *bigquery.Client
	dataset *bigquery.Dataset
}

var _ store.Driver = (*Store)(nil)

var (
	projectRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	datasetRE = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
)

func openURL(ctx context.Context, u *url.URL, opts store.Options) (store.Driver, error) {
	project, dataset, err := parse(u)
	if err != nil {
		return nil, err
	}
	if opts.ReadOnly {
		return openReadOnly(ctx, project, dataset)
	}
	return open(ctx, project, dataset)
}

// parse returns the project and dataset of bigquery://project/dataset.
func parse(u *url.URL) (project, dataset string, err error) {
	project, dataset = u.Host, strings.Trim(u.Path, "/")
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", "", fmt.Errorf("url %q: want bigquery://project/dataset", u.Redacted())
	}
	if !projectRE.MatchString(project) {
		return "", "", fmt.Errorf("url %q: bad project ID %q", u.Redacted(), project)
	}
	if !datasetRE.MatchString(dataset) || len(dataset) > 1024 {
		return "", "", fmt.Errorf("url %q: bad dataset ID %q (letters, digits and _)", u.Redacted(), dataset)
	}
	return project, dataset, nil
}

// open opens the store in dataset of project, creating the dataset and tables if missing.
func open(ctx context.Context, project, dataset string) (*Store, error) {
	client, err := bigquery.NewClient(ctx, project, clientOptions()...)
	if err != nil {
		return nil, err
	}
	s := &Store{client: client, dataset: client.Dataset(dataset)}
	if err := s.createTables(ctx); err != nil {
		client.Close()
		return nil, fmt.Errorf("create tables: %w", err)
	}
	return s, nil
}

// openReadOnly opens the existing store in dataset of project for reading: it creates nothing,
// and fails with store.ErrNotExist when the dataset has no publications table (store.Store
// refuses every write; give the serving API's credentials read access only as well).
func openReadOnly(ctx context.Context, project, dataset string) (*Store, error) {
	client, err := bigquery.NewClient(ctx, project, clientOptions()...)
	if err != nil {
		return nil, err
	}
	s := &Store{client: client, dataset: client.Dataset(dataset)}
	if _, err := s.dataset.Table(pubTable).Metadata(ctx); err != nil {
		client.Close()
		return nil, fmt.Errorf("%w: no publications table (%w)", store.ErrNotExist, err)
	}
	return s, nil
}

// clientOptions points the client at the emulator when BIGQUERY_EMULATOR_HOST is set.
func clientOptions() []option.ClientOption {
	host := os.Getenv(EmulatorHostEnv)
	if host == "" {
		return nil
	}
	if !strings.Contains(host, "://") {
		host = "http://" + host
	}
	return []option.ClientOption{option.WithEndpoint(host), option.WithoutAuthentication()}
}

// Close closes the client.
func (s *Store) Close() error {
	return s.client.Close()
}
