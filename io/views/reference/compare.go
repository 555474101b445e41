package reference

import "github.com/beamline/beamline/io/views"

// Compare compares rows that a job produced (got) with the reference's (want), row by row (by
// view, key and window start) and metric by metric: lost counts the rows of want that got lacks
// or has lower in some metric, twice the rows of got that want lacks or has higher (and not
// lower). Both are 0 exactly when the rows are equal.
func Compare(want, got []views.Row) (lost, twice int) {
	have := map[string]views.Row{}
	for _, r := range got {
		have[r.ID()] = r
	}
	for _, w := range want {
		g, ok := have[w.ID()]
		delete(have, w.ID())
		switch {
		case !ok || Below(g.Metrics, w.Metrics):
			lost++
		case Below(w.Metrics, g.Metrics):
			twice++
		}
	}
	return lost, twice + len(have)
}

// Below says whether metrics a are lower than b in some metric (one that a lacks counts as 0).
func Below(a, b map[string]int64) bool {
	for name, v := range b {
		if a[name] < v {
			return true
		}
	}
	return false
}
