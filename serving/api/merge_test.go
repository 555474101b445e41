package api

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/io/store"
	"github.com/beamline/beamline/io/views"
)

func pubs(days ...int) []store.Publication {
	var out []store.Publication
	for _, d := range days {
		out = append(out, store.Publication{Day: day0.AddDate(0, 0, d), Run: "r"})
	}
	return out
}

func TestCutoff(t *testing.T) {
	tests := []struct {
		name   string
		pubs   []store.Publication
		want   time.Time
		wantOK bool
	}{
		{"nothing published", nil, time.Time{}, false},
		{"one day", pubs(0), day0.AddDate(0, 0, 1), true},
		{"contiguous", pubs(0, 1, 2), day0.AddDate(0, 0, 3), true},
		{"gap stops the cutoff", pubs(0, 1, 3), day0.AddDate(0, 0, 2), true},
		{"gap after the first day", pubs(0, 2, 3, 4), day0.AddDate(0, 0, 1), true},
		{"unsorted", pubs(2, 0, 1), day0.AddDate(0, 0, 3), true},
		{"duplicate days", pubs(0, 0, 1), day0.AddDate(0, 0, 2), true},
		{"day not at midnight", []store.Publication{{Day: day0.Add(13 * time.Hour)}}, day0.AddDate(0, 0, 1), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Cutoff(tt.pubs)
			if !got.Equal(tt.want) || ok != tt.wantOK {
				t.Errorf("Cutoff = %v, %v; want %v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestGaps(t *testing.T) {
	got := gaps(pubs(0, 1, 4, 6), 10)
	want := []time.Time{day0.AddDate(0, 0, 2), day0.AddDate(0, 0, 3), day0.AddDate(0, 0, 5)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("gaps (-want +got):\n%s", diff)
	}
	if got := gaps(pubs(0, 10), 3); len(got) != 3 {
		t.Errorf("gaps with max 3 = %d days, want 3", len(got))
	}
}

func TestSplit(t *testing.T) {
	at := func(h int) time.Time { return day0.Add(time.Duration(h) * time.Hour) }
	tests := []struct {
		name          string
		from, to, cut time.Time
		batch, speed  span
	}{
		{"spans the cutoff", at(20), at(26), at(24), span{at(20), at(24)}, span{at(24), at(26)}},
		{"all batch", at(1), at(2), at(24), span{at(1), at(2)}, span{at(24), at(2)}},
		{"all speed", at(25), at(26), at(24), span{at(25), at(24)}, span{at(25), at(26)}},
		{"ends at the cutoff", at(20), at(24), at(24), span{at(20), at(24)}, span{at(24), at(24)}},
		{"starts at the cutoff", at(24), at(25), at(24), span{at(24), at(24)}, span{at(24), at(25)}},
		{"no cutoff", at(1), at(2), time.Time{}, span{at(1), time.Time{}}, span{at(1), at(2)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, s := split(tt.from, tt.to, tt.cut)
			if b.empty() != tt.batch.empty() || (!b.empty() && b != tt.batch) {
				t.Errorf("batch span = %v, want %v", b, tt.batch)
			}
			if s.empty() != tt.speed.empty() || (!s.empty() && s != tt.speed) {
				t.Errorf("speed span = %v, want %v", s, tt.speed)
			}
		})
	}
}

func TestMergeNeverAddsWrongLayerRows(t *testing.T) {
	cut := day0.AddDate(0, 0, 1)
	m := func(start time.Time, n int64) views.Row { return row(views.PageViews, "u", start, pv(n, n)) }
	batch := []views.Row{
		m(cut.Add(-2*time.Minute), 1),
		m(cut.Add(-time.Minute), 2),
		m(cut, 100), // a batch row after the cutoff (a day published after a gap): never served
	}
	speed := []views.Row{
		m(cut.Add(-time.Minute), 1000), // a speed row before the cutoff: never added in
		m(cut, 3),
		m(cut.Add(time.Minute), 4),
		m(cut.Add(2*time.Minute), 5), // outside [from, to)
	}
	got := merge(batch, speed, cut.Add(-2*time.Minute), cut.Add(2*time.Minute), cut)
	var gotN []int64
	var gotLayers []views.Layer
	for _, r := range got {
		gotN = append(gotN, r.Metrics[views.MetricViews])
		gotLayers = append(gotLayers, r.Layer)
	}
	if diff := cmp.Diff([]int64{1, 2, 3, 4}, gotN); diff != "" {
		t.Errorf("merged views (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]views.Layer{views.Batch, views.Batch, views.Speed, views.Speed}, gotLayers); diff != "" {
		t.Errorf("merged layers (-want +got):\n%s", diff)
	}
}

func TestMergeSortsByWindowThenKey(t *testing.T) {
	cut := day0
	speed := []views.Row{row(views.PageViews, "b", cut, pv(1, 1)), row(views.PageViews, "a", cut.Add(time.Minute), pv(1, 1))}
	batch := []views.Row{row(views.PageViews, "z", cut.Add(-time.Minute), pv(1, 1))}
	got := merge(batch, speed, cut.Add(-time.Hour), cut.Add(time.Hour), cut)
	var keys []string
	for _, r := range got {
		keys = append(keys, r.Key)
	}
	if diff := cmp.Diff([]string{"z", "b", "a"}, keys); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}

func TestRollup(t *testing.T) {
	spec, _ := views.Lookup(views.PageViews)
	cut := day0.AddDate(0, 0, 1)
	rows := []views.Row{
		row(views.PageViews, "u", cut.Add(-61*time.Minute), pv(1, 1)),
		row(views.PageViews, "u", cut.Add(-2*time.Minute), pv(2, 2)),
		row(views.PageViews, "u", cut.Add(-time.Minute), pv(3, 2)),
		row(views.PageViews, "u", cut.Add(5*time.Minute), pv(4, 3)),
	}
	t.Run("native keeps distinct counts", func(t *testing.T) {
		got := rollup(rows, spec, time.Minute, cut)
		if len(got) != 4 || got[1].Metrics[views.MetricVisitors] != 2 || got[3].Layer != views.Speed {
			t.Errorf("rollup 1m = %+v", got)
		}
	})
	t.Run("1h sums additive metrics only", func(t *testing.T) {
		got := rollup(rows, spec, time.Hour, cut)
		want := []bucket{
			{cut.Add(-2 * time.Hour), cut.Add(-time.Hour), views.Batch, map[string]int64{"views": 1}},
			{cut.Add(-time.Hour), cut, views.Batch, map[string]int64{"views": 5}},
			{cut, cut.Add(time.Hour), views.Speed, map[string]int64{"views": 4}},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("rollup 1h (-want +got):\n%s", diff)
		}
	})
	t.Run("1d", func(t *testing.T) {
		got := rollup(rows, spec, day, cut)
		want := []bucket{
			{day0, cut, views.Batch, map[string]int64{"views": 6}},
			{cut, cut.Add(day), views.Speed, map[string]int64{"views": 4}},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("rollup 1d (-want +got):\n%s", diff)
		}
	})
}

func TestTotalsAndTop(t *testing.T) {
	spec, _ := views.Lookup(views.PageViews)
	rows := []views.Row{
		row(views.PageViews, "b", day0, pv(2, 1)),
		row(views.PageViews, "a", day0, pv(1, 1)),
		row(views.PageViews, "a", day0.Add(time.Minute), pv(1, 1)),
		row(views.PageViews, "c", day0, pv(5, 5)),
	}
	if diff := cmp.Diff(map[string]int64{"views": 9}, totals(rollup(rows, spec, day, day0.AddDate(0, 0, 1)), spec)); diff != "" {
		t.Errorf("totals (-want +got):\n%s", diff)
	}
	top := func(rows []views.Row, metric string, n int) []keyValue {
		sums := map[string]int64{}
		addSums(sums, rows, metric)
		return topOf(sums, n)
	}
	want := []keyValue{{"c", 5}, {"a", 2}, {"b", 2}}
	if diff := cmp.Diff(want, top(rows, views.MetricViews, 10)); diff != "" {
		t.Errorf("top (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want[:2], top(rows, views.MetricViews, 2)); diff != "" {
		t.Errorf("top 2 (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a", "b", "c"}, keys(rows)); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
}
