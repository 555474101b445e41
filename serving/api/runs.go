package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/beamline/beamline/io/store"
)

// Response shapes of the run history.
type (
	runList struct {
		Runs []batchRunJSON `json:"runs"`
	}
	batchRunJSON struct {
		Run     string          `json:"run"`
		Days    []string        `json:"days"`
		Status  string          `json:"status"`
		Started *string         `json:"started"`
		Ended   *string         `json:"ended"`
		Report  json.RawMessage `json:"report,omitempty"`
	}
)

// handleRuns lists the batch runs, newest first, without their reports.
func (s *Server) handleRuns(w http.ResponseWriter, r *http.Request, _ params) error {
	runs, err := storeCall(r.Context(), s, "runs", s.st.Runs)
	if err != nil {
		return err
	}
	out := runList{Runs: []batchRunJSON{}}
	for _, run := range runs {
		j := runOf(run)
		j.Report = nil
		out.Runs = append(out.Runs, j)
	}
	return writeJSON(w, out)
}

// handleRun answers one batch run, with its report.
func (s *Server) handleRun(w http.ResponseWriter, r *http.Request, _ params) error {
	id := r.PathValue("run")
	runs, err := storeCall(r.Context(), s, "runs", s.st.Runs)
	if err != nil {
		return err
	}
	for _, run := range runs {
		if run.Run == id {
			return writeJSON(w, runOf(run))
		}
	}
	return notFound("no batch run %q (GET /v1/runs lists them)", id)
}

func runOf(r store.RunInfo) batchRunJSON {
	j := batchRunJSON{Run: r.Run, Days: []string{}, Status: r.Status, Started: optionalTime(r.Started), Ended: optionalTime(r.Ended)}
	for _, d := range r.Days {
		j.Days = append(j.Days, dayString(d))
	}
	if json.Valid([]byte(r.Report)) {
		j.Report = json.RawMessage(r.Report)
	}
	return j
}

func optionalTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	return ptr(ts(t))
}

// writeJSON writes v as the JSON answer.
func writeJSON(w http.ResponseWriter, v any) error {
	body, err := marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	_, err = w.Write(body)
	return err
}
