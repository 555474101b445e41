package watermark

import (
	"testing"
	"time"
)

// TestEstimator: the watermark follows the largest event time only once a pull drained the
// backlog, never goes back, and moves to now after the subscription has been idle.
func TestEstimator(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	ms := func(t time.Time) int64 { return t.UnixMilli() }
	e := New(State{Watermark: -1, MaxSeen: -1})
	t1 := now.Add(-time.Hour)
	e.Observe(1000, ms(t1), false, now, 10*time.Second, time.Second)
	if e.State.Watermark != -1 {
		t.Errorf("after a full pull the watermark moved to %d", e.State.Watermark)
	}
	e.Observe(10, ms(t1.Add(-time.Minute)), true, now, 10*time.Second, time.Second)
	if want := ms(t1) - 1000; e.State.Watermark != want {
		t.Errorf("after draining: watermark %d, want the largest event time seen minus the delay %d", e.State.Watermark, want)
	}
	e.Observe(0, -1, true, now, 10*time.Second, time.Second)
	if e.State.IdleSince != ms(now) || e.State.Watermark != ms(t1)-1000 {
		t.Errorf("first idle call: %+v", e.State)
	}
	e.Observe(0, -1, true, now.Add(10*time.Second), 10*time.Second, time.Second)
	if want := ms(now.Add(9 * time.Second)); e.State.Watermark != want {
		t.Errorf("idle for 10 s: watermark %d, want now - delay %d", e.State.Watermark, want)
	}
	e.Observe(5, ms(t1), true, now.Add(11*time.Second), 10*time.Second, time.Second)
	if e.State.Watermark != ms(now.Add(9*time.Second)) || e.State.IdleSince != 0 {
		t.Errorf("the watermark went back or idleness did not end: %+v", e.State)
	}
	got, err := decode(encode(e.State))
	if err != nil || got != e.State {
		t.Errorf("state round trip: %+v, %v; want %+v", got, err, e.State)
	}
}

// FuzzCoder: no input makes the state decoder panic, and what it decodes round-trips.
func FuzzCoder(f *testing.F) {
	f.Add(encode(State{Watermark: -5, MaxSeen: 1764000000000, IdleSince: 0}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if s, err := decode(b); err == nil {
			if back, err := decode(encode(s)); err != nil || back != s {
				t.Errorf("state %+v came back as %+v (%v)", s, back, err)
			}
		}
	})
}
