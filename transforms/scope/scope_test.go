package scope

import (
	"testing"
	"time"
)

var day = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)

func TestOwner(t *testing.T) {
	tests := []struct {
		name            string
		partition, when time.Time
		want            time.Time
		isEvent         bool
	}{
		{"an event in its own partition", day, day.Add(13 * time.Hour), day, true},
		{"filed a day late: owned by its own day", day, day.Add(-time.Millisecond), day.AddDate(0, 0, -1), true},
		{"filed a day early: owned by its own day", day, day.Add(47 * time.Hour), day.AddDate(0, 0, 1), true},
		{"two days off: out_of_range of its partition", day, day.Add(48 * time.Hour), day, false},
		{"two days off, earlier", day, day.Add(-24*time.Hour - time.Millisecond), day, false},
		{"a dead letter: its partition", day.Add(5 * time.Hour), time.Time{}, day, false},
		{"no partition: its event time's day", time.Time{}, day.Add(5 * time.Hour), day, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, isEvent := Owner(tt.partition, tt.when)
			if !got.Equal(tt.want) || isEvent != tt.isEvent {
				t.Errorf("Owner(%s, %s) = %s, %v; want %s, %v", tt.partition, tt.when, got, isEvent, tt.want, tt.isEvent)
			}
		})
	}
}

func TestRange(t *testing.T) {
	r := Days(day.Add(5*time.Hour), day.AddDate(0, 0, 1))
	for at, want := range map[time.Time]bool{
		day.Add(-time.Millisecond): false, day: true, day.Add(47 * time.Hour): true, day.AddDate(0, 0, 2): false,
	} {
		if got := r.Contains(at); got != want {
			t.Errorf("%v.Contains(%s) = %v, want %v", r, at, got, want)
		}
	}
	if !(Range{}).Contains(day) || !(Range{}).IsZero() || r.IsZero() {
		t.Error("the zero Range must contain every time, and only it is zero")
	}
}

// TestForDays checks what a one-day run reads with the batch job's defaults: 24 h and 30 min
// before its day, 6 h after it, and the partitions that may hold them (one day further out).
func TestForDays(t *testing.T) {
	c := ForDays(day, day, 24*time.Hour, 30*time.Minute, 6*time.Hour)
	if want := (Range{From: day.Add(-24*time.Hour - 30*time.Minute), To: day.Add(30 * time.Hour)}); c.Context != want {
		t.Errorf("Context = %v, want %v", c.Context, want)
	}
	if want := day.Add(-30 * time.Minute); !c.DecideOnly.Equal(want) {
		t.Errorf("DecideOnly = %s, want %s", c.DecideOnly, want)
	}
	first, last := c.Partitions()
	if !first.Equal(day.AddDate(0, 0, -3)) || !last.Equal(day.AddDate(0, 0, 2)) {
		t.Errorf("Partitions() = %s..%s, want 2026-11-17..2026-11-22", first, last)
	}
	c = ForDays(day, day, time.Hour, 30*time.Minute, 0)
	if first, last := c.Partitions(); !first.Equal(day.AddDate(0, 0, -2)) || !last.Equal(day.AddDate(0, 0, 1)) {
		t.Errorf("with a 1 h TTL and no lookahead: Partitions() = %s..%s, want 2026-11-18..2026-11-21", first, last)
	}
}
