package api

import (
	"context"
	_ "embed"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/beamline/beamline/io/store"
	"github.com/beamline/beamline/io/views"
)

// route is one endpoint of the API. The OpenAPI document lists exactly these routes and
// parameters (a test checks it).
type route struct {
	pattern string   // ServeMux pattern
	path    string   // the path, as in the OpenAPI document
	params  []string // the query parameters it accepts
	open    bool     // answered without the bearer token
	handle  func(s *Server, w http.ResponseWriter, r *http.Request, p params) error
}

var routes = []*route{
	{pattern: "GET /v1/views", handle: (*Server).handleCatalog},
	{pattern: "GET /v1/views/{view}", params: []string{"key", "from", "to", "granularity"}, handle: (*Server).handleRows},
	{pattern: "GET /v1/views/{view}/top", params: []string{"from", "to", "metric", "n"}, handle: (*Server).handleTop},
	{pattern: "GET /v1/views/{view}/keys", params: []string{"from", "to"}, handle: (*Server).handleKeys},
	{pattern: "GET /v1/status", handle: (*Server).handleStatus},
	{pattern: "GET /v1/runs", handle: (*Server).handleRuns},
	{pattern: "GET /v1/runs/{run}", handle: (*Server).handleRun},
	{pattern: "GET /healthz", open: true, handle: (*Server).handleHealth},
	{pattern: "GET /metrics", handle: (*Server).handleMetrics},
	{pattern: "GET /openapi.json", handle: (*Server).handleOpenAPI},
}

func init() {
	for _, rt := range routes {
		rt.path = strings.TrimPrefix(rt.pattern, "GET ")
	}
}

//go:embed openapi.json
var openAPI []byte

// Response shapes. Times are RFC 3339 in UTC.
type (
	rowsResponse struct {
		View           string           `json:"view"`
		Key            string           `json:"key"`
		From           string           `json:"from"`
		To             string           `json:"to"`
		Granularity    string           `json:"granularity"`
		BatchCutoff    *string          `json:"batch_cutoff"`
		Layers         []layerSpan      `json:"layers"`
		Rows           []rowJSON        `json:"rows"`
		Totals         map[string]int64 `json:"totals"`
		OmittedMetrics []string         `json:"omitted_metrics,omitempty"`
		Note           string           `json:"note,omitempty"`
	}
	rowJSON struct {
		WindowStart string           `json:"window_start"`
		WindowEnd   string           `json:"window_end"`
		Layer       views.Layer      `json:"layer"`
		Metrics     map[string]int64 `json:"metrics"`
	}
	// layerSpan says which layer answers which part of the asked range.
	layerSpan struct {
		Layer views.Layer `json:"layer"`
		From  string      `json:"from"`
		To    string      `json:"to"`
	}
	topResponse struct {
		View        string      `json:"view"`
		Metric      string      `json:"metric"`
		From        string      `json:"from"`
		To          string      `json:"to"`
		N           int         `json:"n"`
		BatchCutoff *string     `json:"batch_cutoff"`
		Layers      []layerSpan `json:"layers"`
		Top         []keyValue  `json:"top"`
	}
	keysResponse struct {
		View        string      `json:"view"`
		From        string      `json:"from"`
		To          string      `json:"to"`
		BatchCutoff *string     `json:"batch_cutoff"`
		Layers      []layerSpan `json:"layers"`
		Keys        []string    `json:"keys"`
	}
	statusResponse struct {
		BatchCutoff       *string  `json:"batch_cutoff"`
		NewestRun         *runJSON `json:"newest_run"`
		PublishedDays     int      `json:"published_days"`
		FirstPublishedDay *string  `json:"first_published_day"`
		LastPublishedDay  *string  `json:"last_published_day"`
		GapDays           []string `json:"gap_days"`
	}
	runJSON struct {
		Run         string   `json:"run"`
		PublishedAt string   `json:"published_at"`
		Days        []string `json:"days"`
	}
)

// maxGapDays bounds the gap days that /v1/status lists.
const maxGapDays = 31

func (s *Server) handleRows(w http.ResponseWriter, r *http.Request, p params) error {
	spec, err := lookupView(r)
	if err != nil {
		return err
	}
	key := p.get("key")
	if key == "" {
		return badRequest("key is required: the %s of a %s row (GET %s/keys lists them)", spec.Key, spec.Name, r.URL.Path)
	}
	gran, err := parseGranularity(p.get("granularity"), spec)
	if err != nil {
		return err
	}
	from, to, err := s.timeRange(p, gran)
	if err != nil {
		return err
	}
	ck := cacheKey("rows", spec.Name, key, from, to, gran)
	return s.serve(w, r, ck, s.costOf(from, to, false), func(ctx context.Context, st *state) (any, bool, error) {
		l, err := s.read(ctx, st, spec, key, from, to)
		if err != nil {
			return nil, false, err
		}
		return rowsAnswer(spec, key, from, to, gran, st, l.buckets(key, gran, st.cutoff)), l.batchRead, nil
	})
}

func rowsAnswer(spec views.Spec, key string, from, to time.Time, gran time.Duration, st *state, buckets []bucket) rowsResponse {
	resp := rowsResponse{View: spec.Name, Key: key, From: ts(from), To: ts(to), Granularity: granName(gran),
		BatchCutoff: cutoffJSON(st), Layers: layerSpans(from, to, st), Rows: make([]rowJSON, 0, len(buckets)), Totals: totals(buckets, spec)}
	for _, b := range buckets {
		resp.Rows = append(resp.Rows, rowJSON{ts(b.Start), ts(b.End), b.Layer, b.Metrics})
	}
	if gran != spec.Window {
		for _, m := range spec.Metrics {
			if !m.Additive {
				resp.OmittedMetrics = append(resp.OmittedMetrics, m.Name)
			}
		}
	}
	if len(resp.OmittedMetrics) > 0 {
		resp.Note = fmt.Sprintf("%s: distinct counts cannot be summed across windows, so they are served only at granularity %s",
			strings.Join(resp.OmittedMetrics, ", "), granName(spec.Window))
	}
	return resp
}

func (s *Server) handleTop(w http.ResponseWriter, r *http.Request, p params) error {
	spec, err := lookupView(r)
	if err != nil {
		return err
	}
	m, err := additiveMetric(spec, p.get("metric"))
	if err != nil {
		return err
	}
	n, err := parseTopN(p.get("n"))
	if err != nil {
		return err
	}
	from, to, err := s.timeRange(p, spec.Window)
	if err != nil {
		return err
	}
	ck := cacheKey("top", spec.Name, m.Name+"|"+strconv.Itoa(n), from, to, 0)
	return s.serve(w, r, ck, s.costOf(from, to, true), func(ctx context.Context, st *state) (any, bool, error) {
		l, err := s.read(ctx, st, spec, "", from, to)
		if err != nil {
			return nil, false, err
		}
		return topResponse{View: spec.Name, Metric: m.Name, From: ts(from), To: ts(to), N: n,
			BatchCutoff: cutoffJSON(st), Layers: layerSpans(from, to, st), Top: l.top(m.Name, n)}, l.batchRead, nil
	})
}

func (s *Server) handleKeys(w http.ResponseWriter, r *http.Request, p params) error {
	spec, err := lookupView(r)
	if err != nil {
		return err
	}
	from, to, err := s.timeRange(p, spec.Window)
	if err != nil {
		return err
	}
	ck := cacheKey("keys", spec.Name, "", from, to, 0)
	return s.serve(w, r, ck, s.costOf(from, to, true), func(ctx context.Context, st *state) (any, bool, error) {
		l, err := s.read(ctx, st, spec, "", from, to)
		if err != nil {
			return nil, false, err
		}
		return keysResponse{View: spec.Name, From: ts(from), To: ts(to), BatchCutoff: cutoffJSON(st),
			Layers: layerSpans(from, to, st), Keys: l.keys()}, l.batchRead, nil
	})
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request, _ params) error {
	st, err := s.state.reload(r.Context())
	if err != nil {
		return err
	}
	body, err := marshal(statusAnswer(st))
	if err != nil {
		return err
	}
	s.writeBody(w, body, st)
	return nil
}

func statusAnswer(st *state) statusResponse {
	resp := statusResponse{BatchCutoff: cutoffJSON(st), GapDays: []string{}}
	days := publishedDays(st.pubs)
	resp.PublishedDays = len(days)
	if len(days) > 0 {
		resp.FirstPublishedDay, resp.LastPublishedDay = ptr(dayString(days[0])), ptr(dayString(days[len(days)-1]))
	}
	for _, d := range gaps(st.pubs, maxGapDays) {
		resp.GapDays = append(resp.GapDays, dayString(d))
	}
	var newest *store.Publication
	for i, p := range st.pubs {
		if newest == nil || !p.PublishedAt.Before(newest.PublishedAt) { // ties: the later day
			newest = &st.pubs[i]
		}
	}
	if newest != nil {
		resp.NewestRun = &runJSON{Run: newest.Run, PublishedAt: ts(newest.PublishedAt), Days: []string{}}
		for _, p := range st.pubs {
			if p.Run == newest.Run {
				resp.NewestRun.Days = append(resp.NewestRun.Days, dayString(p.Day))
			}
		}
	}
	return resp
}

func (s *Server) handleHealth(w http.ResponseWriter, _ *http.Request, _ params) error {
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write([]byte(`{"status":"ok"}` + "\n"))
	return err
}

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request, _ params) error {
	s.metrics.handler().ServeHTTP(w, r)
	return nil
}

func (s *Server) handleOpenAPI(w http.ResponseWriter, _ *http.Request, _ params) error {
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(openAPI)
	return err
}

// layerSpans says which layer answers which part of [from, to) under st.
func layerSpans(from, to time.Time, st *state) []layerSpan {
	out := []layerSpan{}
	b, sp := split(from, to, st.cutoff)
	if !b.empty() {
		out = append(out, layerSpan{views.Batch, ts(b.From), ts(b.To)})
	}
	if !sp.empty() {
		out = append(out, layerSpan{views.Speed, ts(sp.From), ts(sp.To)})
	}
	return out
}

func cutoffJSON(st *state) *string {
	if !st.published {
		return nil
	}
	return ptr(ts(st.cutoff))
}

func cacheKey(kind, view, key string, from, to time.Time, gran time.Duration) string {
	return kind + "|" + view + "|" + strconv.FormatInt(from.Unix(), 10) + "|" + strconv.FormatInt(to.Unix(), 10) +
		"|" + strconv.FormatInt(int64(gran), 10) + "|" + key
}

// ts formats t as RFC 3339 in UTC.
func ts(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func dayString(t time.Time) string { return t.UTC().Format(time.DateOnly) }

func ptr[T any](v T) *T { return &v }
