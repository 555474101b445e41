package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/beamline/beamline/io/store"
	"github.com/beamline/beamline/io/views"
)

// RunReadOnlyTests checks store.OpenReadOnly, as the serving API opens its store. url must
// return the URL of a store that does not exist yet (a fresh file, schema or dataset): opened
// read-only it is refused with store.ErrNotExist and nothing is created; once a writer has
// created and filled it, a read-only store serves what was written and refuses every write.
func RunReadOnlyTests(t *testing.T, url func(t *testing.T) string) {
	t.Helper()
	ctx := t.Context()
	u := url(t)
	if st, err := store.OpenReadOnly(ctx, u); !errors.Is(err, store.ErrNotExist) {
		if err == nil {
			st.Close()
		}
		t.Fatalf("OpenReadOnly of a store that does not exist = %v, want store.ErrNotExist", err)
	}
	if st, err := store.OpenReadOnly(ctx, u); !errors.Is(err, store.ErrNotExist) {
		if err == nil {
			st.Close()
		}
		t.Fatalf("OpenReadOnly again = %v: the first attempt must have created nothing", err)
	}
	w, err := store.Open(ctx, u)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	row := pageViews("/ro", at(day1, 10, 0), 4, 3)
	writeBatch(t, w, "run-a", row)
	publish(t, w, "run-a", day1)
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	r, err := store.OpenReadOnly(ctx, u)
	if err != nil {
		t.Fatalf("OpenReadOnly of an existing store: %v", err)
	}
	defer r.Close()
	checkQuery(t, r, batchQuery(views.PageViews, day1, day2), inLayer(views.Batch, row))
	for name, write := range map[string]func() error{
		"WriteBatch":        func() error { return r.WriteBatch(ctx, "run-b", []views.Row{row}) },
		"Publish":           func() error { return r.Publish(ctx, "run-b", []time.Time{day2}) },
		"UpsertSpeed":       func() error { return r.UpsertSpeed(ctx, []views.Row{row}) },
		"SetSpeedWatermark": func() error { return r.SetSpeedWatermark(ctx, day1) },
	} {
		if err := write(); err == nil {
			t.Errorf("%s on a read-only store: nil error, want a refusal", name)
		}
	}
	checkPublications(t, r, []store.Publication{{Day: day1, Run: "run-a"}})
}
