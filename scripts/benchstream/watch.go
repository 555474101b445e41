package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/beamline/beamline/io/store"
	_ "github.com/beamline/beamline/io/store/sqlitestore"
	"github.com/beamline/beamline/io/views"
	"github.com/beamline/beamline/transforms/aggregate"
)

// watcher polls the store for changes of speed rows.
type watcher struct {
	url     string
	st      *store.Store
	last    map[string]string    // row -> its metrics, as last seen
	changed map[string]time.Time // row -> when it last changed
	ends    map[string]time.Time // row -> its window end
	seen    []time.Time          // when each change was seen
	wm      time.Time
}

func newWatcher(url string) *watcher {
	return &watcher{url: url, last: map[string]string{}, changed: map[string]time.Time{}, ends: map[string]time.Time{}}
}

func (w *watcher) close() {
	if w.st != nil {
		w.st.Close()
	}
}

// watch polls until the job exits and returns its error.
func (w *watcher) watch(poll time.Duration, exited <-chan error) error {
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		select {
		case err := <-exited:
			return err
		case <-tick.C:
			if err := w.poll(context.Background()); err != nil && w.st != nil {
				fmt.Fprintln(os.Stderr, "benchstream: poll:", err)
			}
		}
	}
}

func (w *watcher) poll(ctx context.Context) error {
	if w.st == nil {
		st, err := store.Open(ctx, w.url)
		if err != nil {
			return err // the job has not created it yet
		}
		w.st = st
	}
	now := time.Now()
	if wm, err := w.st.SpeedWatermark(ctx); err == nil && wm.After(w.wm) {
		w.wm = wm
	}
	for _, view := range []string{views.CountryActivity, views.CategoryActivity} {
		rows, err := w.st.Query(ctx, store.Query{View: view, Layer: views.Speed, From: now.Add(-5 * time.Minute), To: now.Add(time.Minute)})
		if err != nil {
			return err
		}
		for _, r := range rows {
			id := r.View + "/" + r.Key + "/" + r.WindowStart.Format(time.RFC3339)
			m := fmt.Sprint(r.Metrics)
			if w.last[id] != m {
				w.last[id], w.changed[id], w.ends[id] = m, now, r.WindowEnd
				w.seen = append(w.seen, now)
			}
		}
	}
	return nil
}

func (w *watcher) watermark() time.Time { return w.wm }

// delays returns the delay of every row of the windows that end in (after, closed], and how
// many windows those are.
func (w *watcher) delays(after, closed time.Time) ([]time.Duration, int) {
	var out []time.Duration
	windows := map[time.Time]bool{}
	for id, end := range w.ends {
		if !end.After(after) || end.After(closed) {
			continue
		}
		windows[end] = true
		out = append(out, max(w.changed[id].Sub(end), 0))
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, len(windows)
}

// earlyFiring returns the job's early-firing step: its --early_firing flag among args, or the
// default.
func earlyFiring(args []string) time.Duration {
	step := aggregate.DefaultEarlyFiring
	for _, a := range args {
		v, ok := strings.CutPrefix(strings.TrimLeft(a, "-"), "early_firing=")
		if d, err := time.ParseDuration(v); ok && err == nil && d > 0 {
			step = d
		}
	}
	return step
}

// paneDelays returns the delay of every change seen in (after, closed] from the latest
// multiple of the early-firing step before it, sorted.
func (w *watcher) paneDelays(after, closed time.Time, step time.Duration) []time.Duration {
	var out []time.Duration
	for _, t := range w.seen {
		if t.After(after) && !t.After(closed) {
			out = append(out, t.Sub(t.Truncate(step)))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
