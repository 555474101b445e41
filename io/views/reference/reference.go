// Package reference computes beamline's batch views in plain Go, without Beam.
//
// It is the independent reference that the Beam pipelines are checked against: written from the
// specification alone, for clarity first, in a single pass over the records with maps (no
// quadratic work), so that it also serves as the baseline of the 1M-event benchmark.
//
// # Usage
//
//	recs, err := reference.ReadLake("testdata/lake", from, to)
//	cats, err := reference.ReadCategories("testdata/reference/categories.csv")
//	res := reference.Compute(reference.Config{
//		From: from, To: to, Categories: cats, BotPatterns: reference.DefaultBotPatterns,
//	}, recs)
//	err = reference.WriteCSV(os.Stdout, res.Rows)
//
// # Semantics
//
// A record goes through these steps; the first that rejects it decides how it is counted.
//
//  1. Parse. A record that is not a JSON object, or that has a known field (event_id, type,
//     user_id, url, country, user_agent, text, ts) whose value is not a string or null, is
//     dead-lettered as "invalid_json". Field names match exactly (case-sensitively, unlike
//     encoding/json's struct decoding); of a name given twice the last string wins; unknown
//     fields are ignored whatever their type; null is the empty string; strings are decoded as
//     encoding/json does (invalid UTF-8 becomes U+FFFD, it is not an error). Then, in this order:
//     "missing_field" (event_id, type, user_id or ts empty), "unknown_type" (type not pageview,
//     click or post), "bad_timestamp" (ts not in time.RFC3339Nano), "missing_field" (url empty for
//     a pageview or click).
//  2. Normalise. Event time is ts in UTC truncated to the millisecond; country is upper-cased,
//     and "ZZ" when empty.
//  3. Filter, in this order: "out_of_range" (event time outside [From, To+1 day)), "country"
//     (not a monitored country), "bot" (user agent contains a bot pattern, any case),
//     "blocked_user".
//  4. Dedupe by event_id: the earliest event time wins, ties go to the smallest raw bytes.
//  5. Enrich: the category of the longest URL prefix in Config.Categories, else "unknown".
//  6. Score: a post is flagged when Config.Flagged says so (see ReadModel for the embedded
//     model); other events never are.
//
// The kept events make the four views of package views (see Compute), all with layer "batch".
package reference

import (
	"time"

	"github.com/beamline/beamline/io/views"
)

// Record is one line of the lake: its bytes (without the line end) and where it came from.
type Record struct {
	// Raw is the line's bytes, without '\n' and without one trailing '\r'.
	Raw []byte
	// Source is "<path relative to the lake root>:<1-based line number>".
	Source string
}

// Config says which events count and how they are enriched.
type Config struct {
	// From and To are the first and last day (midnight UTC) of the run; To is inclusive.
	From, To time.Time
	// Categories maps URL prefixes to categories; the longest matching prefix wins.
	Categories map[string]string
	// Countries lists the monitored countries (upper-case); empty means all countries.
	Countries []string
	// BotPatterns are matched case-insensitively as substrings of the user agent. Nil means no
	// bot filter: pass DefaultBotPatterns for the default. Empty patterns are ignored.
	BotPatterns []string
	// BlockedUsers lists user IDs whose events are filtered.
	BlockedUsers []string
	// Flagged says whether the model flags a post, from its text, user agent and URL; only
	// posts are scored. Nil flags nothing. ReadModel gives one from the embedded model's file.
	Flagged func(text, userAgent, url string) bool
}

// DefaultBotPatterns are the bot patterns that the jobs use by default.
var DefaultBotPatterns = []string{"bot", "crawler", "spider"}

// Counts account for every record read: Read = Processed + sum(Filtered) + Duplicates +
// sum(DeadLettered).
type Counts struct {
	// Read is the number of records.
	Read int64
	// Processed is the number of events kept after dedupe (the events the views count).
	Processed int64
	// Duplicates is the number of events dropped by dedupe.
	Duplicates int64
	// Filtered counts events per filter: "out_of_range", "country", "bot", "blocked_user".
	// Filters that matched no event have no entry; the map is never nil.
	Filtered map[string]int64
	// DeadLettered counts records per reason: "invalid_json", "missing_field", "unknown_type",
	// "bad_timestamp". Reasons that occurred for no record have no entry; the map is never nil.
	DeadLettered map[string]int64
}

// Result is what Compute produces.
type Result struct {
	// Rows are the view rows, sorted by view, key and window start.
	Rows []views.Row
	// Counts account for every record.
	Counts Counts
}

// Dead-letter reasons.
const (
	reasonInvalidJSON  = "invalid_json"
	reasonMissingField = "missing_field"
	reasonUnknownType  = "unknown_type"
	reasonBadTimestamp = "bad_timestamp"
)

// Filter names.
const (
	filterOutOfRange  = "out_of_range"
	filterCountry     = "country"
	filterBot         = "bot"
	filterBlockedUser = "blocked_user"
)

// Event types.
const (
	typePageview = "pageview"
	typeClick    = "click"
	typePost     = "post"
)

// Compute runs the records through parse, filters, dedupe and enrichment, and aggregates the
// kept events into the views:
//
//   - page_views: pageviews per url and minute; views, visitors (distinct user_id).
//   - country_activity: events per country and minute; events, pageviews, clicks, posts,
//     flagged (posts that Config.Flagged flags).
//   - category_activity: events per category and minute; events, flagged.
//   - sessions: per user_id, events in event-time order (ties by event_id) are one session while
//     gaps are at most 30 minutes. A session counts in the hour and the country of its first
//     event; sessions, events, duration_s (sum of last minus first event time, whole seconds).
//
// Only windows with at least one event have a row.
func Compute(cfg Config, recs []Record) Result {
	f := newFilters(cfg)
	counts := Counts{Read: int64(len(recs)), Filtered: map[string]int64{}, DeadLettered: map[string]int64{}}
	kept := make(map[string]*event, len(recs))
	for _, rec := range recs {
		ev, reason := parse(rec.Raw)
		if reason != "" {
			counts.DeadLettered[reason]++
			continue
		}
		if name := f.match(ev); name != "" {
			counts.Filtered[name]++
			continue
		}
		if old, ok := kept[ev.id]; ok {
			counts.Duplicates++
			if !ev.before(old) {
				continue
			}
		}
		kept[ev.id] = ev
	}
	counts.Processed = int64(len(kept))
	return Result{Rows: aggregate(kept, newCategorizer(cfg.Categories), flagger(cfg.Flagged)), Counts: counts}
}
