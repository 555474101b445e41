// Package views defines the views that beamline computes: their names, keys, windows and metrics.
//
// It is the one place that the pipelines (which compute views) and the serving API (which
// answers queries over them) agree on the view schema, and it does not import the Beam SDK, so
// the serving binary stays small.
package views

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// View names, as they appear in stores and in the serving API.
const (
	PageViews        = "page_views"
	CountryActivity  = "country_activity"
	CategoryActivity = "category_activity"
	Sessions         = "sessions"
)

// Metric names.
const (
	MetricViews     = "views"
	MetricVisitors  = "visitors"
	MetricEvents    = "events"
	MetricPageviews = "pageviews"
	MetricClicks    = "clicks"
	MetricPosts     = "posts"
	MetricFlagged   = "flagged"
	MetricSessions  = "sessions"
	MetricDuration  = "duration_s"
)

// Layer says which layer of the lambda architecture computed a row.
type Layer string

// The two layers.
const (
	Batch Layer = "batch"
	Speed Layer = "speed"
)

// Metric describes one metric of a view.
type Metric struct {
	// Name is the metric's name in rows and in the API.
	Name string
	// Additive metrics can be summed across windows and keys; distinct counts cannot.
	Additive bool
}

// Spec describes one view.
type Spec struct {
	// Name is the view's name.
	Name string
	// Key says what the view's key is (for documentation and the API).
	Key string
	// Window is the length of the view's fixed event-time windows.
	Window time.Duration
	// Metrics lists the view's metrics in a stable order.
	Metrics []Metric
}

// Index returns the position of the metric called name in s.Metrics (the order the
// transforms keep a row's counts in), or -1.
func (s Spec) Index(name string) int {
	for i, m := range s.Metrics {
		if m.Name == name {
			return i
		}
	}
	return -1
}

// Metric returns the metric called name and whether the view has it.
func (s Spec) Metric(name string) (Metric, bool) {
	for _, m := range s.Metrics {
		if m.Name == name {
			return m, true
		}
	}
	return Metric{}, false
}

// Window lengths of the views: the event-time views count minutes, sessions count in the hour
// of their first event.
const (
	MinuteWindow  = time.Minute
	SessionWindow = time.Hour
)

var specs = []Spec{
	{Name: PageViews, Key: "url", Window: MinuteWindow, Metrics: []Metric{
		{MetricViews, true}, {MetricVisitors, false}}},
	{Name: CountryActivity, Key: "country", Window: MinuteWindow, Metrics: []Metric{
		{MetricEvents, true}, {MetricPageviews, true}, {MetricClicks, true}, {MetricPosts, true}, {MetricFlagged, true}}},
	{Name: CategoryActivity, Key: "category", Window: MinuteWindow, Metrics: []Metric{
		{MetricEvents, true}, {MetricFlagged, true}}},
	{Name: Sessions, Key: "country", Window: SessionWindow, Metrics: []Metric{
		{MetricSessions, true}, {MetricEvents, true}, {MetricDuration, true}}},
}

// All returns the specs of every view, in a stable order.
func All() []Spec {
	out := make([]Spec, len(specs))
	copy(out, specs)
	return out
}

// Lookup returns the spec of the view called name.
func Lookup(name string) (Spec, bool) {
	for _, s := range specs {
		if s.Name == name {
			return s, true
		}
	}
	return Spec{}, false
}

// Row is one view row: the metrics of one key in one window, computed by one layer.
type Row struct {
	View        string
	Key         string
	WindowStart time.Time
	WindowEnd   time.Time
	Metrics     map[string]int64
	Layer       Layer
}

// rowKeySep separates the parts of a row key; the key comes last because it is the only part
// that may contain anything.
const rowKeySep = "\x1f"

// RowKey names the row of view whose window starts at start and whose key is key, in one
// string (view, window start in Unix ms, key), for the transforms that group by row.
func RowKey(view string, start time.Time, key string) string {
	return view + rowKeySep + strconv.FormatInt(start.UnixMilli(), 10) + rowKeySep + key
}

// ParseRowKey returns the parts of a row key made by RowKey.
func ParseRowKey(k string) (view string, start time.Time, key string, err error) {
	view, rest, ok1 := strings.Cut(k, rowKeySep)
	ms, key, ok2 := strings.Cut(rest, rowKeySep)
	n, perr := strconv.ParseInt(ms, 10, 64)
	if !ok1 || !ok2 || perr != nil {
		return "", time.Time{}, "", fmt.Errorf("views: bad row key %q", k)
	}
	return view, time.UnixMilli(n).UTC(), key, nil
}

// ID identifies r in its layer: its view, key and window start.
func (r Row) ID() string {
	return r.View + "|" + r.Key + "|" + r.WindowStart.UTC().Format(time.RFC3339Nano)
}

// Weight is the sum of r's metrics. Each version of a speed row dominates the earlier ones
// metric by metric (a window only gains events), so of two versions the later one has the
// larger weight unless they are equal: stores keep the heaviest version of a speed row, so a
// served row never goes down, not even while a restarted job rebuilds it.
func (r Row) Weight() int64 {
	var w int64
	for _, v := range r.Metrics {
		w += v
	}
	return w
}

// Validate reports whether r fits its view's schema: a known view, a window of the view's
// length that starts on a window boundary, and exactly the view's metrics.
func (r Row) Validate() error {
	spec, ok := Lookup(r.View)
	if !ok {
		return fmt.Errorf("row: unknown view %q", r.View)
	}
	if !r.WindowStart.Equal(r.WindowStart.Truncate(spec.Window)) || !r.WindowEnd.Equal(r.WindowStart.Add(spec.Window)) {
		return fmt.Errorf("row %s/%s: window [%s, %s) is not a %s window", r.View, r.Key, r.WindowStart, r.WindowEnd, spec.Window)
	}
	if len(r.Metrics) != len(spec.Metrics) {
		return fmt.Errorf("row %s/%s: has %d metrics, view has %d", r.View, r.Key, len(r.Metrics), len(spec.Metrics))
	}
	for _, m := range spec.Metrics {
		if _, ok := r.Metrics[m.Name]; !ok {
			return fmt.Errorf("row %s/%s: missing metric %q", r.View, r.Key, m.Name)
		}
	}
	return nil
}

// Day returns the UTC day that t falls in, as midnight UTC.
func Day(t time.Time) time.Time {
	return t.UTC().Truncate(24 * time.Hour)
}
