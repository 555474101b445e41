package generator_test

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/io/generator"
	"github.com/beamline/beamline/io/views/reference"
)

var start = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)

func config(seed uint64) generator.Config {
	return generator.Config{Seed: seed, Start: start, EventsPerSecond: 0.05, Users: 300,
		DupFraction: 0.03, LateFraction: 0.1, BadFraction: 0.05, BotFraction: 0.04}
}

func take(g *generator.Generator, n int) []generator.Record {
	recs := make([]generator.Record, n)
	for i := range recs {
		recs[i] = g.Next()
	}
	return recs
}

func TestDeterministic(t *testing.T) {
	a := take(generator.New(config(7)), 5000)
	b := take(generator.New(config(7)), 5000)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Fatalf("same seed, different records (-first +second):\n%s", diff)
	}
	c := take(generator.New(config(8)), 5000)
	same := 0
	for i := range a {
		if string(a[i].Raw) == string(c[i].Raw) {
			same++
		}
	}
	if same > 50 {
		t.Errorf("seeds 7 and 8 gave %d of %d identical lines", same, len(a))
	}
}

func TestFractions(t *testing.T) {
	cfg := config(1)
	const n = 100000
	got := map[generator.Kind]float64{}
	for _, rec := range take(generator.New(cfg), n) {
		got[rec.Kind] += 1.0 / n
	}
	want := map[generator.Kind]float64{
		generator.Bad: cfg.BadFraction, generator.Duplicate: cfg.DupFraction,
		generator.Late: cfg.LateFraction, generator.Bot: cfg.BotFraction,
		generator.Normal: 1 - cfg.BadFraction - cfg.DupFraction - cfg.LateFraction - cfg.BotFraction,
	}
	for kind, w := range want {
		if math.Abs(got[kind]-w) > 0.005 {
			t.Errorf("fraction of %s records = %.4f, want %.4f", kind, got[kind], w)
		}
	}
}

func TestTimes(t *testing.T) {
	cfg := config(2)
	interval := time.Duration(float64(time.Second) / cfg.EventsPerSecond)
	for i, rec := range take(generator.New(cfg), 20000) {
		if want := start.Add(time.Duration(i) * interval); !rec.Arrival.Equal(want) {
			t.Fatalf("record %d arrives at %s, want %s", i, rec.Arrival, want)
		}
		if rec.EventTime.Location() != time.UTC {
			t.Errorf("record %d: event time %s is not in UTC", i, rec.EventTime)
		}
		lo, hi := rec.Arrival, rec.Arrival.Add(interval)
		switch rec.Kind {
		case generator.Late:
			lo = rec.Arrival.Add(-15 * time.Minute)
			if lo.Before(start) {
				lo = start
			}
		case generator.Duplicate:
			lo = rec.Arrival.Add(-64*interval - 15*time.Minute)
		}
		if rec.EventTime.Before(lo) || !rec.EventTime.Before(hi) {
			t.Errorf("record %d (%s): event time %s not in [%s, %s)", i, rec.Kind, rec.EventTime, lo, hi)
		}
	}
}

// TestEvents checks the records against the reference implementation: bad records are dead
// letters for their reason, bots are filtered, the rest are valid events whose ts is EventTime.
func TestEvents(t *testing.T) {
	cfg := reference.Config{From: start, To: start.AddDate(0, 0, 30), BotPatterns: reference.DefaultBotPatterns}
	seen := map[string]reference.Counts{} // the counts of the events seen so far
	for i, rec := range take(generator.New(config(3)), 20000) {
		counts := reference.Compute(cfg, []reference.Record{{Raw: rec.Raw}}).Counts
		want := reference.Counts{Read: 1, Filtered: map[string]int64{}, DeadLettered: map[string]int64{}}
		switch rec.Kind {
		case generator.Bad:
			want.DeadLettered[rec.Reason] = 1
		case generator.Bot:
			want.Filtered["bot"] = 1
		case generator.Duplicate:
			var ok bool
			if want, ok = seen[string(rec.Raw)]; !ok {
				t.Errorf("record %d: duplicate %q is not a copy of an earlier event", i, rec.Raw)
				continue
			}
		default:
			want.Processed = 1
			checkEvent(t, rec)
		}
		if diff := cmp.Diff(want, counts); diff != "" {
			t.Errorf("record %d (%s) %q: counts (-want +got):\n%s", i, rec.Kind, rec.Raw, diff)
		}
		if rec.Kind != generator.Bad {
			seen[string(rec.Raw)] = want
		}
	}
}

func checkEvent(t *testing.T, rec generator.Record) {
	t.Helper()
	var ev struct{ TS string }
	if err := json.Unmarshal(rec.Raw, &ev); err != nil {
		t.Fatalf("%q: %v", rec.Raw, err)
	}
	ts, err := time.Parse(time.RFC3339Nano, ev.TS)
	if err != nil || !ts.Equal(rec.EventTime) {
		t.Errorf("%q: ts %q (err %v), event time %s", rec.Raw, ev.TS, err, rec.EventTime)
	}
}

// TestSessionsSplit checks that users come back both within and after the 30-minute gap.
func TestSessionsSplit(t *testing.T) {
	last := map[string]time.Time{}
	var within, after int
	for _, rec := range take(generator.New(config(4)), 5000) {
		if rec.Kind != generator.Normal {
			continue
		}
		var ev struct {
			UserID string `json:"user_id"`
		}
		if err := json.Unmarshal(rec.Raw, &ev); err != nil {
			t.Fatal(err)
		}
		if prev, ok := last[ev.UserID]; ok {
			if rec.EventTime.Sub(prev) <= 30*time.Minute {
				within++
			} else {
				after++
			}
		}
		last[ev.UserID] = rec.EventTime
	}
	if within < 500 || after < 500 {
		t.Errorf("returning visits: %d within 30 minutes, %d after; want both >= 500", within, after)
	}
}
