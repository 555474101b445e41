package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/io/store"
	_ "github.com/beamline/beamline/io/store/postgresstore"
	_ "github.com/beamline/beamline/io/store/sqlitestore"
	"github.com/beamline/beamline/io/views"
)

// compare reads the published batch rows of the days from..to (inclusive) from the store at
// url and returns an error that names the first differences when they are not want, the
// reference's rows.
func compare(ctx context.Context, url string, from, to time.Time, want []views.Row) error {
	st, err := store.Open(ctx, url)
	if err != nil {
		return err
	}
	defer st.Close()
	var got []views.Row
	for _, spec := range views.All() {
		rows, err := st.Query(ctx, store.Query{View: spec.Name, Layer: views.Batch, From: from, To: to.AddDate(0, 0, 1)})
		if err != nil {
			return err
		}
		got = append(got, rows...)
	}
	key := func(r views.Row) string {
		return r.View + "\x00" + r.Key + "\x00" + r.WindowStart.UTC().Format(time.RFC3339)
	}
	sortRows := func(rows []views.Row) {
		slices.SortFunc(rows, func(a, b views.Row) int { return strings.Compare(key(a), key(b)) })
	}
	sortRows(got)
	want = slices.Clone(want)
	sortRows(want)
	ignoreLayer := cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Layer" }, cmp.Ignore())
	if d := cmp.Diff(want, got, ignoreLayer); d != "" {
		if len(d) > 4000 {
			d = d[:4000] + "\n..."
		}
		return fmt.Errorf("the store's batch rows differ from the reference's (%d rows against %d; -reference +store):\n%s", len(got), len(want), d)
	}
	fmt.Printf("rows: the store's %d batch rows equal the reference's\n", len(got))
	return nil
}
