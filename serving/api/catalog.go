package api

import (
	"net/http"

	"github.com/beamline/beamline/io/views"
)

// Response shapes of the catalog.
type (
	catalogResponse struct {
		Views []catalogView `json:"views"`
	}
	catalogView struct {
		Name    string          `json:"name"`
		Key     string          `json:"key"`
		Window  string          `json:"window"`
		Metrics []catalogMetric `json:"metrics"`
		// Batch is what the batch layer covers: its published days and the cutoff.
		Batch catalogBatch `json:"batch"`
		// Speed is what the speed layer serves: windows from the cutoff up to its watermark.
		Speed catalogSpeed `json:"speed"`
	}
	catalogMetric struct {
		Name     string `json:"name"`
		Additive bool   `json:"additive"`
	}
	catalogBatch struct {
		PublishedDays int      `json:"published_days"`
		FirstDay      *string  `json:"first_day"`
		LastDay       *string  `json:"last_day"`
		GapDays       []string `json:"gap_days"`
		Cutoff        *string  `json:"cutoff"`
	}
	catalogSpeed struct {
		From      *string `json:"from"`
		Watermark *string `json:"watermark"`
	}
)

// handleCatalog answers the catalog: each view with its key, window and metrics (additive or
// not), the days the batch layer covers and the span the speed layer serves; the freshness of
// every answer says how far behind the speed layer is.
func (s *Server) handleCatalog(w http.ResponseWriter, r *http.Request, _ params) error {
	st, err := s.state.get(r.Context())
	if err != nil {
		return err
	}
	status := statusAnswer(st)
	batch := catalogBatch{PublishedDays: status.PublishedDays, FirstDay: status.FirstPublishedDay, LastDay: status.LastPublishedDay,
		GapDays: status.GapDays, Cutoff: status.BatchCutoff}
	speed := catalogSpeed{From: status.BatchCutoff, Watermark: optionalTime(st.watermark)}
	resp := catalogResponse{Views: []catalogView{}}
	for _, spec := range views.All() {
		v := catalogView{Name: spec.Name, Key: spec.Key, Window: granName(spec.Window), Batch: batch, Speed: speed}
		for _, m := range spec.Metrics {
			v.Metrics = append(v.Metrics, catalogMetric{Name: m.Name, Additive: m.Additive})
		}
		resp.Views = append(resp.Views, v)
	}
	body, err := marshal(resp)
	if err != nil {
		return err
	}
	s.writeBody(w, body, st)
	return nil
}
