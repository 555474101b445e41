package main

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestOpenSessionStart checks the archive scan that decides how far back a warm restart
// replays: a session still open at the watermark is followed back to its first event however
// long it is, a user's earlier session (more than a gap before) and sessions already over do
// not count, and filtered events (a bot's) extend nothing.
func TestOpenSessionStart(t *testing.T) {
	cfg := testConfig(t, "generator://")
	wm := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC) // cutoff: 12:00 - 30m - 10m - 2m = 11:18
	at := func(hhmm string) time.Time {
		tm, err := time.Parse("2006-01-02 15:04:05", "2026-11-20 "+hhmm)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	rec := func(user, ua string, ts time.Time) []byte {
		return []byte(fmt.Sprintf(`{"event_id":"%s-%d","type":"click","user_id":%q,"url":"https://x/","user_agent":%q,"ts":%q}`,
			user, ts.Unix(), user, ua, ts.Format(time.RFC3339)))
	}
	byHour := map[time.Time][][]byte{}
	add := func(user, ua string, times ...string) {
		for _, hhmm := range times {
			ts := at(hhmm)
			byHour[ts.Truncate(time.Hour)] = append(byHour[ts.Truncate(time.Hour)], rec(user, ua, ts))
		}
	}
	// "long": a session from 09:10:30 to 11:40, events 25 minutes apart, still open at 12:00.
	add("long", "", "09:10:30", "09:35:00", "10:00:00", "10:25:00", "10:50:00", "11:15:00", "11:40:00")
	// "split": a session that ended at 08:00, then one from 11:30.
	add("split", "", "07:40:00", "08:00:00", "11:30:00")
	// "over": a session that ended at 11:00 (counted by 11:42).
	add("over", "", "10:40:00", "11:00:00")
	// A bot with events every 20 minutes since 05:00: filtered, so no session.
	for m := 5 * 60; m < 12*60; m += 20 {
		add("bot", "Googlebot/2.1", fmt.Sprintf("%02d:%02d:00", m/60, m%60))
	}
	for h, recs := range byHour {
		writeArchive(t, cfg.Archive, h, append(recs, []byte("garbage")))
	}

	open, hours, err := openSessionStart(context.Background(), cfg, wm)
	if err != nil {
		t.Fatal(err)
	}
	if want := at("09:10:00"); !open.Equal(want) {
		t.Errorf("oldest open session starts at %s, want %s (the minute of the long session's first event)", open, want)
	}
	if hours != 4 { // 11, 10, 09, 08 (a session could reach back into 08:40..09:00)
		t.Errorf("scanned %d hours, want 4", hours)
	}
	plan := planRestart(wm, open, cfg.lateness())
	if want := at("09:00:00"); !plan.SessionsFrom.Equal(want) {
		t.Errorf("sessions rebuilt from %s, want %s", plan.SessionsFrom, want)
	}
	if want := at("08:30:00"); !plan.ReplayFrom.Equal(want) {
		t.Errorf("replay from %s, want %s", plan.ReplayFrom, want)
	}

	// With --max_session_replay=2h the scan stops at 10:00: the long session is followed back
	// no further (its first event there is at 10:00:00).
	limited := cfg
	limited.MaxSessionReplay = 2 * time.Hour
	if open, hours, err := openSessionStart(context.Background(), limited, wm); err != nil || !open.Equal(at("10:00:00")) || hours != 2 {
		t.Errorf("with a 2h limit: oldest open session %s after %d hours (%v), want 10:00 after 2 (11, 10)", open, hours, err)
	}

	// Without the long session, the default horizon holds: sessions from 11:00.
	if plan := planRestart(wm, at("11:30:00"), cfg.lateness()); !plan.SessionsFrom.Equal(at("11:00:00")) {
		t.Errorf("a session open since 11:30: sessions rebuilt from %s, want 11:00", plan.SessionsFrom)
	}
	// An empty archive has no open session.
	cfg.Archive = t.TempDir()
	if open, _, err := openSessionStart(context.Background(), cfg, wm); err != nil || !open.IsZero() {
		t.Errorf("empty archive: %s, %v; want zero, nil", open, err)
	}
}
