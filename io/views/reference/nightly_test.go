package reference_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/io/generator"
	"github.com/beamline/beamline/io/views"
	"github.com/beamline/beamline/io/views/reference"
)

// days returns the config of a run over the days from..to ("YYYY-MM-DD"), with the default bot
// patterns.
func days(from, to string) reference.Config {
	parse := func(s string) time.Time {
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			panic(err)
		}
		return d
	}
	return reference.Config{From: parse(from), To: parse(to), BotPatterns: reference.DefaultBotPatterns}
}

// join returns the records of all sets, in order.
func join(sets ...[]reference.Record) []reference.Record {
	var out []reference.Record
	for _, s := range sets {
		out = append(out, s...)
	}
	return out
}

// TestOwnership runs one-day Computes over a single record and checks which day counts it, and
// how; the other days given see it as context.
func TestOwnership(t *testing.T) {
	tests := []struct {
		name string
		recs []reference.Record
		want map[string]string // run's day -> outcome
	}{
		{"in its own partition", filed("2026-11-20", ev("ts", "2026-11-20T10:00:00Z")),
			map[string]string{"2026-11-19": "context", "2026-11-20": "processed", "2026-11-21": "context"}},
		{"misfiled a day late: counted by its own day", filed("2026-11-21", ev("ts", "2026-11-20T23:59:59.999Z")),
			map[string]string{"2026-11-20": "processed", "2026-11-21": "context"}},
		{"misfiled a day early: counted by its own day", filed("2026-11-19", ev("ts", "2026-11-20T00:00:00Z")),
			map[string]string{"2026-11-19": "context", "2026-11-20": "processed"}},
		{"misfiled by days, not hours: the end of the next day", filed("2026-11-20", ev("ts", "2026-11-21T23:59:59.999Z")),
			map[string]string{"2026-11-20": "context", "2026-11-21": "processed"}},
		{"misfiled by the UTC day, not the local one", filed("2026-11-21", ev("ts", "2026-11-21T01:00:00+02:00")),
			map[string]string{"2026-11-20": "processed", "2026-11-21": "context"}},
		{"two days late: out_of_range of its partition", filed("2026-11-22", ev("ts", "2026-11-20T23:59:59.999Z")),
			map[string]string{"2026-11-20": "context", "2026-11-21": "context", "2026-11-22": "filtered:out_of_range"}},
		{"two days early: out_of_range of its partition", filed("2026-11-18", ev("ts", "2026-11-20T00:00:00Z")),
			map[string]string{"2026-11-18": "filtered:out_of_range", "2026-11-20": "context"}},
		{"out_of_range before the other filters", filed("2026-11-22", ev("ts", "2026-11-20T10:00:00Z", "user_agent", "bot")),
			map[string]string{"2026-11-20": "context", "2026-11-22": "filtered:out_of_range"}},
		{"a misfiled event is filtered by its own day", filed("2026-11-21", ev("ts", "2026-11-20T23:00:00Z", "user_agent", "bot")),
			map[string]string{"2026-11-20": "filtered:bot", "2026-11-21": "context"}},
		{"dead letter: owned by its partition", filed("2026-11-21", `{}`),
			map[string]string{"2026-11-20": "context", "2026-11-21": "dead:missing_field", "2026-11-22": "context"}},
		{"bad timestamp: owned by its partition", filed("2026-11-21", ev("ts", "2026-11-20")),
			map[string]string{"2026-11-20": "context", "2026-11-21": "dead:bad_timestamp"}},
		{"no partition: owned by its event day", bare(ev("ts", "2026-11-21T10:00:00Z")),
			map[string]string{"2026-11-20": "context", "2026-11-21": "processed"}},
		{"no partition: never out_of_range", bare(ev("ts", "2026-11-25T10:00:00Z")),
			map[string]string{"2026-11-20": "context", "2026-11-25": "processed"}},
		{"no partition: a dead letter is every run's", bare(`{}`),
			map[string]string{"2026-11-20": "dead:missing_field", "2026-11-21": "dead:missing_field"}},
		{"a date that does not parse is no partition",
			[]reference.Record{{Raw: []byte(ev("ts", "2026-11-21T10:00:00Z")), Source: "raw/dt=2026-11-31/hr=00/x.jsonl:1"}},
			map[string]string{"2026-11-20": "context", "2026-11-21": "processed"}},
		{"the partition of a longer path",
			[]reference.Record{{Raw: []byte(ev("ts", "2026-11-21T10:00:00Z")), Source: "lake/raw/dt=2026-11-23/hr=07/x:y.jsonl:12"}},
			map[string]string{"2026-11-21": "context", "2026-11-23": "filtered:out_of_range"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for d, want := range tt.want {
				res := computeRecs(t, days(d, d), tt.recs)
				if got := outcome(res.Counts); got != want {
					t.Errorf("run of %s: %s, want %s", d, got, want)
				}
			}
		})
	}
}

// TestZeroDaysOwnEverything checks that a run with zero From and To owns every record: nothing
// is context, and sessions of every day have rows.
func TestZeroDaysOwnEverything(t *testing.T) {
	recs := join(
		filed("2026-11-19", ev("event_id", "1", "ts", "2026-11-19T10:00:00Z")),
		filed("2026-11-21", ev("event_id", "2", "ts", "2026-11-20T23:50:00Z"), `{}`),
		filed("2026-11-22", ev("event_id", "3", "ts", "2026-11-20T10:00:00Z")),
	)
	res := computeRecs(t, reference.Config{}, recs)
	want := reference.Counts{
		Read: 4, Processed: 2,
		Filtered:     map[string]int64{"out_of_range": 1},
		DeadLettered: map[string]int64{"missing_field": 1},
	}
	if diff := cmp.Diff(want, res.Counts); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	if got, want := dayKeys(res.Rows, views.Sessions), []string{"DE@19T10:00", "DE@20T23:00"}; !cmp.Equal(got, want) {
		t.Errorf("sessions %v, want %v", got, want)
	}
}

// dayKeys returns the keys of a view's rows, with their window starts as "02T15:04".
func dayKeys(rows []views.Row, view string) []string {
	var out []string
	for _, r := range rows {
		if r.View == view {
			out = append(out, r.Key+"@"+r.WindowStart.Format("02T15:04"))
		}
	}
	return out
}

func TestDedupeTTL(t *testing.T) {
	at := func(url, ts string) string { return ev("url", url, "ts", ts) }
	tests := []struct {
		name     string
		from, to string
		ttl      time.Duration
		recs     []reference.Record
		// processed, duplicates and context records of the run, and its page_views keys
		processed, dups, context int64
		keys                     []string
	}{
		{"identical copies: one kept", "2026-11-20", "2026-11-20", 0,
			filed("2026-11-20", ev(), ev(), ev()), 1, 2, 0, []string{"https://shop.example/p/1@20T10:00"}},
		{"identical copies in neighbouring partitions", "2026-11-20", "2026-11-20", 0,
			join(filed("2026-11-20", at("a", "2026-11-20T23:30:00Z")), filed("2026-11-21", at("a", "2026-11-20T23:30:00Z"))),
			1, 1, 0, []string{"a@20T23:30"}},
		{"identical copies, seen from the next day", "2026-11-21", "2026-11-21", 0,
			join(filed("2026-11-20", at("a", "2026-11-20T23:30:00Z")), filed("2026-11-21", at("a", "2026-11-20T23:30:00Z"))),
			0, 0, 2, nil},
		{"23 hours apart: one kept", "2026-11-20", "2026-11-20", 0,
			filed("2026-11-20", at("b", "2026-11-20T23:30:00Z"), at("a", "2026-11-20T00:30:00Z")),
			1, 1, 0, []string{"a@20T00:30"}},
		{"exactly the TTL apart: one kept", "2026-11-20", "2026-11-21", 0,
			join(filed("2026-11-20", at("a", "2026-11-20T10:00:00Z")), filed("2026-11-21", at("b", "2026-11-21T10:00:00Z"))),
			1, 1, 0, []string{"a@20T10:00"}},
		{"the TTL and a millisecond apart: both kept", "2026-11-20", "2026-11-21", 0,
			join(filed("2026-11-20", at("a", "2026-11-20T10:00:00Z")), filed("2026-11-21", at("b", "2026-11-21T10:00:00.001Z"))),
			2, 0, 0, []string{"a@20T10:00", "b@21T10:00"}},
		{"25 hours apart: both kept", "2026-11-20", "2026-11-21", 0,
			join(filed("2026-11-20", at("a", "2026-11-20T10:00:00Z")), filed("2026-11-21", at("b", "2026-11-21T11:00:00Z"))),
			2, 0, 0, []string{"a@20T10:00", "b@21T11:00"}},
		{"a copy of the day before decides, as context", "2026-11-20", "2026-11-20", 0,
			join(filed("2026-11-19", at("a", "2026-11-19T22:00:00Z")), filed("2026-11-20", at("b", "2026-11-20T10:00:00Z"))),
			0, 1, 1, nil},
		{"a copy of the day before, more than the TTL earlier", "2026-11-20", "2026-11-20", 0,
			join(filed("2026-11-19", at("a", "2026-11-19T09:00:00Z")), filed("2026-11-20", at("b", "2026-11-20T10:00:00Z"))),
			1, 0, 1, []string{"b@20T10:00"}},
		{"a misfiled copy in the next partition decides", "2026-11-20", "2026-11-20", 0,
			join(filed("2026-11-21", at("a", "2026-11-20T09:00:00Z")), filed("2026-11-20", at("b", "2026-11-20T10:00:00Z"))),
			1, 1, 0, []string{"a@20T09:00"}},
		{"the copy before decides, not the first", "2026-11-20", "2026-11-21", 0,
			join(filed("2026-11-20", at("a", "2026-11-20T00:00:00Z"), at("b", "2026-11-20T20:00:00Z")), filed("2026-11-21", at("c", "2026-11-21T16:00:00Z"))),
			1, 2, 0, []string{"a@20T00:00"}},
		{"a duplicate copy still decides the next", "2026-11-20", "2026-11-20", 0,
			join(filed("2026-11-19", at("a", "2026-11-19T10:00:00Z"), at("b", "2026-11-19T11:00:00Z")), filed("2026-11-20", at("c", "2026-11-20T10:30:00Z"))),
			0, 1, 2, nil},
		{"kept again after the TTL", "2026-11-20", "2026-11-21", 0,
			join(filed("2026-11-20", at("a", "2026-11-20T00:00:00Z")), filed("2026-11-21", at("b", "2026-11-21T01:00:00Z"), at("c", "2026-11-21T02:00:00Z"))),
			2, 1, 0, []string{"a@20T00:00", "b@21T01:00"}},
		{"a shorter TTL", "2026-11-20", "2026-11-20", time.Hour,
			filed("2026-11-20", at("a", "2026-11-20T10:00:00Z"), at("b", "2026-11-20T11:00:00Z"), at("c", "2026-11-20T12:00:00.001Z")),
			2, 1, 0, []string{"a@20T10:00", "c@20T12:00"}},
		{"a filtered copy is no candidate", "2026-11-20", "2026-11-20", 0,
			join(filed("2026-11-19", ev("url", "a", "ts", "2026-11-19T22:00:00Z", "user_agent", "bot")), filed("2026-11-20", at("b", "2026-11-20T10:00:00Z"))),
			1, 0, 1, []string{"b@20T10:00"}},
		{"an out_of_range copy is no candidate", "2026-11-20", "2026-11-20", 0,
			join(filed("2026-11-18", at("a", "2026-11-20T09:00:00Z")), filed("2026-11-20", at("b", "2026-11-20T10:00:00Z"))),
			1, 0, 1, []string{"b@20T10:00"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := days(tt.from, tt.to)
			cfg.DedupeTTL = tt.ttl
			res := computeRecs(t, cfg, tt.recs)
			c := res.Counts
			if c.Processed != tt.processed || c.Duplicates != tt.dups || c.Context != tt.context {
				t.Errorf("processed %d, duplicates %d, context %d; want %d, %d, %d",
					c.Processed, c.Duplicates, c.Context, tt.processed, tt.dups, tt.context)
			}
			if diff := cmp.Diff(tt.keys, dayKeys(res.Rows, views.PageViews)); diff != "" {
				t.Errorf("page_views keys (-want +got):\n%s", diff)
			}
		})
	}
}

// nightlyRecords generates about two and a half days of records (2026-11-19T20:00 to
// 2026-11-22T04:00) as a lake holds them, with what makes the day boundaries hard: users whose
// sessions run across midnight, duplicates, events misfiled by one or two days, dead letters,
// and copies of events with the same event_id a few hours to two days apart.
func nightlyRecords(seed uint64) []reference.Record {
	start := time.Date(2026, 11, 19, 20, 0, 0, 0, time.UTC)
	end := time.Date(2026, 11, 22, 4, 0, 0, 0, time.UTC)
	g := generator.New(generator.Config{
		Seed: seed, Start: start, EventsPerSecond: 0.03, Users: 40,
		DupFraction: 0.05, LateFraction: 0.05, BadFraction: 0.03, BotFraction: 0.03,
	})
	rng := rand.New(rand.NewPCG(seed, 1))
	var recs []reference.Record
	file := func(raw []byte, t time.Time) {
		shift := 0
		switch r := rng.Float64(); {
		case r < 0.06:
			shift = 1
		case r < 0.10:
			shift = -1
		case r < 0.12:
			shift = 2
		case r < 0.14:
			shift = -2
		}
		dt := t.UTC().AddDate(0, 0, shift)
		recs = append(recs, reference.Record{Raw: raw, Source: fmt.Sprintf("raw/dt=%s/hr=%02d/part.jsonl:%d",
			dt.Format(time.DateOnly), t.UTC().Hour(), len(recs)+1)})
	}
	shifts := []time.Duration{0, 0, 30 * time.Minute, -5 * time.Hour, 23 * time.Hour, 24 * time.Hour,
		25 * time.Hour, -23 * time.Hour, -25 * time.Hour, 47 * time.Hour}
	for {
		rec := g.Next()
		if !rec.Arrival.Before(end) {
			return recs
		}
		file(rec.Raw, rec.EventTime)
		if rec.Kind == generator.Bad || rng.Float64() >= 0.05 {
			continue
		}
		// A copy with the same event_id, whose time is shifted (or not: an identical copy, filed
		// apart from the first).
		shift := shifts[rng.IntN(len(shifts))]
		if raw, t, ok := shiftTS(rec.Raw, shift); ok {
			file(raw, t)
		}
	}
}

// shiftTS returns raw with its "ts" moved by d (written in UTC), and the new event time.
func shiftTS(raw []byte, d time.Duration) ([]byte, time.Time, bool) {
	key := []byte(`"ts":"`)
	i := bytes.Index(raw, key)
	if i < 0 {
		return nil, time.Time{}, false
	}
	i += len(key)
	n := bytes.IndexByte(raw[i:], '"')
	if n < 0 {
		return nil, time.Time{}, false
	}
	ts, err := time.Parse(time.RFC3339Nano, string(raw[i:i+n]))
	if err != nil {
		return nil, time.Time{}, false
	}
	if d == 0 {
		return raw, ts, true
	}
	ts = ts.Add(d).UTC()
	out := append(bytes.Clone(raw[:i]), ts.Format(time.RFC3339Nano)...)
	return append(out, raw[i+n:]...), ts, true
}

// TestDaysAddUp checks the property that nightly runs rest on: given the same records, one
// Compute over two days gives, row by row, the union of the two one-day Computes' rows, and its
// counts are their sums. Sessions across midnight, duplicates in both days and misfiled records
// must not be counted twice or lost.
func TestDaysAddUp(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		for _, ttl := range []time.Duration{0, 2 * time.Hour} {
			t.Run(fmt.Sprintf("seed %d, ttl %v", seed, ttl), func(t *testing.T) {
				recs := nightlyRecords(seed)
				run := func(from, to string) reference.Result {
					cfg := days(from, to)
					cfg.DedupeTTL = ttl
					cfg.BlockedUsers = []string{"u-7"}
					return computeRecs(t, cfg, recs)
				}
				both := run("2026-11-20", "2026-11-21")
				first, second := run("2026-11-20", "2026-11-20"), run("2026-11-21", "2026-11-21")

				union := append(append([]views.Row{}, first.Rows...), second.Rows...)
				sort.SliceStable(union, func(i, j int) bool {
					a, b := union[i], union[j]
					if a.View != b.View {
						return a.View < b.View
					}
					if a.Key != b.Key {
						return a.Key < b.Key
					}
					return a.WindowStart.Before(b.WindowStart)
				})
				if diff := cmp.Diff(union, both.Rows); diff != "" {
					t.Errorf("rows: union of the one-day runs (-) vs the two-day run (+):\n%s", diff)
				}
				f, s := first.Counts, second.Counts
				want := reference.Counts{
					Read: f.Read + s.Read, Processed: f.Processed + s.Processed, Duplicates: f.Duplicates + s.Duplicates,
					Filtered: addMaps(f.Filtered, s.Filtered), DeadLettered: addMaps(f.DeadLettered, s.DeadLettered),
					Context: int64(len(recs)) - f.Read - s.Read,
				}
				if diff := cmp.Diff(want, both.Counts); diff != "" {
					t.Errorf("counts: sums of the one-day runs (-) vs the two-day run (+):\n%s", diff)
				}

				// The records do make the boundaries hard.
				c := both.Counts
				if c.Duplicates == 0 || c.Filtered["out_of_range"] == 0 || c.Filtered["bot"] == 0 || sum(c.DeadLettered) == 0 ||
					c.Context == 0 || f.Context == 0 || s.Context == 0 {
					t.Errorf("the records miss a case: two days %+v, first %+v, second %+v", c, f, s)
				}
				cfg := days("2026-11-20", "2026-11-20")
				cfg.DedupeTTL, cfg.BlockedUsers, cfg.Lookahead = ttl, []string{"u-7"}, time.Millisecond
				if cmp.Equal(rowsOf(first.Rows, views.Sessions), rowsOf(computeRecs(t, cfg, recs).Rows, views.Sessions)) {
					t.Error("no session of 2026-11-20 runs across midnight: a horizon just after it changes nothing")
				}
			})
		}
	}
}

func addMaps(a, b map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for k, v := range a {
		out[k] += v
	}
	for k, v := range b {
		out[k] += v
	}
	return out
}

// TestLookaheadBeyondTheData checks that a horizon after the last event changes nothing.
func TestLookaheadBeyondTheData(t *testing.T) {
	recs := nightlyRecords(5)
	cfg := days("2026-11-20", "2026-11-20")
	none := computeRecs(t, cfg, recs)
	cfg.Lookahead = 3 * 24 * time.Hour
	if diff := cmp.Diff(none, computeRecs(t, cfg, recs)); diff != "" {
		t.Errorf("no horizon (-) vs a horizon after the data (+):\n%s", diff)
	}
}
