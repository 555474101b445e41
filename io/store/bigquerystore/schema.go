package bigquerystore

import (
	"context"
	"errors"
	"net/http"
	"time"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/googleapi"
)

// The tables' rows, as written; bigquery.InferSchema derives the tables' schemas from them.
type (
	batchRow struct {
		Run         string    `bigquery:"run"`
		View        string    `bigquery:"view"`
		Key         string    `bigquery:"key"`
		WindowStart time.Time `bigquery:"window_start"`
		WindowEnd   time.Time `bigquery:"window_end"`
		Day         time.Time `bigquery:"day"`
		Metrics     string    `bigquery:"metrics"`
		Version     int64     `bigquery:"version"`
	}
	speedRow struct {
		View        string    `bigquery:"view"`
		Key         string    `bigquery:"key"`
		WindowStart time.Time `bigquery:"window_start"`
		WindowEnd   time.Time `bigquery:"window_end"`
		Metrics     string    `bigquery:"metrics"`
		Version     int64     `bigquery:"version"`
	}
	publicationRow struct {
		Run         string      `bigquery:"run"`
		Days        []time.Time `bigquery:"days"`
		PublishedAt time.Time   `bigquery:"published_at"`
		Version     int64       `bigquery:"version"`
	}
	runRow struct {
		Run     string `bigquery:"run"`
		Days    string `bigquery:"days"` // JSON array of times: the emulator cannot read an array column back
		Status  string `bigquery:"status"`
		Started int64  `bigquery:"started_us"` // Unix microseconds; 0: none
		Ended   int64  `bigquery:"ended_us"`
		Report  string `bigquery:"report"`
		Version int64  `bigquery:"version"`
	}
	metaRow struct {
		Name    string    `bigquery:"name"`
		Value   time.Time `bigquery:"value"`
		Version int64     `bigquery:"version"`
	}
)

// Table names.
const (
	batchTable = "batch_rows"
	speedTable = "speed_rows"
	pubTable   = "publications"
	metaTable  = "meta"
	runsTable  = "batch_runs"
)

var tables = []struct {
	name string
	row  any
}{
	{batchTable, batchRow{}},
	{speedTable, speedRow{}},
	{pubTable, publicationRow{}},
	{metaTable, metaRow{}},
	{runsTable, runRow{}},
}

// createTables creates the dataset and tables that are missing. It creates only what it did not
// find, so a store whose tables exist needs no permission to create any; and many workers open
// a store at once, so "already exists" is success.
func (s *Store) createTables(ctx context.Context) error {
	if _, err := s.dataset.Metadata(ctx); isStatus(err, http.StatusNotFound) {
		if err := s.dataset.Create(ctx, nil); err != nil && !isStatus(err, http.StatusConflict) {
			return err
		}
	} else if err != nil {
		return err
	}
	for _, t := range tables {
		if err := s.createTable(ctx, t.name, t.row); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) createTable(ctx context.Context, name string, row any) error {
	table := s.dataset.Table(name)
	_, err := table.Metadata(ctx)
	if !isStatus(err, http.StatusNotFound) {
		return err
	}
	schema, err := bigquery.InferSchema(row)
	if err != nil {
		return err
	}
	if err := table.Create(ctx, &bigquery.TableMetadata{Schema: schema}); err != nil && !isStatus(err, http.StatusConflict) {
		return err
	}
	return nil
}

// isStatus reports whether err is an API error with HTTP status code.
func isStatus(err error, code int) bool {
	var gerr *googleapi.Error
	return errors.As(err, &gerr) && gerr.Code == code
}
