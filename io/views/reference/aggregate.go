package reference

import (
	"sort"
	"time"

	"github.com/beamline/beamline/io/views"
)

// sessionGap is the longest gap between two events of one session.
const sessionGap = 30 * time.Minute

// window identifies one row: a key in the window that starts at start (Unix milliseconds).
type window struct {
	key   string
	start int64
}

func windowOf(key string, t time.Time, length time.Duration) window {
	return window{key: key, start: t.Truncate(length).UnixMilli()}
}

// pageStats are the page_views metrics of one window.
type pageStats struct{ views, visitors int64 }

// visit is one user seen in one page_views window.
type visit struct {
	w    window
	user string
}

// countryStats are the country_activity metrics of one window.
type countryStats struct{ events, pageviews, clicks, posts, flagged int64 }

// categoryStats are the category_activity metrics of one window.
type categoryStats struct{ events, flagged int64 }

// flagger returns whether an event is flagged: a post that flagged flags.
func flagger(flagged func(text, userAgent, url string) bool) func(*event) bool {
	return func(ev *event) bool {
		return flagged != nil && ev.typ == typePost && flagged(ev.text, ev.userAgent, ev.url)
	}
}

// sessionStats are the sessions metrics of one window.
type sessionStats struct{ sessions, events, durationS int64 }

// aggregate computes the rows of every view over the kept events: the minute views over those
// the run owns, sessions over those before the horizon, with a row for each session that starts
// in the run's days.
func aggregate(kept []*event, s span, cat *categorizer, isFlagged func(*event) bool) []views.Row {
	n := len(kept)
	pages := make(map[window]*pageStats, n)
	visits := make(map[visit]bool, n)
	countries := make(map[window]*countryStats, n/8)
	categories := make(map[window]*categoryStats, n/8)
	byUser := make(map[string][]*event, n/8)
	for _, ev := range kept {
		if s.beforeHorizon(ev.time) {
			byUser[ev.user] = append(byUser[ev.user], ev)
		}
		if !ev.owned {
			continue
		}
		if ev.typ == typePageview {
			addPageview(pages, visits, ev)
		}
		flagged := int64(0)
		if isFlagged(ev) {
			flagged = 1
		}
		addCountry(countries, ev, flagged)
		w := windowOf(cat.category(ev.url), ev.time, time.Minute)
		c := categories[w]
		if c == nil {
			c = &categoryStats{}
			categories[w] = c
		}
		c.events++
		c.flagged += flagged
	}
	sessions := map[window]*sessionStats{}
	for _, evs := range byUser {
		addSessions(sessions, evs, s.contains)
	}

	var rows []views.Row
	for w, s := range pages {
		rows = append(rows, row(views.PageViews, w, time.Minute, map[string]int64{
			views.MetricViews: s.views, views.MetricVisitors: s.visitors}))
	}
	for w, s := range countries {
		rows = append(rows, row(views.CountryActivity, w, time.Minute, map[string]int64{
			views.MetricEvents: s.events, views.MetricPageviews: s.pageviews, views.MetricClicks: s.clicks,
			views.MetricPosts: s.posts, views.MetricFlagged: s.flagged}))
	}
	for w, s := range categories {
		rows = append(rows, row(views.CategoryActivity, w, time.Minute, map[string]int64{
			views.MetricEvents: s.events, views.MetricFlagged: s.flagged}))
	}
	for w, s := range sessions {
		rows = append(rows, row(views.Sessions, w, time.Hour, map[string]int64{
			views.MetricSessions: s.sessions, views.MetricEvents: s.events, views.MetricDuration: s.durationS}))
	}
	sortRows(rows)
	return rows
}

func addPageview(pages map[window]*pageStats, visits map[visit]bool, ev *event) {
	w := windowOf(ev.url, ev.time, time.Minute)
	s := pages[w]
	if s == nil {
		s = &pageStats{}
		pages[w] = s
	}
	s.views++
	if v := (visit{w, ev.user}); !visits[v] {
		visits[v] = true
		s.visitors++
	}
}

func addCountry(countries map[window]*countryStats, ev *event, flagged int64) {
	w := windowOf(ev.country, ev.time, time.Minute)
	s := countries[w]
	if s == nil {
		s = &countryStats{}
		countries[w] = s
	}
	s.events++
	s.flagged += flagged
	switch ev.typ {
	case typePageview:
		s.pageviews++
	case typeClick:
		s.clicks++
	case typePost:
		s.posts++
	}
}

// addSessions splits one user's events into sessions and adds each whose first event time is in
// starts to the hour and country of that first event.
func addSessions(sessions map[window]*sessionStats, evs []*event, starts func(time.Time) bool) {
	sort.Slice(evs, func(i, j int) bool {
		if !evs[i].time.Equal(evs[j].time) {
			return evs[i].time.Before(evs[j].time)
		}
		return evs[i].id < evs[j].id
	})
	start := 0
	for i := 1; i <= len(evs); i++ {
		if i < len(evs) && evs[i].time.Sub(evs[i-1].time) <= sessionGap {
			continue
		}
		if starts(evs[start].time) {
			addSession(sessions, evs[start:i])
		}
		start = i
	}
}

// addSession adds one session, its events in order, to the hour and country of its first event.
func addSession(sessions map[window]*sessionStats, evs []*event) {
	first, last := evs[0], evs[len(evs)-1]
	w := windowOf(first.country, first.time, time.Hour)
	s := sessions[w]
	if s == nil {
		s = &sessionStats{}
		sessions[w] = s
	}
	s.sessions++
	s.events += int64(len(evs))
	s.durationS += int64(last.time.Sub(first.time) / time.Second)
}

func row(view string, w window, length time.Duration, metrics map[string]int64) views.Row {
	start := time.UnixMilli(w.start).UTC()
	return views.Row{View: view, Key: w.key, WindowStart: start, WindowEnd: start.Add(length),
		Metrics: metrics, Layer: views.Batch}
}

// sortRows sorts rows by view, key and window start.
func sortRows(rows []views.Row) {
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.View != b.View {
			return a.View < b.View
		}
		if a.Key != b.Key {
			return a.Key < b.Key
		}
		return a.WindowStart.Before(b.WindowStart)
	})
}
