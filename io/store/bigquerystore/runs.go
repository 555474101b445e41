package bigquerystore

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"cloud.google.com/go/bigquery"

	"github.com/beamline/beamline/io/store"
)

const selectRunRows = `SELECT run, days, status, started_us, ended_us, report, version FROM batch_runs`

// RecordRun appends a version of the history of a batch run; readers keep the newest.
func (s *Store) RecordRun(ctx context.Context, r store.RunInfo) error {
	days, err := json.Marshal(r.Days)
	if err != nil {
		return err
	}
	row := &runRow{Run: r.Run, Days: string(days), Status: r.Status, Report: r.Report, Version: versions(1),
		Started: micros(r.Started), Ended: micros(r.Ended)}
	return insert(ctx, s, runsTable, []*runRow{row})
}

// Runs returns the recorded batch runs, the newest first (see store.Store): the newest version
// of each. A store created before runs were recorded has none.
func (s *Store) Runs(ctx context.Context) ([]store.RunInfo, error) {
	newest := map[string]runRow{}
	err := s.read(ctx, selectRunRows, nil, func(it *bigquery.RowIterator) error {
		var r runRow
		if err := it.Next(&r); err != nil {
			return err
		}
		if old, ok := newest[r.Run]; !ok || r.Version > old.Version {
			newest[r.Run] = r
		}
		return nil
	})
	if isStatus(err, http.StatusNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]store.RunInfo, 0, len(newest))
	for _, r := range newest {
		info := store.RunInfo{Run: r.Run, Status: r.Status, Report: r.Report, Started: fromMicros(r.Started), Ended: fromMicros(r.Ended)}
		if err := json.Unmarshal([]byte(r.Days), &info.Days); err != nil {
			return nil, fmt.Errorf("bad days of run %s: %w", r.Run, err)
		}
		for i := range info.Days {
			info.Days[i] = info.Days[i].UTC()
		}
		out = append(out, info)
	}
	return out, nil
}

// micros is t in Unix microseconds, 0 for the zero time.
func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// fromMicros is the inverse of micros.
func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}
