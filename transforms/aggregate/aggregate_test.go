package aggregate

import (
	"fmt"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/beamline/beamline/io/event"
	"github.com/beamline/beamline/io/views"
	"github.com/beamline/beamline/transforms/internal/beamtest"
	"github.com/beamline/beamline/transforms/scope"
)

func TestMain(m *testing.M) { ptest.Main(m) }

var t0 = time.Date(2026, 11, 20, 13, 0, 0, 0, time.UTC)

func ev(id, typ, user, url, country, category string, at time.Duration, flagged bool) event.Event {
	return event.Event{ID: id, Type: typ, UserID: user, URL: url, Country: country, Category: category, Time: t0.Add(at), Flagged: flagged}
}

func row(view, key string, start time.Time, window time.Duration, metrics map[string]int64) views.Row {
	return views.Row{View: view, Key: key, WindowStart: start, WindowEnd: start.Add(window), Metrics: metrics, Layer: views.Batch}
}

func TestViews(t *testing.T) {
	const u1, u2 = "https://a.example/1", "https://a.example/2"
	tests := []struct {
		name   string
		events []event.Event
		want   []views.Row
	}{{
		name: "minute views count by type, distinct visitors, flagged",
		events: []event.Event{
			ev("e1", "pageview", "alice", u1, "DE", "shop", 5*time.Second, false),
			ev("e2", "pageview", "alice", u1, "DE", "shop", 10*time.Second, true),
			ev("e3", "pageview", "bob", u1, "FR", "shop", 59*time.Second+999*time.Millisecond, false),
			ev("e4", "click", "bob", u2, "FR", "unknown", 60*time.Second, false),
			ev("e5", "post", "bob", "", "FR", "unknown", 61*time.Second, true),
		},
		want: []views.Row{
			row(views.PageViews, u1, t0, time.Minute, map[string]int64{"views": 3, "visitors": 2}),
			row(views.CountryActivity, "DE", t0, time.Minute, map[string]int64{"events": 2, "pageviews": 2, "clicks": 0, "posts": 0, "flagged": 1}),
			row(views.CountryActivity, "FR", t0, time.Minute, map[string]int64{"events": 1, "pageviews": 1, "clicks": 0, "posts": 0, "flagged": 0}),
			row(views.CountryActivity, "FR", t0.Add(time.Minute), time.Minute, map[string]int64{"events": 2, "pageviews": 0, "clicks": 1, "posts": 1, "flagged": 1}),
			row(views.CategoryActivity, "shop", t0, time.Minute, map[string]int64{"events": 3, "flagged": 1}),
			row(views.CategoryActivity, "unknown", t0.Add(time.Minute), time.Minute, map[string]int64{"events": 2, "flagged": 1}),
			// alice: one session of 5 s from DE; bob: 59.999 s -> 61 s, from FR.
			row(views.Sessions, "DE", t0, time.Hour, map[string]int64{"sessions": 1, "events": 2, "duration_s": 5}),
			row(views.Sessions, "FR", t0, time.Hour, map[string]int64{"sessions": 1, "events": 3, "duration_s": 1}),
		},
	}, {
		name: "sessions split after a gap over 30 minutes and belong to their first event's hour and country",
		events: []event.Event{
			ev("a", "click", "carol", u2, "DE", "x", 50*time.Minute, false),
			ev("b", "click", "carol", u2, "US", "x", 80*time.Minute, false),                   // gap exactly 30m: same session
			ev("c", "click", "carol", u2, "GB", "x", 110*time.Minute+time.Millisecond, false), // gap 30m+1ms: new session
			ev("d", "click", "carol", u2, "FR", "x", 110*time.Minute+time.Millisecond+1500*time.Millisecond, false),
		},
		want: []views.Row{
			row(views.CountryActivity, "DE", t0.Add(50*time.Minute), time.Minute, map[string]int64{"events": 1, "pageviews": 0, "clicks": 1, "posts": 0, "flagged": 0}),
			row(views.CountryActivity, "US", t0.Add(80*time.Minute), time.Minute, map[string]int64{"events": 1, "pageviews": 0, "clicks": 1, "posts": 0, "flagged": 0}),
			row(views.CountryActivity, "GB", t0.Add(110*time.Minute), time.Minute, map[string]int64{"events": 1, "pageviews": 0, "clicks": 1, "posts": 0, "flagged": 0}),
			row(views.CountryActivity, "FR", t0.Add(110*time.Minute), time.Minute, map[string]int64{"events": 1, "pageviews": 0, "clicks": 1, "posts": 0, "flagged": 0}),
			row(views.CategoryActivity, "x", t0.Add(50*time.Minute), time.Minute, map[string]int64{"events": 1, "flagged": 0}),
			row(views.CategoryActivity, "x", t0.Add(80*time.Minute), time.Minute, map[string]int64{"events": 1, "flagged": 0}),
			row(views.CategoryActivity, "x", t0.Add(110*time.Minute), time.Minute, map[string]int64{"events": 2, "flagged": 0}),

			row(views.Sessions, "DE", t0, time.Hour, map[string]int64{"sessions": 1, "events": 2, "duration_s": 1800}),
			row(views.Sessions, "GB", t0.Add(time.Hour), time.Hour, map[string]int64{"sessions": 1, "events": 2, "duration_s": 1}),
		},
	}, {
		name: "a session's first event breaks time ties by event ID",
		events: []event.Event{
			ev("z", "post", "dave", "", "US", "unknown", 0, false),
			ev("m", "post", "dave", "", "BR", "unknown", 0, false),
		},
		want: []views.Row{
			row(views.CountryActivity, "US", t0, time.Minute, map[string]int64{"events": 1, "pageviews": 0, "clicks": 0, "posts": 1, "flagged": 0}),
			row(views.CountryActivity, "BR", t0, time.Minute, map[string]int64{"events": 1, "pageviews": 0, "clicks": 0, "posts": 1, "flagged": 0}),
			row(views.CategoryActivity, "unknown", t0, time.Minute, map[string]int64{"events": 2, "flagged": 0}),
			row(views.Sessions, "BR", t0, time.Hour, map[string]int64{"sessions": 1, "events": 2, "duration_s": 0}),
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, s := beam.NewPipelineWithRoot()
			events := beamtest.Events(s, tt.events)
			beamtest.Equal(s, Views(s, views.Batch, scope.Config{}, "", events), tt.want)
			if err := ptest.Run(p); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestViewsOwnedDays aggregates a one-day run with context on both sides: the minute views
// count only the day's events, a session that started the day before is left to that day's
// run, one that crosses into the next day is counted whole, and one that reaches the run's
// horizon is counted in sessions_at_horizon. The events come as two inputs (as kept events
// and context do), with session points spilled to files and not.
func TestViewsOwnedDays(t *testing.T) {
	day := t0.Truncate(24 * time.Hour)
	next := day.AddDate(0, 0, 1)
	at := func(id, user string, when time.Time) event.Event {
		return event.Event{ID: id, Type: "post", UserID: user, Country: "DE", Category: "x", Time: when}
	}
	events := []event.Event{
		at("a1", "ann", day.Add(-20*time.Minute)), // context: ann's session starts the day before
		at("a2", "ann", day.Add(5*time.Minute)),
		at("b1", "bob", next.Add(-10*time.Minute)), // bob's session crosses midnight: 20 minutes
		at("b2", "bob", next.Add(10*time.Minute)),  // context, counted in bob's session only
		at("c1", "cid", next.Add(20*time.Minute)),  // context: a session of the next day
	}
	post := func(start time.Time) []views.Row {
		return []views.Row{
			row(views.CountryActivity, "DE", start, time.Minute, map[string]int64{"events": 1, "pageviews": 0, "clicks": 0, "posts": 1, "flagged": 0}),
			row(views.CategoryActivity, "x", start, time.Minute, map[string]int64{"events": 1, "flagged": 0}),
		}
	}
	want := append(post(day.Add(5*time.Minute)), post(next.Add(-10*time.Minute))...)
	want = append(want, row(views.Sessions, "DE", next.Add(-time.Hour), time.Hour, map[string]int64{"sessions": 1, "events": 2, "duration_s": 1200}))
	cfg := scope.Config{Owned: scope.Days(day, day), Context: scope.Range{From: day.Add(-time.Hour), To: next.Add(30 * time.Minute)}}
	for _, spilled := range []bool{false, true} {
		t.Run(fmt.Sprintf("spilled=%v", spilled), func(t *testing.T) {
			dir := ""
			if spilled {
				dir = t.TempDir()
			}
			p, s := beam.NewPipelineWithRoot()
			beamtest.Equal(s, Views(s, views.Batch, cfg, dir, beamtest.Events(s, events[:2]), beamtest.Events(s, events[2:])), want)
			res, err := ptest.RunWithMetrics(p)
			if err != nil {
				t.Fatal(err)
			}
			if got := beamtest.Counters(res, "beamline")["sessions_at_horizon"]; got != 1 {
				t.Errorf("sessions_at_horizon = %d, want 1 (bob's last event is within the gap of the horizon)", got)
			}
		})
	}
}
