package reference

import (
	"testing"
	"time"

	"github.com/beamline/beamline/io/views"
)

func TestCompare(t *testing.T) {
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	row := func(key string, n int64) views.Row {
		return views.Row{View: views.PageViews, Key: key, WindowStart: at, Metrics: map[string]int64{"views": n, "users": 1}}
	}
	want := []views.Row{row("a", 2), row("b", 3), row("c", 1), row("d", 5)}
	got := []views.Row{row("a", 2), row("b", 2), row("d", 6), row("e", 1)} // b lower, c missing, d higher, e extra
	if lost, twice := Compare(want, got); lost != 2 || twice != 2 {
		t.Errorf("Compare = %d lost, %d twice; want 2 (b, c) and 2 (d, e)", lost, twice)
	}
	if lost, twice := Compare(want, want); lost != 0 || twice != 0 {
		t.Errorf("Compare of equal rows = %d, %d; want 0, 0", lost, twice)
	}
}
