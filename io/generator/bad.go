package generator

import (
	"time"
	"unicode/utf8"
)

// Dead-letter reasons, as the pipelines name them.
const (
	reasonInvalidJSON  = "invalid_json"
	reasonMissingField = "missing_field"
	reasonUnknownType  = "unknown_type"
	reasonBadTimestamp = "bad_timestamp"
	reasonInvalidUTF8  = "invalid_utf8"
)

var (
	notJSON = []string{"", "not json", "[1,2,3]", "null", `"just a string"`, "{event_id: e-1}",
		"\xff\xfe garbage \x00", "{}}", "42"}
	unknownTypes  = []string{"purchase", "PageView", "view", "pageview ", "POST"}
	badTimestamps = []string{"2026-11-20 10:00:00", "yesterday", "1763632800", "2026-11-20T10:00:00",
		"2026-13-01T00:00:00Z", "20/11/2026 10:00", "2026-11-20T10:00:00.123+0200"}
	required = []string{"event_id", "type", "user_id", "ts"}
)

// badKinds make dead letters of every kind.
var badKinds = []func(g *Generator, ev *fields) (line []byte, reason string){
	// Not JSON, or not an object.
	func(g *Generator, ev *fields) ([]byte, string) {
		if g.rng.IntN(2) == 0 {
			return append(ev.appendJSON(nil), " trailing"...), reasonInvalidJSON
		}
		return []byte(notJSON[g.rng.IntN(len(notJSON))]), reasonInvalidJSON
	},
	// Truncated.
	func(g *Generator, ev *fields) ([]byte, string) {
		line := ev.appendJSON(nil)
		return line[:1+g.rng.IntN(len(line)-1)], reasonInvalidJSON
	},
	// A known field of the wrong type.
	func(g *Generator, ev *fields) ([]byte, string) {
		switch g.rng.IntN(4) {
		case 0:
			ev.set("user_id", lit("42"))
		case 1:
			ev.set("ts", lit("1763632800123"))
		case 2:
			ev.set("country", lit("true"))
		default:
			ev.set("event_id", lit(`{"id":1}`))
		}
		return ev.appendJSON(nil), reasonInvalidJSON
	},
	// A required field missing or empty.
	func(g *Generator, ev *fields) ([]byte, string) {
		name := required[g.rng.IntN(len(required))]
		if g.rng.IntN(2) == 0 {
			ev.del(name)
		} else {
			ev.set(name, str(""))
		}
		return ev.appendJSON(nil), reasonMissingField
	},
	// An unknown type.
	func(g *Generator, ev *fields) ([]byte, string) {
		ev.set("type", str(unknownTypes[g.rng.IntN(len(unknownTypes))]))
		return ev.appendJSON(nil), reasonUnknownType
	},
	// A timestamp that is not RFC 3339.
	func(g *Generator, ev *fields) ([]byte, string) {
		ev.set("ts", str(badTimestamps[g.rng.IntN(len(badTimestamps))]))
		return ev.appendJSON(nil), reasonBadTimestamp
	},
	// A pageview or click without url.
	func(g *Generator, ev *fields) ([]byte, string) {
		ev.set("type", str([]string{"pageview", "click"}[g.rng.IntN(2)]))
		if g.rng.IntN(2) == 0 {
			ev.del("url")
		} else {
			ev.set("url", str(""))
		}
		return ev.appendJSON(nil), reasonMissingField
	},
}

// bad generates a dead letter at t (the clock plus jitter) that arrives at now.
func (g *Generator) bad(t, now time.Time) Record {
	ev := g.newEvent(false)
	ts, _ := g.timestamp(t)
	ev.set("ts", str(ts))
	line, reason := badKinds[g.rng.IntN(len(badKinds))](g, ev)
	if !utf8.Valid(line) { // checked before anything else (not JSON, or cut inside a character)
		reason = reasonInvalidUTF8
	}
	return Record{Raw: line, EventTime: t.UTC(), Arrival: now, Kind: Bad, Reason: reason}
}
