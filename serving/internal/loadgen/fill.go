package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/beamline/beamline/io/store"
	_ "github.com/beamline/beamline/io/store/sqlitestore"
	"github.com/beamline/beamline/io/views"
)

// keyName returns the page_views key number i.
func keyName(i int) string { return fmt.Sprintf("https://shop.example/p/%d", i) }

func fill(args []string) error {
	fs := flag.NewFlagSet("fill", flag.ContinueOnError)
	storeURL := fs.String("store", "", "view store URL (required)")
	dayFlag := fs.String("day", "2026-11-20", "the batch day (UTC)")
	days := fs.Int("days", 1, "batch days, ending with --day")
	nkeys := fs.Int("keys", 50, "page_views keys (URLs)")
	sparse := fs.Int("sparse_keys", 0, "more page_views keys on --day, with 10 rows each")
	speedHours := fs.Int("speed_hours", 2, "hours of speed rows after the batch day")
	if err := fs.Parse(args); err != nil {
		return err
	}
	day, err := time.Parse(time.DateOnly, *dayFlag)
	if err != nil || *storeURL == "" || *nkeys < 1 || *speedHours < 1 || *days < 1 || *sparse < 0 {
		return fmt.Errorf("fill: need --store, --day=YYYY-MM-DD, --days >= 1, --keys >= 1, --sparse_keys >= 0 and --speed_hours >= 1")
	}
	first := day.AddDate(0, 0, 1-*days)
	ctx := context.Background()
	st, err := store.Open(ctx, *storeURL)
	if err != nil {
		return err
	}
	defer st.Close()
	start := time.Now()
	run := store.NewRunID(start)
	n := 0
	var pubDays []time.Time
	for d := first; !d.After(day); d = d.AddDate(0, 0, 1) {
		pubDays = append(pubDays, d)
	}
	for _, spec := range views.All() {
		for _, d := range pubDays {
			rows := synthRows(spec, *nkeys, d, d.Add(24*time.Hour))
			if err := st.WriteBatch(ctx, run, rows); err != nil {
				return fmt.Errorf("fill %s: %w", spec.Name, err)
			}
			n += len(rows)
		}
		speed := synthRows(spec, *nkeys, day.Add(24*time.Hour), day.Add(24*time.Hour+time.Duration(*speedHours)*time.Hour))
		if err := st.UpsertSpeed(ctx, speed); err != nil {
			return fmt.Errorf("fill %s speed: %w", spec.Name, err)
		}
		n += len(speed)
	}
	if *sparse > 0 {
		rows := sparseRows(*sparse, day)
		if err := st.WriteBatch(ctx, run, rows); err != nil {
			return fmt.Errorf("fill sparse keys: %w", err)
		}
		n += len(rows)
	}
	if err := st.Publish(ctx, run, pubDays); err != nil {
		return err
	}
	if err := st.SetSpeedWatermark(ctx, day.Add(24*time.Hour+time.Duration(*speedHours)*time.Hour)); err != nil {
		return err
	}
	fmt.Printf("filled %d rows (batch run %s for %d days to %s, %d sparse keys, %d speed hours) in %s\n",
		n, run, *days, *dayFlag, *sparse, *speedHours, time.Since(start).Round(time.Millisecond))
	return nil
}

// synthRows returns a row for every key and window of spec in [from, to), with small metrics that
// vary by key and window.
func synthRows(spec views.Spec, nkeys int, from, to time.Time) []views.Row {
	keys := []string{"DE", "FR", "US", "GB", "ZZ"}
	if spec.Name == views.PageViews {
		keys = nil
		for i := range nkeys {
			keys = append(keys, keyName(i))
		}
	}
	var out []views.Row
	for w := from; w.Before(to); w = w.Add(spec.Window) {
		for i, k := range keys {
			m := make(map[string]int64, len(spec.Metrics))
			for j, mt := range spec.Metrics {
				m[mt.Name] = int64((w.Unix()/60+int64(i)+int64(j))%7 + 1)
			}
			out = append(out, views.Row{View: spec.Name, Key: k, WindowStart: w, WindowEnd: w.Add(spec.Window), Metrics: m})
		}
	}
	return out
}

// sparseRows returns n page_views keys with a row in 10 minutes of day each (minutes spread by
// key), and views that vary by key so that the top list is well defined.
func sparseRows(n int, day time.Time) []views.Row {
	out := make([]views.Row, 0, 10*n)
	for i := range n {
		key := fmt.Sprintf("https://shop.example/s/%d", i)
		for j := range 10 {
			w := day.Add(time.Duration((i*37+j*131)%1440) * time.Minute)
			out = append(out, views.Row{View: views.PageViews, Key: key, WindowStart: w, WindowEnd: w.Add(time.Minute),
				Metrics: map[string]int64{views.MetricViews: int64(i%997 + j), views.MetricVisitors: 1}})
		}
	}
	return out
}
