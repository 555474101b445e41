package bigquerystore

import (
	"context"
	"fmt"

	"cloud.google.com/go/bigquery"

	"github.com/beamline/beamline/io/store"
)

// The statements name their tables in full (%[1]s is the dataset): the emulator's DML does not
// resolve them in the default dataset.
const (
	coveredSpeed = " WHERE window_start < @before AND TIMESTAMP_TRUNC(window_start, DAY) IN" +
		" (SELECT day FROM `%[1]s.publications`, UNNEST(days) AS day)"
	countSpeed  = "SELECT COUNT(*) FROM `%[1]s.speed_rows`" + coveredSpeed
	deleteSpeed = "DELETE FROM `%[1]s.speed_rows`" + coveredSpeed
	selectRuns  = `SELECT run, COUNT(*) AS n FROM batch_rows GROUP BY run`
	deleteRun   = "DELETE FROM `%[1]s.batch_rows` WHERE run = @run"
)

// Retain deletes the speed rows and unpublished runs that r names (see store.Store) with DML
// DELETE statements (every version of a row). BigQuery refuses to delete rows still in the
// streaming buffer (about the last half hour of inserts): keep the retention margins above that.
// Partition expiry on the tables is the cheaper way to age everything out in production.
func (s *Store) Retain(ctx context.Context, r store.Retention) (store.Swept, error) {
	var sw store.Swept
	if !r.SpeedBefore.IsZero() {
		before := []bigquery.QueryParameter{{Name: "before", Value: r.SpeedBefore.UTC()}}
		if err := s.read(ctx, s.qualify(countSpeed), before, func(it *bigquery.RowIterator) error {
			var row []bigquery.Value
			if err := it.Next(&row); err != nil {
				return err
			}
			sw.SpeedRows = row[0].(int64)
			return nil
		}); err != nil {
			return sw, err
		}
		if err := s.exec(ctx, deleteSpeed, before); err != nil {
			return sw, err
		}
	}
	if r.UnpublishedBefore.IsZero() {
		return sw, nil
	}
	n, err := s.sweepRuns(ctx, r)
	sw.BatchRows = n
	return sw, err
}

// sweepRuns deletes the rows of the runs that serve no day and started before
// r.UnpublishedBefore, and returns how many it deleted.
func (s *Store) sweepRuns(ctx context.Context, r store.Retention) (int64, error) {
	pubs, err := s.served(ctx)
	if err != nil {
		return 0, err
	}
	serving := map[string]bool{}
	for _, p := range pubs {
		serving[p.Run] = true
	}
	counts := map[string]int64{}
	if err := s.read(ctx, selectRuns, nil, func(it *bigquery.RowIterator) error {
		var row struct {
			Run string `bigquery:"run"`
			N   int64  `bigquery:"n"`
		}
		if err := it.Next(&row); err != nil {
			return err
		}
		counts[row.Run] = row.N
		return nil
	}); err != nil {
		return 0, err
	}
	var swept int64
	for run, n := range counts {
		if started, ok := store.RunStart(run); serving[run] || !ok || !started.Before(r.UnpublishedBefore) {
			continue
		}
		if err := s.exec(ctx, deleteRun, []bigquery.QueryParameter{{Name: "run", Value: run}}); err != nil {
			return swept, fmt.Errorf("delete run %s: %w", run, err)
		}
		swept += n
	}
	return swept, nil
}

// qualify puts the store's dataset in text's table names (%[1]s).
func (s *Store) qualify(text string) string {
	return fmt.Sprintf(text, s.dataset.ProjectID+"."+s.dataset.DatasetID)
}

// exec runs the DML statement text (see qualify) with params and waits for it.
func (s *Store) exec(ctx context.Context, text string, params []bigquery.QueryParameter) error {
	q := s.client.Query(s.qualify(text))
	q.DefaultProjectID, q.DefaultDatasetID = s.dataset.ProjectID, s.dataset.DatasetID
	q.Parameters = params
	job, err := q.Run(ctx)
	if err != nil {
		return err
	}
	status, err := job.Wait(ctx)
	if err != nil {
		return err
	}
	if err := status.Err(); err != nil {
		return fmt.Errorf("%s: %w", text, err)
	}
	return nil
}
