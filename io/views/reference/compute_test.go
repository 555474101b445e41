package reference_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/io/views"
	"github.com/beamline/beamline/io/views/reference"
)

var day = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)

// del marks a field that ev leaves out.
const del = "\x00del"

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
