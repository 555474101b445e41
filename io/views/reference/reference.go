// Package reference computes beamline's batch views in plain Go, without Beam.
//
// It is the independent reference that the Beam pipelines are checked against: written from the
// specification alone, for clarity first, in a single pass over the records with maps and a sort
// of each event_id's copies (no quadratic work), so that it also serves as the baseline of the
// 1M-event benchmark.
//
// # Usage
//
//	// The run's days and their context: see "Context needed" below.
//	recs, err := reference.ReadLake("testdata/lake", from.AddDate(0, 0, -2), to.AddDate(0, 0, 2))
//	cats, err := reference.ReadCategories("testdata/reference/categories.csv")
//	res := reference.Compute(reference.Config{
//		From: from, To: to, Lookahead: 12 * time.Hour, Categories: cats,
//		BotPatterns: reference.DefaultBotPatterns,
//	}, recs)
//	err = reference.WriteCSV(os.Stdout, res.Rows)
//
// # Semantics
//
// A run is for the days [From, To] (midnight UTC, To inclusive). Besides the records of its own
// days it may be given context records from neighbouring lake partitions, and for its own days
// it gives exactly what one run over all the data gives (see "Context needed" below).
//
// Every record is first parsed and normalised:
//
//  1. Parse. A record longer than Config.MaxRecordBytes is dead-lettered as "too_large", and one
//     whose bytes are not valid UTF-8 as "invalid_utf8" (never repaired: two keys that differ
//     in invalid bytes must not merge). A record that is not a JSON object, or that has a known field (event_id, type,
//     user_id, url, country, user_agent, text, ts) whose value is not a string or null, is
//     dead-lettered as "invalid_json". Field names match exactly (case-sensitively, unlike
//     encoding/json's struct decoding); of a name given twice the last string wins; unknown
//     fields are ignored whatever their type; null is the empty string; strings are decoded as
//     encoding/json does (an escaped lone surrogate becomes U+FFFD). Then, in this order:
//     "missing_field" (event_id, type, user_id or ts empty), "unknown_type" (type not pageview,
//     click or post), "bad_timestamp" (ts not in time.RFC3339Nano), "missing_field" (url empty for
//     a pageview or click).
//  2. Normalise. Event time is ts in UTC truncated to the millisecond; country is upper-cased,
//     and "ZZ" when empty.
//
// Ownership decides which run counts a record. The partition day P of a record is the date of
// the "dt=YYYY-MM-DD" segment of its Source path. A dead-lettered record is owned by P. A valid
// event whose event-time day T (UTC) is P-1, P or P+1 is owned by T: an event misfiled by one
// day is counted by the run of its own day. An event further from its partition is owned by P,
// filtered there as "out_of_range", and takes no further part anywhere (no dedupe, no views, no
// sessions). A record whose Source has no partition (only unit tests give such records) is owned
// by its event-time day, or by the run when it is dead-lettered. A zero From or To leaves the
// run's days unbounded on that side.
//
// A run counts (Read, Processed, Duplicates, Filtered, DeadLettered) exactly the records owned by
// one of its days; every other record given is counted only in Counts.Context. The events that
// are not out_of_range then go through these steps, owned or not:
//
//  3. Filter, in this order: "country" (not a monitored country), "bot" (user agent contains a
//     bot pattern, any case), "blocked_user". The first that matches counts, for an owned event.
//  4. Dedupe by event_id with a time to live (Config.DedupeTTL, default 24 hours). The events
//     that passed the filters are the candidates. Those of one event_id are sorted by event time,
//     ties by raw bytes; a candidate is kept when it is the first, or when the candidate before
//     it has an event time more than TTL before its own. Every other candidate is a duplicate:
//     equivalently, a candidate is a duplicate exactly when another candidate comes before it in
//     that order at most TTL earlier. So of identical copies one is kept, copies within the TTL
//     of each other keep the earliest, and copies exactly TTL apart are still duplicates.
//     Processed counts the kept owned events, Duplicates the other owned candidates.
//  5. Enrich: the category of the longest URL prefix in Config.Categories, else "unknown".
//  6. Score: a post is flagged when Config.Flagged says so (see ReadModel for the embedded
//     model); other events never are.
//
// The minute views (page_views, country_activity, category_activity) count the kept events
// owned by the run. Sessions are made from all kept events given, owned or context, per user_id:
// a session belongs, whole, to the run of its first event's day, and has a row only when its
// first event time is in [From, To + 1 day), so a session across midnight is never cut. When
// Config.Lookahead > 0, kept events at or after To + 1 day + Lookahead (the run's horizon) are
// left out of sessions; Lookahead 0 means no horizon.
//
// All views have layer "batch" (see Compute for their rows).
//
// # Context needed
//
// Ownership, filters and dedupe only look back: with a TTL of at most a day, the partitions
// From-2 .. To+1 hold every record that decides what the run counts and its minute views. A
// session that starts at or after From is found whole in the partitions from From-2 to one day
// after its last event; with a horizon, the partitions through the horizon's day + 1 hold all
// that the run looks at, and sessions still going at the horizon are cut there.
package reference

import (
	"slices"
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
	// From and To are the first and last day (midnight UTC) of the run; To is inclusive. A zero
	// From or To leaves the run's days unbounded on that side.
	From, To time.Time
	// DedupeTTL is how far apart two candidates with the same event_id must be for both to be
	// kept (more than DedupeTTL); zero or negative means DefaultDedupeTTL.
	DedupeTTL time.Duration
	// Lookahead puts the run's horizon at To + 1 day + Lookahead: sessions leave out kept events
	// at or after it. Zero or negative means no horizon.
	Lookahead time.Duration
	// MaxRecordBytes is the size limit of a record; zero or negative means 1 MiB, the jobs'
	// default.
	MaxRecordBytes int
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

// DefaultDedupeTTL is the dedupe time to live when Config.DedupeTTL is zero (or negative).
const DefaultDedupeTTL = 24 * time.Hour

// Counts account for every record given: Read = Processed + sum(Filtered) + Duplicates +
// sum(DeadLettered), and Read + Context is the number of records.
type Counts struct {
	// Read is the number of records owned by the run's days (see the package doc); the fields
	// below up to DeadLettered count these records only.
	Read int64
	// Processed is the number of owned events that dedupe keeps (the events the minute views
	// count).
	Processed int64
	// Duplicates is the number of owned events that dedupe drops.
	Duplicates int64
	// Filtered counts events per filter: "out_of_range" (more than one day away from their
	// partition), "country", "bot", "blocked_user".
	// Filters that matched no event have no entry; the map is never nil.
	Filtered map[string]int64
	// DeadLettered counts records per reason: "invalid_json", "missing_field", "unknown_type",
	// "bad_timestamp". Reasons that occurred for no record have no entry; the map is never nil.
	DeadLettered map[string]int64
	// Context is the number of records given that the run does not own: records read as context
	// (for dedupe and sessions), not part of Read.
	Context int64
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
	reasonTooLarge     = "too_large"
	reasonInvalidUTF8  = "invalid_utf8"
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

// Compute runs the records through parse, ownership, filters, dedupe and enrichment, and
// aggregates the kept events into the views:
//
//   - page_views: pageviews per url and minute; views, visitors (distinct user_id).
//   - country_activity: events per country and minute; events, pageviews, clicks, posts,
//     flagged (posts that Config.Flagged flags).
//   - category_activity: events per category and minute; events, flagged.
//   - sessions: per user_id, events in event-time order (ties by event_id) are one session while
//     gaps are at most 30 minutes. A session counts in the hour and the country of its first
//     event; sessions, events, duration_s (sum of last minus first event time, whole seconds).
//
// The minute views count the kept events that the run owns; sessions are made from every kept
// event before the horizon and have a row when they start in the run's days (see the package
// doc). Only windows with at least one event have a row.
func Compute(cfg Config, recs []Record) Result {
	s := newSpan(cfg)
	f := newFilters(cfg)
	counts := Counts{Filtered: map[string]int64{}, DeadLettered: map[string]int64{}}
	candidates := make(map[string][]*event, len(recs))
	parts := partitions{}
	for _, rec := range recs {
		part, hasPart := parts.of(rec.Source)
		ev, reason := checkAndParse(rec.Raw, cfg.MaxRecordBytes)
		switch {
		case reason != "":
			if hasPart && !s.owns(part) {
				counts.Context++
			} else {
				counts.DeadLettered[reason]++
			}
		case hasPart && !withinADay(dayOf(ev.time), part):
			if s.owns(part) {
				counts.Filtered[filterOutOfRange]++
			} else {
				counts.Context++
			}
		default:
			ev.owned = s.owns(dayOf(ev.time))
			if name := f.match(ev); name != "" {
				if ev.owned {
					counts.Filtered[name]++
				} else {
					counts.Context++
				}
				continue
			}
			candidates[ev.id] = append(candidates[ev.id], ev)
		}
	}
	kept := dedupe(candidates, ttl(cfg))
	for _, evs := range candidates {
		for _, ev := range evs {
			switch {
			case !ev.owned:
				counts.Context++
			case ev.kept:
				counts.Processed++
			default:
				counts.Duplicates++
			}
		}
	}
	counts.Read = int64(len(recs)) - counts.Context
	return Result{Rows: aggregate(kept, s, newCategorizer(cfg.Categories), flagger(cfg.Flagged)), Counts: counts}
}

// ttl returns the run's dedupe time to live.
func ttl(cfg Config) time.Duration {
	if cfg.DedupeTTL <= 0 {
		return DefaultDedupeTTL
	}
	return cfg.DedupeTTL
}

// dedupe marks the kept candidates of each event_id and returns them: sorted by event time, ties
// by raw bytes, a candidate is kept when it is the first or the one before it is more than ttl
// earlier.
func dedupe(candidates map[string][]*event, ttl time.Duration) []*event {
	kept := make([]*event, 0, len(candidates))
	for _, evs := range candidates {
		slices.SortFunc(evs, (*event).compare)
		for i, ev := range evs {
			ev.kept = i == 0 || evs[i-1].time.Before(ev.time.Add(-ttl))
			if ev.kept {
				kept = append(kept, ev)
			}
		}
	}
	return kept
}
