package reference_test

import (
	"encoding/json"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/io/views"
	"github.com/beamline/beamline/io/views/reference"
)

var day = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)

// baseConfig covers 2026-11-20 only, with the default bot patterns.
func baseConfig() reference.Config {
	return reference.Config{From: day, To: day, BotPatterns: reference.DefaultBotPatterns}
}

// del marks a field that ev leaves out.
const del = "\x00del"

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

func TestParse(t *testing.T) {
	tests := []struct {
		name, line, want string
	}{
		{"valid pageview", ev(), "processed"},
		{"valid click", ev("type", "click"), "processed"},
		{"post without url", ev("type", "post", "url", del, "text", "hi"), "processed"},
		{"post with empty url", ev("type", "post", "url", ""), "processed"},
		{"unknown fields ignored", `{"event_id":"e","type":"click","user_id":"u","url":"x","ts":"2026-11-20T10:00:00Z","n":1,"o":{"a":[1]},"Type":"bad"}`, "processed"},
		{"null strings are empty", `{"event_id":"e","type":"post","user_id":"u","url":null,"country":null,"user_agent":null,"text":null,"ts":"2026-11-20T10:00:00Z"}`, "processed"},
		{"whitespace around the object", " \t" + ev() + " ", "processed"},
		{"escapes in strings", `{"event_id":"e\u002d1","type":"page\u0076iew","user_id":"u","url":"x","ts":"2026-11-20T10:00:00Z"}`, "processed"},
		{"non-UTF-8 in a string", "{\"event_id\":\"e\",\"type\":\"post\",\"user_id\":\"u\",\"text\":\"caf\xe9\",\"ts\":\"2026-11-20T10:00:00Z\"}", "dead:invalid_utf8"},
		{"non-UTF-8 in an unknown field", "{\"event_id\":\"e\",\"type\":\"post\",\"user_id\":\"u\",\"x\":\"\xc3\x28\",\"ts\":\"2026-11-20T10:00:00Z\"}", "dead:invalid_utf8"},
		{"an escaped lone surrogate is decoded, not an error", "{\"event_id\":\"e\",\"type\":\"post\",\"user_id\":\"u\",\"text\":\"\\ud800\",\"ts\":\"2026-11-20T10:00:00Z\"}", "processed"},
		{"repeated field: last string wins", `{"event_id":"e","type":"buy","type":"click","user_id":"u","url":"x","ts":"2026-11-20T10:00:00Z"}`, "processed"},
		{"repeated field: null empties", `{"event_id":"e","type":"click","type":null,"user_id":"u","url":"x","ts":"2026-11-20T10:00:00Z"}`, "dead:missing_field"},
		{"escaped field name", `{"event_\u0069d":"e","type":"click","user_id":"u","url":"x","ts":"2026-11-20T10:00:00Z"}`, "processed"},
		{"nested unknown fields", `{"a":{"type":1,"b":[1,{"c":"}"}],"d":"\"]"},"event_id":"e","type":"click","user_id":"u","url":"x","ts":"2026-11-20T10:00:00Z","z":-1.5e3}`, "processed"},
		{"unknown literals before the end", `{"event_id":"e","type":"click","user_id":"u","url":"x","ts":"2026-11-20T10:00:00Z","a":true,"b":null,"c":12}`, "processed"},
		{"white space everywhere", "{ \"event_id\" : \"e\" ,\n\"type\":\t\"click\" , \"user_id\":\"u\",\"url\" :\"x\",\"ts\":\"2026-11-20T10:00:00Z\" , \"n\" : 1 }", "processed"},

		{"blank line", "", "dead:invalid_json"},
		{"spaces only", "   ", "dead:invalid_json"},
		{"array", `[{"event_id":"e"}]`, "dead:invalid_json"},
		{"null", "null", "dead:invalid_json"},
		{"string", `"text"`, "dead:invalid_json"},
		{"number", "42", "dead:invalid_json"},
		{"truncated", ev()[:40], "dead:invalid_json"},
		{"trailing garbage", ev() + " x", "dead:invalid_json"},
		{"two objects", ev() + ev(), "dead:invalid_json"},
		{"not UTF-8 at all", "\xff\xfe", "dead:invalid_utf8"},
		{"number user_id", `{"event_id":"e","type":"click","user_id":42,"url":"x","ts":"2026-11-20T10:00:00Z"}`, "dead:invalid_json"},
		{"number ts", `{"event_id":"e","type":"click","user_id":"u","url":"x","ts":1763632800}`, "dead:invalid_json"},
		{"bool country", `{"event_id":"e","type":"click","user_id":"u","url":"x","country":true,"ts":"2026-11-20T10:00:00Z"}`, "dead:invalid_json"},
		{"object text", `{"event_id":"e","type":"post","user_id":"u","text":{},"ts":"2026-11-20T10:00:00Z"}`, "dead:invalid_json"},
		{"array url", `{"event_id":"e","type":"click","user_id":"u","url":["x"],"ts":"2026-11-20T10:00:00Z"}`, "dead:invalid_json"},
		{"wrong type before missing field", `{"type":"click","user_id":1}`, "dead:invalid_json"},
		{"repeated field: wrong type anywhere", `{"event_id":"e","type":42,"type":"click","user_id":"u","url":"x","ts":"2026-11-20T10:00:00Z"}`, "dead:invalid_json"},
		{"nested object", `{"event_id":"e","type":"click","user_id":"u","url":"x","ts":"2026-11-20T10:00:00Z","o":{"a":1}`, "dead:invalid_json"},
		{"single quotes", `{'event_id':'e'}`, "dead:invalid_json"},
		{"control character in a string", "{\"event_id\":\"e\n\",\"type\":\"click\",\"user_id\":\"u\",\"url\":\"x\",\"ts\":\"2026-11-20T10:00:00Z\"}", "dead:invalid_json"},

		{"no event_id", ev("event_id", del), "dead:missing_field"},
		{"empty type", ev("type", ""), "dead:missing_field"},
		{"no user_id", ev("user_id", del), "dead:missing_field"},
		{"null ts", `{"event_id":"e","type":"click","user_id":"u","url":"x","ts":null}`, "dead:missing_field"},
		{"field names are case-sensitive", `{"Event_ID":"e","type":"click","user_id":"u","url":"x","ts":"2026-11-20T10:00:00Z"}`, "dead:missing_field"},
		{"missing field before unknown type", ev("type", "buy", "user_id", del), "dead:missing_field"},
		{"empty object", "{}", "dead:missing_field"},

		{"unknown type", ev("type", "purchase"), "dead:unknown_type"},
		{"type is case-sensitive", ev("type", "Pageview"), "dead:unknown_type"},
		{"type with a space", ev("type", "click "), "dead:unknown_type"},
		{"unknown type before bad ts", ev("type", "buy", "ts", "now"), "dead:unknown_type"},

		{"ts without zone", ev("ts", "2026-11-20T10:00:00"), "dead:bad_timestamp"},
		{"ts with a space", ev("ts", "2026-11-20 10:00:00Z"), "dead:bad_timestamp"},
		{"ts as date", ev("ts", "2026-11-20"), "dead:bad_timestamp"},
		{"ts zone without colon", ev("ts", "2026-11-20T10:00:00+0200"), "dead:bad_timestamp"},
		{"ts out of range month", ev("ts", "2026-13-20T10:00:00Z"), "dead:bad_timestamp"},
		{"bad ts before missing url", ev("ts", "soon", "url", del), "dead:bad_timestamp"},

		{"pageview without url", ev("url", del), "dead:missing_field"},
		{"pageview with null url", `{"event_id":"e","type":"pageview","user_id":"u","url":null,"ts":"2026-11-20T10:00:00Z"}`, "dead:missing_field"},
		{"click with empty url", ev("type", "click", "url", ""), "dead:missing_field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := compute(t, baseConfig(), tt.line)
			if got := outcome(res.Counts); got != tt.want {
				t.Errorf("%q: %s, want %s", tt.line, got, tt.want)
			}
		})
	}
}

func TestFilters(t *testing.T) {
	blocked := func(c reference.Config) reference.Config { c.BlockedUsers = []string{"u-bad"}; return c }
	countries := func(c reference.Config) reference.Config { c.Countries = []string{"DE", "FR"}; return c }
	noBots := func(c reference.Config) reference.Config { c.BotPatterns = nil; return c }
	same := func(c reference.Config) reference.Config { return c }
	tests := []struct {
		name string
		cfg  func(reference.Config) reference.Config
		line string
		want string
	}{
		// The records are filed in the partition of 2026-11-20, the run's day.
		{"start of the range", same, ev("ts", "2026-11-20T00:00:00Z"), "processed"},
		{"last millisecond of the range", same, ev("ts", "2026-11-20T23:59:59.999999Z"), "processed"},
		{"end of the range: the next day's", same, ev("ts", "2026-11-21T00:00:00Z"), "context"},
		{"before the range: the day before's", same, ev("ts", "2026-11-19T23:59:59.999Z"), "context"},
		{"offset into the range", same, ev("ts", "2026-11-21T01:00:00+02:00"), "processed"},
		{"offset out of the range", same, ev("ts", "2026-11-20T01:00:00+02:00"), "context"},
		{"two days after the partition", same, ev("ts", "2026-11-22T00:00:00Z"), "filtered:out_of_range"},
		{"two days before the partition", same, ev("ts", "2026-11-18T23:59:59.999Z"), "filtered:out_of_range"},
		{"offset: the UTC day counts", same, ev("ts", "2026-11-21T23:30:00-02:00"), "filtered:out_of_range"},
		{"filters of another day's event are context", same, ev("ts", "2026-11-21T10:00:00Z", "user_agent", "bot"), "context"},

		{"monitored country", countries, ev("country", "FR"), "processed"},
		{"monitored country, lower-case", countries, ev("country", "fr"), "processed"},
		{"unmonitored country", countries, ev("country", "US"), "filtered:country"},
		{"missing country is ZZ", countries, ev("country", del), "filtered:country"},
		{"no list: all countries", same, ev("country", "US"), "processed"},

		{"bot", same, ev("user_agent", "Googlebot/2.1"), "filtered:bot"},
		{"bot upper-case", same, ev("user_agent", "AHREFSBOT"), "filtered:bot"},
		{"crawler mixed case", same, ev("user_agent", "SomeCrawler"), "filtered:bot"},
		{"spider", same, ev("user_agent", "Baiduspider"), "filtered:bot"},
		{"bot inside a word", same, ev("user_agent", "Robotic Browser"), "filtered:bot"},
		{"no user agent", same, ev("user_agent", del), "processed"},
		{"no bot patterns", noBots, ev("user_agent", "Googlebot"), "processed"},

		{"blocked user", blocked, ev("user_id", "u-bad"), "filtered:blocked_user"},
		{"blocked is exact", blocked, ev("user_id", "u-bad2"), "processed"},

		{"out_of_range before country", func(c reference.Config) reference.Config { return blocked(countries(c)) },
			ev("ts", "2026-11-22T00:00:00Z", "country", "US", "user_agent", "bot", "user_id", "u-bad"), "filtered:out_of_range"},
		{"country before bot", func(c reference.Config) reference.Config { return blocked(countries(c)) },
			ev("country", "US", "user_agent", "bot", "user_id", "u-bad"), "filtered:country"},
		{"bot before blocked_user", blocked, ev("user_agent", "bot", "user_id", "u-bad"), "filtered:bot"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := computeRecs(t, tt.cfg(baseConfig()), filed("2026-11-20", tt.line))
			if got := outcome(res.Counts); got != tt.want {
				t.Errorf("%q: %s, want %s", tt.line, got, tt.want)
			}
		})
	}
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

func TestDedupe(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  []string // page_views keys
		dups  int64
	}{
		{"exact copies", []string{ev(), ev(), ev()}, []string{"https://shop.example/p/1@10:00"}, 2},
		{"earliest wins", []string{
			ev("url", "a", "ts", "2026-11-20T10:05:00Z"),
			ev("url", "b", "ts", "2026-11-20T10:01:00Z"),
			ev("url", "c", "ts", "2026-11-20T10:03:00Z"),
		}, []string{"b@10:01"}, 2},
		{"earliest after normalising", []string{
			ev("url", "a", "ts", "2026-11-20T10:00:00Z"),
			ev("url", "b", "ts", "2026-11-20T11:59:00+02:00"),
		}, []string{"b@09:59"}, 1},
		{"tie: smallest raw bytes", []string{
			ev("url", "b", "ts", "2026-11-20T10:00:00.123Z"),
			ev("url", "a", "ts", "2026-11-20T10:00:00.123999Z"),
			ev("url", "c", "ts", "2026-11-20T10:00:00.123Z"),
		}, []string{"a@10:00"}, 2},
		{"filtered copies are not duplicates", []string{
			ev("user_agent", "bot", "url", "a", "ts", "2026-11-20T09:00:00Z"),
			ev("url", "b", "ts", "2026-11-20T10:00:00Z"),
		}, []string{"b@10:00"}, 0},
		{"different ids", []string{ev("event_id", "x"), ev("event_id", "y")}, []string{"https://shop.example/p/1@10:00"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := compute(t, baseConfig(), tt.lines...)
			if diff := cmp.Diff(tt.want, keys(res.Rows, views.PageViews)); diff != "" {
				t.Errorf("page_views keys (-want +got):\n%s", diff)
			}
			if res.Counts.Duplicates != tt.dups {
				t.Errorf("duplicates = %d, want %d", res.Counts.Duplicates, tt.dups)
			}
		})
	}
}

func TestCategories(t *testing.T) {
	cfg := baseConfig()
	cfg.Categories = map[string]string{
		"https://shop.example/":      "shop",
		"https://shop.example/p/":    "product",
		"https://shop.example/p/1":   "featured",
		"https://shop.example/p/123": "special",
	}
	tests := []struct{ url, typ, want string }{
		{"https://shop.example/", "pageview", "shop"},
		{"https://shop.example/cart", "pageview", "shop"},
		{"https://shop.example/p/", "pageview", "product"},
		{"https://shop.example/p/2", "pageview", "product"},
		{"https://shop.example/p/1", "pageview", "featured"},
		{"https://shop.example/p/10", "click", "featured"}, // a plain string prefix
		{"https://shop.example/p/123?x=1", "pageview", "special"},
		{"https://shop.example", "pageview", "unknown"},
		{"http://shop.example/p/1", "pageview", "unknown"},
		{"https://other.example/", "pageview", "unknown"},
		{"", "post", "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			res := compute(t, cfg, ev("url", tt.url, "type", tt.typ))
			if diff := cmp.Diff([]string{tt.want + "@10:00"}, keys(res.Rows, views.CategoryActivity)); diff != "" {
				t.Errorf("category_activity keys (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("no categories", func(t *testing.T) {
		res := compute(t, baseConfig(), ev())
		if diff := cmp.Diff([]string{"unknown@10:00"}, keys(res.Rows, views.CategoryActivity)); diff != "" {
			t.Errorf("category_activity keys (-want +got):\n%s", diff)
		}
	})
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

func TestMinuteViews(t *testing.T) {
	cfg := baseConfig()
	cfg.Categories = map[string]string{"https://shop.example/": "shop"}
	res := compute(t, cfg,
		ev("event_id", "1", "user_id", "a", "ts", "2026-11-20T10:00:00.000Z", "country", "de"),
		ev("event_id", "2", "user_id", "a", "ts", "2026-11-20T10:00:30.000Z"),
		ev("event_id", "3", "user_id", "b", "ts", "2026-11-20T10:00:59.999999Z"),
		ev("event_id", "4", "user_id", "b", "ts", "2026-11-20T10:01:00.000Z"),
		ev("event_id", "5", "user_id", "c", "ts", "2026-11-20T10:00:10Z", "type", "click", "country", ""),
		ev("event_id", "6", "user_id", "c", "ts", "2026-11-20T10:00:20Z", "type", "post", "url", del, "country", del),
		ev("event_id", "7", "user_id", "d", "ts", "2026-11-20T12:00:10+02:00", "url", "https://shop.example/p/2", "country", "Fr"),
	)
	const m = time.Minute
	want := []views.Row{
		row(views.CategoryActivity, "shop", "2026-11-20T10:00:00Z", m, map[string]int64{"events": 5, "flagged": 0}),
		row(views.CategoryActivity, "shop", "2026-11-20T10:01:00Z", m, map[string]int64{"events": 1, "flagged": 0}),
		row(views.CategoryActivity, "unknown", "2026-11-20T10:00:00Z", m, map[string]int64{"events": 1, "flagged": 0}),
		row(views.CountryActivity, "DE", "2026-11-20T10:00:00Z", m, map[string]int64{"events": 3, "pageviews": 3, "clicks": 0, "posts": 0, "flagged": 0}),
		row(views.CountryActivity, "DE", "2026-11-20T10:01:00Z", m, map[string]int64{"events": 1, "pageviews": 1, "clicks": 0, "posts": 0, "flagged": 0}),
		row(views.CountryActivity, "FR", "2026-11-20T10:00:00Z", m, map[string]int64{"events": 1, "pageviews": 1, "clicks": 0, "posts": 0, "flagged": 0}),
		row(views.CountryActivity, "ZZ", "2026-11-20T10:00:00Z", m, map[string]int64{"events": 2, "pageviews": 0, "clicks": 1, "posts": 1, "flagged": 0}),
		row(views.PageViews, "https://shop.example/p/1", "2026-11-20T10:00:00Z", m, map[string]int64{"views": 3, "visitors": 2}),
		row(views.PageViews, "https://shop.example/p/1", "2026-11-20T10:01:00Z", m, map[string]int64{"views": 1, "visitors": 1}),
		row(views.PageViews, "https://shop.example/p/2", "2026-11-20T10:00:00Z", m, map[string]int64{"views": 1, "visitors": 1}),
	}
	var got []views.Row
	for _, r := range res.Rows {
		if r.View != views.Sessions {
			got = append(got, r)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}

// lookahead returns a config change that sets Config.Lookahead.
func lookahead(d time.Duration) func(reference.Config) reference.Config {
	return func(c reference.Config) reference.Config { c.Lookahead = d; return c }
}

func TestSessions(t *testing.T) {
	const h = time.Hour
	sessions := func(n, events, dur int64) map[string]int64 {
		return map[string]int64{"sessions": n, "events": events, "duration_s": dur}
	}
	tests := []struct {
		name  string
		cfg   func(reference.Config) reference.Config
		lines []string
		want  []views.Row
	}{
		{"gap of exactly 30 minutes continues", nil, []string{
			ev("event_id", "1", "ts", "2026-11-20T10:00:00.000Z"),
			ev("event_id", "2", "ts", "2026-11-20T10:30:00.000Z"),
			ev("event_id", "3", "ts", "2026-11-20T11:00:00.000Z"),
		}, []views.Row{row(views.Sessions, "DE", "2026-11-20T10:00:00Z", h, sessions(1, 3, 3600))}},
		{"gap of 30 minutes and 1 ms splits", nil, []string{
			ev("event_id", "1", "ts", "2026-11-20T10:00:00.000Z"),
			ev("event_id", "2", "ts", "2026-11-20T10:30:00.001Z"),
		}, []views.Row{row(views.Sessions, "DE", "2026-11-20T10:00:00Z", h, sessions(2, 2, 0))}},
		{"sub-millisecond gap over 30 minutes is truncated away", nil, []string{
			ev("event_id", "1", "ts", "2026-11-20T10:00:00.000Z"),
			ev("event_id", "2", "ts", "2026-11-20T10:30:00.000999Z"),
		}, []views.Row{row(views.Sessions, "DE", "2026-11-20T10:00:00Z", h, sessions(1, 2, 1800))}},
		{"events out of order", nil, []string{
			ev("event_id", "3", "ts", "2026-11-20T10:50:00Z"),
			ev("event_id", "1", "ts", "2026-11-20T10:10:00Z"),
			ev("event_id", "2", "ts", "2026-11-20T10:30:00Z"),
		}, []views.Row{row(views.Sessions, "DE", "2026-11-20T10:00:00Z", h, sessions(1, 3, 2400))}},
		{"hour and country of the first event", nil, []string{
			ev("event_id", "1", "ts", "2026-11-20T10:59:59.999Z", "country", "fr"),
			ev("event_id", "2", "ts", "2026-11-20T11:20:00Z", "country", "DE"),
		}, []views.Row{row(views.Sessions, "FR", "2026-11-20T10:00:00Z", h, sessions(1, 2, 1200))}},
		{"tie for first: smallest event_id", nil, []string{
			ev("event_id", "b", "ts", "2026-11-20T10:00:00Z", "country", "BR"),
			ev("event_id", "a", "ts", "2026-11-20T10:00:00Z", "country", "IN"),
		}, []views.Row{row(views.Sessions, "IN", "2026-11-20T10:00:00Z", h, sessions(1, 2, 0))}},
		{"duration truncated to seconds", nil, []string{
			ev("event_id", "1", "ts", "2026-11-20T10:00:00.000Z"),
			ev("event_id", "2", "ts", "2026-11-20T10:00:01.999Z"),
			ev("event_id", "3", "user_id", "u-2", "ts", "2026-11-20T10:10:00.500Z"),
			ev("event_id", "4", "user_id", "u-2", "ts", "2026-11-20T10:10:02.499Z"),
		}, []views.Row{row(views.Sessions, "DE", "2026-11-20T10:00:00Z", h, sessions(2, 4, 2))}},
		{"sessions per user", nil, []string{
			ev("event_id", "1", "user_id", "a", "ts", "2026-11-20T10:00:00Z"),
			ev("event_id", "2", "user_id", "b", "ts", "2026-11-20T10:20:00Z"),
			ev("event_id", "3", "user_id", "a", "ts", "2026-11-20T10:40:00Z"),
		}, []views.Row{row(views.Sessions, "DE", "2026-11-20T10:00:00Z", h, sessions(3, 3, 0))}},
		{"filtered and duplicate events are not in sessions", nil, []string{
			ev("event_id", "1", "ts", "2026-11-20T10:00:00Z"),
			ev("event_id", "2", "ts", "2026-11-20T10:20:00Z", "user_agent", "bot"),
			ev("event_id", "1", "ts", "2026-11-20T10:40:00Z"),
			ev("event_id", "3", "ts", "2026-11-20T10:45:00Z"),
		}, []views.Row{row(views.Sessions, "DE", "2026-11-20T10:00:00Z", h, sessions(2, 2, 0))}},
		{"a session from the day before is that day's", nil, []string{
			ev("event_id", "1", "ts", "2026-11-19T23:50:00Z"),
			ev("event_id", "2", "ts", "2026-11-20T00:10:00Z"),
		}, nil},
		{"a session across the end of the range counts whole", nil, []string{
			ev("event_id", "1", "ts", "2026-11-20T23:50:00Z"),
			ev("event_id", "2", "ts", "2026-11-21T00:10:00Z"),
			ev("event_id", "3", "ts", "2026-11-21T00:40:00Z"),
		}, []views.Row{row(views.Sessions, "DE", "2026-11-20T23:00:00Z", h, sessions(1, 3, 3000))}},
		{"a session after the range is the next day's", nil, []string{
			ev("event_id", "1", "ts", "2026-11-20T23:20:00Z"),
			ev("event_id", "2", "ts", "2026-11-21T00:00:00Z"),
			ev("event_id", "3", "ts", "2026-11-21T00:20:00Z"),
		}, []views.Row{row(views.Sessions, "DE", "2026-11-20T23:00:00Z", h, sessions(1, 1, 0))}},
		{"a session starting at the end of the range is the next day's", nil, []string{
			ev("event_id", "1", "ts", "2026-11-20T23:29:59.999Z"),
			ev("event_id", "2", "ts", "2026-11-21T00:00:00Z"),
		}, []views.Row{row(views.Sessions, "DE", "2026-11-20T23:00:00Z", h, sessions(1, 1, 0))}},
		{"a context duplicate is not in sessions", nil, []string{
			ev("event_id", "1", "ts", "2026-11-20T23:50:00Z"),
			ev("event_id", "1", "ts", "2026-11-21T00:10:00Z"),
		}, []views.Row{row(views.Sessions, "DE", "2026-11-20T23:00:00Z", h, sessions(1, 1, 0))}},
		{"no horizon: the session runs on", nil, []string{
			ev("event_id", "1", "ts", "2026-11-20T23:50:00Z"),
			ev("event_id", "2", "ts", "2026-11-21T00:15:00Z"),
			ev("event_id", "3", "ts", "2026-11-21T00:40:00Z"),
			ev("event_id", "4", "ts", "2026-11-21T01:05:00Z"),
		}, []views.Row{row(views.Sessions, "DE", "2026-11-20T23:00:00Z", h, sessions(1, 4, 4500))}},
		{"events at or after the horizon are left out", lookahead(40 * time.Minute), []string{
			ev("event_id", "1", "ts", "2026-11-20T23:50:00Z"),
			ev("event_id", "2", "ts", "2026-11-21T00:15:00Z"),
			ev("event_id", "3", "ts", "2026-11-21T00:39:59.999Z"),
			ev("event_id", "4", "ts", "2026-11-21T00:40:00Z"),
			ev("event_id", "5", "ts", "2026-11-21T01:05:00Z"),
		}, []views.Row{row(views.Sessions, "DE", "2026-11-20T23:00:00Z", h, sessions(1, 3, 2999))}},
		{"the horizon does not touch the run's own day", lookahead(time.Millisecond), []string{
			ev("event_id", "1", "ts", "2026-11-20T23:59:59.999Z"),
			ev("event_id", "2", "ts", "2026-11-21T00:00:00Z"),
			ev("event_id", "3", "ts", "2026-11-21T00:00:00.001Z"),
		}, []views.Row{row(views.Sessions, "DE", "2026-11-20T23:00:00Z", h, sessions(1, 2, 0))}},
		{"across midnight within the range", func(c reference.Config) reference.Config { c.To = c.To.AddDate(0, 0, 1); return c }, []string{
			ev("event_id", "1", "ts", "2026-11-20T23:59:59.999Z"),
			ev("event_id", "2", "ts", "2026-11-21T00:00:00.000Z"),
			ev("event_id", "3", "ts", "2026-11-21T00:29:59.999Z"),
		}, []views.Row{row(views.Sessions, "DE", "2026-11-20T23:00:00Z", h, sessions(1, 3, 1800))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := baseConfig()
			if tt.cfg != nil {
				cfg = tt.cfg(cfg)
			}
			res := compute(t, cfg, tt.lines...)
			if diff := cmp.Diff(tt.want, rowsOf(res.Rows, views.Sessions)); diff != "" {
				t.Errorf("sessions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMidnightBoundary(t *testing.T) {
	cfg := baseConfig()
	cfg.To = cfg.To.AddDate(0, 0, 1)
	res := compute(t, cfg,
		ev("event_id", "1", "ts", "2026-11-20T23:59:59.999Z"),
		ev("event_id", "2", "ts", "2026-11-21T00:00:00.000Z"),
		ev("event_id", "3", "ts", "2026-11-22T00:00:00.000Z"),
	)
	want := []views.Row{
		row(views.PageViews, "https://shop.example/p/1", "2026-11-20T23:59:00Z", time.Minute, map[string]int64{"views": 1, "visitors": 1}),
		row(views.PageViews, "https://shop.example/p/1", "2026-11-21T00:00:00Z", time.Minute, map[string]int64{"views": 1, "visitors": 1}),
	}
	if diff := cmp.Diff(want, rowsOf(res.Rows, views.PageViews)); diff != "" {
		t.Errorf("page_views (-want +got):\n%s", diff)
	}
	if got := res.Counts.Context; got != 1 {
		t.Errorf("context = %d, want 1 (the event of the day after the range)", got)
	}
}

func TestCounts(t *testing.T) {
	cfg := baseConfig()
	cfg.BlockedUsers = []string{"u-bad"}
	recs := bare(
		ev("event_id", "1"), ev("event_id", "1"), ev("event_id", "2"),
		ev("event_id", "3", "user_agent", "spider"), ev("event_id", "4", "user_id", "u-bad"),
		ev("event_id", "5", "ts", "2026-11-21T00:00:00Z"),
		"", "{}", ev("type", "x"), ev("ts", "x"), ev("url", ""),
	)
	recs = append(recs, filed("2026-11-20", ev("event_id", "6", "ts", "2026-11-22T12:00:00Z"))...)
	recs = append(recs, filed("2026-11-21", "{}", ev("event_id", "7", "ts", "2026-11-20T23:00:00Z"))...)
	res := computeRecs(t, cfg, recs)
	want := reference.Counts{
		Read: 12, Processed: 3, Duplicates: 1, Context: 2,
		Filtered:     map[string]int64{"bot": 1, "blocked_user": 1, "out_of_range": 1},
		DeadLettered: map[string]int64{"invalid_json": 1, "missing_field": 2, "unknown_type": 1, "bad_timestamp": 1},
	}
	if diff := cmp.Diff(want, res.Counts); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	empty := compute(t, cfg)
	if diff := cmp.Diff(reference.Counts{Filtered: map[string]int64{}, DeadLettered: map[string]int64{}}, empty.Counts); diff != "" || len(empty.Rows) != 0 {
		t.Errorf("no records: counts (-want +got):\n%s\nrows: %v", diff, empty.Rows)
	}
}
