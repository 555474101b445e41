package api

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/beamline/beamline/io/views"
)

// Limits on parameters.
const (
	maxParamBytes = 1024 // any query parameter, the key included
	maxTopN       = 1000
	defaultTopN   = 10
)

// params are the query parameters of one request, checked against its route: no unknown names,
// none repeated, none oversized.
type params struct {
	rt   *route
	vals url.Values
}

func parseParams(rt *route, r *http.Request) (params, error) {
	vals, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return params{}, badRequest("malformed query string: %v", err)
	}
	names := make([]string, 0, len(vals))
	for name := range vals {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		vs := vals[name]
		switch {
		case !slices.Contains(rt.params, name):
			return params{}, badRequest("unknown parameter %q; %s accepts: %s", name, rt.path, strings.Join(rt.params, ", "))
		case len(vs) > 1:
			return params{}, badRequest("parameter %q is given %d times; give it once", name, len(vs))
		case len(vs[0]) > maxParamBytes:
			return params{}, badRequest("parameter %q is %d bytes long; the limit is %d", name, len(vs[0]), maxParamBytes)
		}
	}
	return params{rt, vals}, nil
}

// get returns the value of the parameter name, or "" when it is absent. Reading a parameter that
// the route does not declare (and so the OpenAPI document does not list) is a bug: it panics.
func (p params) get(name string) string {
	if !slices.Contains(p.rt.params, name) {
		panic("api: route " + p.rt.pattern + " reads undeclared parameter " + name)
	}
	return p.vals.Get(name)
}

// lookupView returns the spec of the view named in the request path.
func lookupView(r *http.Request) (views.Spec, error) {
	name := r.PathValue("view")
	spec, ok := views.Lookup(name)
	if !ok {
		return views.Spec{}, notFound("unknown view %q; views: %s", name, strings.Join(viewNames(), ", "))
	}
	return spec, nil
}

func viewNames() []string {
	var out []string
	for _, s := range views.All() {
		out = append(out, s.Name)
	}
	return out
}

// timeRange parses from and to: RFC 3339 times on boundaries of align, from before to, and no
// further apart than the maximum range.
func (s *Server) timeRange(p params, align time.Duration) (from, to time.Time, err error) {
	if from, err = parseTime("from", p.get("from")); err != nil {
		return from, to, err
	}
	if to, err = parseTime("to", p.get("to")); err != nil {
		return from, to, err
	}
	switch {
	case !from.Before(to):
		return from, to, badRequest("from (%s) must be before to (%s)", ts(from), ts(to))
	case to.Sub(from) > s.opts.MaxRange:
		return from, to, badRequest("the range from %s to %s is %s long; the limit is %s", ts(from), ts(to), to.Sub(from), s.opts.MaxRange)
	case !from.Equal(from.Truncate(align)) || !to.Equal(to.Truncate(align)):
		return from, to, badRequest("from and to must fall on %s boundaries (window starts), e.g. %s", granName(align), ts(from.Truncate(align)))
	}
	return from, to, nil
}

var (
	minTimeAllowed = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTimeAllowed = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
)

func parseTime(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, badRequest("%s is required: an RFC 3339 time such as 2026-11-20T13:05:00Z", name)
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		hint := ""
		if strings.Contains(v, " ") {
			hint = " (a '+' in a query string means a space: write the offset as %2B or use Z)"
		}
		return time.Time{}, badRequest("%s=%q is not an RFC 3339 time such as 2026-11-20T13:05:00Z%s", name, v, hint)
	}
	if t.Before(minTimeAllowed) || !t.Before(maxTimeAllowed) {
		return time.Time{}, badRequest("%s=%q is out of range: times must be from 1970 to 9999", name, v)
	}
	return t.UTC(), nil
}

var granularities = []time.Duration{time.Minute, time.Hour, day}

// granName names a granularity as the API does: 1m, 1h or 1d.
func granName(d time.Duration) string {
	switch d {
	case time.Minute:
		return "1m"
	case time.Hour:
		return "1h"
	case day:
		return "1d"
	}
	return d.String()
}

// parseGranularity parses the granularity parameter; empty means the view's own window length.
func parseGranularity(v string, spec views.Spec) (time.Duration, error) {
	if v == "" {
		return spec.Window, nil
	}
	i := slices.IndexFunc(granularities, func(d time.Duration) bool { return granName(d) == v })
	if i < 0 {
		return 0, badRequest("granularity=%q is not one of 1m, 1h, 1d", v)
	}
	if g := granularities[i]; g >= spec.Window {
		return g, nil
	}
	return 0, badRequest("granularity %s is finer than the %s windows of view %s; use %s or coarser",
		v, granName(spec.Window), spec.Name, granName(spec.Window))
}

// parseTopN parses n: 1 to maxTopN, default defaultTopN.
func parseTopN(v string) (int, error) {
	if v == "" {
		return defaultTopN, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxTopN {
		return 0, badRequest("n=%q must be a whole number from 1 to %d", v, maxTopN)
	}
	return n, nil
}

// additiveMetric returns the metric of spec called name, which top sums, so it must be additive.
func additiveMetric(spec views.Spec, name string) (views.Metric, error) {
	var names []string
	for _, m := range spec.Metrics {
		if m.Additive {
			names = append(names, m.Name)
		}
	}
	m, ok := spec.Metric(name)
	switch {
	case name == "":
		return m, badRequest("metric is required; the additive metrics of view %s: %s", spec.Name, strings.Join(names, ", "))
	case !ok:
		return m, badRequest("unknown metric %q for view %s; its additive metrics: %s", name, spec.Name, strings.Join(names, ", "))
	case !m.Additive:
		return m, badRequest("metric %q is a distinct count and cannot be summed across windows; top ranks by an additive metric: %s",
			name, strings.Join(names, ", "))
	}
	return m, nil
}
