package reference_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/io/views"
	"github.com/beamline/beamline/io/views/reference"
)

// lookahead returns a config change that sets Config.Lookahead.
func lookahead(d time.Duration) func(reference.Config) reference.Config {
	return func(c reference.Config) reference.Config { c.Lookahead = d; return c }
}

func TestSessions(t *testing.T) {
	const h = time.Hour
	sessions := func(n, events, dur int64) map[string]int64 {
		return map[string]int64{"sessions": n, "events": events, "duration_s": dur}
	}
	tests := []struct {
		name  string
		cfg   func(reference.Config) reference.Config
		lines []string
		want  []views.Row
	}{
		{"gap of exactly 30 minutes continues", nil, []string{
			ev("event_id", "1", "ts", "2026-11-20T10:00:00.000Z"),
			ev("event_id", "2", "ts", "2026-11-20T10:30:00.000Z"),
			ev("event_id", "3", "ts", "2026-11-20T11:00:00.000Z"),
		}, []views.Row{row(views.Sessions, "DE", "2026-11-20T10:00:00Z", h, sessions(1, 3, 3600))}},
		{"gap of 30 minutes and 1 ms splits", nil, []string{
			ev("event_id", "1", "ts", "2026-11-20T10:00:00.000Z"),
			ev("event_id", "2", "ts", "2026-11-20T10:30:00.001Z"),
		}, []views.Row{row(views.Sessions, "DE", "2026-11-20T10:00:00Z", h, sessions(2, 2, 0))}},
		{"sub-millisecond gap over 30 minutes is truncated away", nil, []string{
			ev("event_id", "1", "ts", "2026-11-20T10:00:00.000Z"),
			ev("event_id", "2", "ts", "2026-11-20T10:30:00.000999Z"),
		}, []views.Row{row(views.Sessions, "DE", "2026-11-20T10:00:00Z", h, sessions(1, 2, 1800))}},
		{"events out of order", nil, []string{
			ev("event_id", "3", "ts", "2026-11-20T10:50:00Z"),
			ev("event_id", "1", "ts", "2026-11-20T10:10:00Z"),
			ev("event_id", "2", "ts", "2026-11-20T10:30:00Z"),
		}, []views.Row{row(views.Sessions, "DE", "2026-11-20T10:00:00Z", h, sessions(1, 3, 2400))}},
		{"hour and country of the first event", nil, []string{
			ev("event_id", "1", "ts", "2026-11-20T10:59:59.999Z", "country", "fr"),
			ev("event_id", "2", "ts", "2026-11-20T11:20:00Z", "country", "DE"),
		}, []views.Row{row(views.Sessions, "FR", "2026-11-20T10:00:00Z", h, sessions(1, 2, 1200))}},
		{"tie for first: smallest event_id", nil, []string{
			ev("event_id", "b", "ts", "2026-11-20T10:00:00Z", "country", "BR"),
			ev("event_id", "a", "ts", "2026-11-20T10:00:00Z", "country", "IN"),
		}, []views.Row{row(views.Sessions, "IN", "2026-11-20T10:00:00Z", h, sessions(1, 2, 0))}},
		{"duration truncated to seconds", nil, []string{
			ev("event_id", "1", "ts", "2026-11-20T10:00:00.000Z"),
			ev("event_id", "2", "ts", "2026-11-20T10:00:01.999Z"),
			ev("event_id", "3", "user_id", "u-2", "ts", "2026-11-20T10:10:00.500Z"),
			ev("event_id", "4", "user_id", "u-2", "ts", "2026-11-20T10:10:02.499Z"),
		}, []views.Row{row(views.Sessions, "DE", "2026-11-20T10:00:00Z", h, sessions(2, 4, 2))}},
		{"sessions per user", nil, []string{
			ev("event_id", "1", "user_id", "a", "ts", "2026-11-20T10:00:00Z"),
			ev("event_id", "2", "user_id", "b", "ts", "2026-11-20T10:20:00Z"),
			ev("event_id", "3", "user_id", "a", "ts", "2026-11-20T10:40:00Z"),
		}, []views.Row{row(views.Sessions, "DE", "2026-11-20T10:00:00Z", h, sessions(3, 3, 0))}},
		{"filtered and duplicate events are not in sessions", nil, []string{
			ev("event_id", "1", "ts", "2026-11-20T10:00:00Z"),
			ev("event_id", "2", "ts", "2026-11-20T10:20:00Z", "user_agent", "bot"),
			ev("event_id", "1", "ts", "2026-11-20T10:40:00Z"),
			ev("event_id", "3", "ts", "2026-11-20T10:45:00Z"),
		}, []views.Row{row(views.Sessions, "DE", "2026-11-20T10:00:00Z", h, sessions(2, 2, 0))}},
		{"a session from the day before is that day's", nil, []string{
			ev("event_id", "1", "ts", "2026-11-19T23:50:00Z"),
			ev("event_id", "2", "ts", "2026-11-20T00:10:00Z"),
		}, nil},
		{"a session across the end of the range counts whole", nil, []string{
			ev("event_id", "1", "ts", "2026-11-20T23:50:00Z"),
			ev("event_id", "2", "ts", "2026-11-21T00:10:00Z"),
			ev("event_id", "3", "ts", "2026-11-21T00:40:00Z"),
		}, []views.Row{row(views.Sessions, "DE", "2026-11-20T23:00:00Z", h, sessions(1, 3, 3000))}},
		{"a session after the range is the next day's", nil, []string{
			ev("event_id", "1", "ts", "2026-11-20T23:20:00Z"),
			ev("event_id", "2", "ts", "2026-11-21T00:00:00Z"),
			ev("event_id", "3", "ts", "2026-11-21T00:20:00Z"),
		}, []views.Row{row(views.Sessions, "DE", "2026-11-20T23:00:00Z", h, sessions(1, 1, 0))}},
		{"a session starting at the end of the range is the next day's", nil, []string{
			ev("event_id", "1", "ts", "2026-11-20T23:29:59.999Z"),
			ev("event_id", "2", "ts", "2026-11-21T00:00:00Z"),
		}, []views.Row{row(views.Sessions, "DE", "2026-11-20T23:00:00Z", h, sessions(1, 1, 0))}},
		{"a context duplicate is not in sessions", nil, []string{
			ev("event_id", "1", "ts", "2026-11-20T23:50:00Z"),
			ev("event_id", "1", "ts", "2026-11-21T00:10:00Z"),
		}, []views.Row{row(views.Sessions, "DE", "2026-11-20T23:00:00Z", h, sessions(1, 1, 0))}},
		{"no horizon: the session runs on", nil, []string{
			ev("event_id", "1", "ts", "2026-11-20T23:50:00Z"),
			ev("event_id", "2", "ts", "2026-11-21T00:15:00Z"),
			ev("event_id", "3", "ts", "2026-11-21T00:40:00Z"),
			ev("event_id", "4", "ts", "2026-11-21T01:05:00Z"),
		}, []views.Row{row(views.Sessions, "DE", "2026-11-20T23:00:00Z", h, sessions(1, 4, 4500))}},
		{"events at or after the horizon are left out", lookahead(40 * time.Minute), []string{
			ev("event_id", "1", "ts", "2026-11-20T23:50:00Z"),
			ev("event_id", "2", "ts", "2026-11-21T00:15:00Z"),
			ev("event_id", "3", "ts", "2026-11-21T00:39:59.999Z"),
			ev("event_id", "4", "ts", "2026-11-21T00:40:00Z"),
			ev("event_id", "5", "ts", "2026-11-21T01:05:00Z"),
		}, []views.Row{row(views.Sessions, "DE", "2026-11-20T23:00:00Z", h, sessions(1, 3, 2999))}},
		{"the horizon does not touch the run's own day", lookahead(time.Millisecond), []string{
			ev("event_id", "1", "ts", "2026-11-20T23:59:59.999Z"),
			ev("event_id", "2", "ts", "2026-11-21T00:00:00Z"),
			ev("event_id", "3", "ts", "2026-11-21T00:00:00.001Z"),
		}, []views.Row{row(views.Sessions, "DE", "2026-11-20T23:00:00Z", h, sessions(1, 2, 0))}},
		{"across midnight within the range", func(c reference.Config) reference.Config { c.To = c.To.AddDate(0, 0, 1); return c }, []string{
			ev("event_id", "1", "ts", "2026-11-20T23:59:59.999Z"),
			ev("event_id", "2", "ts", "2026-11-21T00:00:00.000Z"),
			ev("event_id", "3", "ts", "2026-11-21T00:29:59.999Z"),
		}, []views.Row{row(views.Sessions, "DE", "2026-11-20T23:00:00Z", h, sessions(1, 3, 1800))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := baseConfig()
			if tt.cfg != nil {
				cfg = tt.cfg(cfg)
			}
			res := compute(t, cfg, tt.lines...)
			if diff := cmp.Diff(tt.want, rowsOf(res.Rows, views.Sessions)); diff != "" {
				t.Errorf("sessions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMidnightBoundary(t *testing.T) {
	cfg := baseConfig()
	cfg.To = cfg.To.AddDate(0, 0, 1)
	res := compute(t, cfg,
		ev("event_id", "1", "ts", "2026-11-20T23:59:59.999Z"),
		ev("event_id", "2", "ts", "2026-11-21T00:00:00.000Z"),
		ev("event_id", "3", "ts", "2026-11-22T00:00:00.000Z"),
	)
	want := []views.Row{
		row(views.PageViews, "https://shop.example/p/1", "2026-11-20T23:59:00Z", time.Minute, map[string]int64{"views": 1, "visitors": 1}),
		row(views.PageViews, "https://shop.example/p/1", "2026-11-21T00:00:00Z", time.Minute, map[string]int64{"views": 1, "visitors": 1}),
	}
	if diff := cmp.Diff(want, rowsOf(res.Rows, views.PageViews)); diff != "" {
		t.Errorf("page_views (-want +got):\n%s", diff)
	}
	if got := res.Counts.Context; got != 1 {
		t.Errorf("context = %d, want 1 (the event of the day after the range)", got)
	}
}
