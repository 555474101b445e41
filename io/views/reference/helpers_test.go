package reference_test

import (
	"encoding/json"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/beamline/beamline/io/views"
	"github.com/beamline/beamline/io/views/reference"
)

// baseConfig covers 2026-11-20 only, with the default bot patterns.
func baseConfig() reference.Config {
	return reference.Config{From: day, To: day, BotPatterns: reference.DefaultBotPatterns}
}

// ev returns a valid pageview as a JSON line, with fields overridden by name/value pairs; a
// value of del removes the field.
func ev(kv ...string) string {
	f := map[string]string{
		"event_id": "e-1", "type": "pageview", "user_id": "u-1", "url": "https://shop.example/p/1",
		"country": "DE", "user_agent": "Mozilla/5.0", "ts": "2026-11-20T10:00:00.000Z",
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == del {
			delete(f, kv[i])
		} else {
			f[kv[i]] = kv[i+1]
		}
	}
	b, err := json.Marshal(f)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// bare returns lines as records whose Source names no lake partition ("test:N"): valid events
// are owned by the day of their event time, dead letters by every run.
func bare(lines ...string) []reference.Record {
	recs := make([]reference.Record, len(lines))
	for i, l := range lines {
		recs[i] = reference.Record{Raw: []byte(l), Source: "test:" + strconv.Itoa(i+1)}
	}
	return recs
}

// filed returns lines as records of a file in the lake partition of day dt (YYYY-MM-DD).
func filed(dt string, lines ...string) []reference.Record {
	recs := make([]reference.Record, len(lines))
	for i, l := range lines {
		recs[i] = reference.Record{Raw: []byte(l), Source: "raw/dt=" + dt + "/hr=00/test.jsonl:" + strconv.Itoa(i+1)}
	}
	return recs
}

// compute runs Compute over lines given as bare records (see computeRecs).
func compute(t *testing.T, cfg reference.Config, lines ...string) reference.Result {
	t.Helper()
	return computeRecs(t, cfg, bare(lines...))
}

// computeRecs runs Compute over recs and checks what holds for every result: the counts add up
// (every record is counted once, as read or as context), rows fit their view and are sorted.
func computeRecs(t *testing.T, cfg reference.Config, recs []reference.Record) reference.Result {
	t.Helper()
	res := reference.Compute(cfg, recs)
	c := res.Counts
	sum := c.Processed + c.Duplicates
	for _, n := range c.Filtered {
		sum += n
	}
	for _, n := range c.DeadLettered {
		sum += n
	}
	if c.Read+c.Context != int64(len(recs)) || sum != c.Read || c.Read < 0 || c.Context < 0 {
		t.Errorf("counts %+v: read %d and context %d of %d records, parts add up to %d", c, c.Read, c.Context, len(recs), sum)
	}
	for _, r := range res.Rows {
		if err := r.Validate(); err != nil {
			t.Error(err)
		}
		if r.Layer != views.Batch {
			t.Errorf("row %+v: layer %q, want batch", r, r.Layer)
		}
	}
	if !sort.SliceIsSorted(res.Rows, func(i, j int) bool {
		a, b := res.Rows[i], res.Rows[j]
		if a.View != b.View {
			return a.View < b.View
		}
		if a.Key != b.Key {
			return a.Key < b.Key
		}
		return a.WindowStart.Before(b.WindowStart)
	}) {
		t.Error("rows are not sorted by view, key, window start")
	}
	return res
}

// outcome says what happened to a single record: "processed", "duplicate", "filtered:NAME",
// "dead:REASON" or "context".
func outcome(c reference.Counts) string {
	switch {
	case c.Context == 1:
		return "context"
	case c.Processed == 1:
		return "processed"
	case c.Duplicates == 1:
		return "duplicate"
	}
	for name := range c.Filtered {
		return "filtered:" + name
	}
	for reason := range c.DeadLettered {
		return "dead:" + reason
	}
	return "nothing"
}

// keys returns the keys of a view's rows, with their window starts as "15:04".
func keys(rows []views.Row, view string) []string {
	var out []string
	for _, r := range rows {
		if r.View == view {
			out = append(out, r.Key+"@"+r.WindowStart.Format("15:04"))
		}
	}
	return out
}

// row builds an expected row.
func row(view, key, start string, length time.Duration, metrics map[string]int64) views.Row {
	s, err := time.Parse(time.RFC3339, start)
	if err != nil {
		panic(err)
	}
	return views.Row{View: view, Key: key, WindowStart: s, WindowEnd: s.Add(length), Metrics: metrics, Layer: views.Batch}
}

func rowsOf(rows []views.Row, view string) []views.Row {
	var out []views.Row
	for _, r := range rows {
		if r.View == view {
			out = append(out, r)
		}
	}
	return out
}
