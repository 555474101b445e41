package reference

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"
)

// event is a parsed, normalised event.
type event struct {
	id, typ, user, url, country, userAgent, text string
	// time is the event time in UTC, truncated to the millisecond.
	time time.Time
	// raw is the record's bytes, for the dedupe tie-break.
	raw []byte
	// owned says whether the run owns the event (its event-time day is one of the run's days).
	owned bool
	// kept says whether dedupe keeps the event; set by dedupe.
	kept bool
}

// compare orders the copies of an event_id for dedupe: by event time, ties by raw bytes.
func (e *event) compare(o *event) int {
	if c := e.time.Compare(o.time); c != 0 {
		return c
	}
	return bytes.Compare(e.raw, o.raw)
}

// checkAndParse dead-letters a record over maxBytes (1 MiB when not positive) or with bytes
// that are not valid UTF-8, and parses the others.
func checkAndParse(raw []byte, maxBytes int) (*event, string) {
	if maxBytes <= 0 {
		maxBytes = 1 << 20
	}
	switch {
	case len(raw) > maxBytes:
		return nil, reasonTooLarge
	case !utf8.Valid(raw):
		return nil, reasonInvalidUTF8
	}
	return parse(raw)
}

// parse parses and normalises one record, or returns the reason it is dead-lettered.
func parse(raw []byte) (*event, string) {
	var f fields
	if !f.decode(raw) {
		return nil, reasonInvalidJSON
	}
	if f.eventID == "" || f.typ == "" || f.userID == "" || f.ts == "" {
		return nil, reasonMissingField
	}
	if f.typ != typePageview && f.typ != typeClick && f.typ != typePost {
		return nil, reasonUnknownType
	}
	ts, err := time.Parse(time.RFC3339Nano, f.ts)
	if err != nil {
		return nil, reasonBadTimestamp
	}
	if f.url == "" && f.typ != typePost {
		return nil, reasonMissingField
	}
	country := strings.ToUpper(f.country)
	if country == "" {
		country = "ZZ"
	}
	return &event{
		id: f.eventID, typ: f.typ, user: f.userID, url: f.url, country: country,
		userAgent: f.userAgent, text: f.text, time: ts.UTC().Truncate(time.Millisecond), raw: raw,
	}, ""
}

// fields are the known fields of an event as they appear in its JSON object; null and absent
// are "".
type fields struct {
	eventID, typ, userID, url, country, userAgent, text, ts string
}

// field returns where the known field called name goes, or nil for an unknown field.
func (f *fields) field(name []byte) *string {
	switch string(name) {
	case "event_id":
		return &f.eventID
	case "type":
		return &f.typ
	case "user_id":
		return &f.userID
	case "url":
		return &f.url
	case "country":
		return &f.country
	case "user_agent":
		return &f.userAgent
	case "text":
		return &f.text
	case "ts":
		return &f.ts
	}
	return nil
}

// decode fills f from raw and reports whether raw is a JSON object whose known fields are all
// strings or null. Names match exactly; of a name given twice, the last string wins (but a
// value of the wrong type anywhere fails).
func (f *fields) decode(raw []byte) bool {
	if !json.Valid(raw) {
		return false
	}
	// raw is valid JSON from here on, so the walk below can skip most checks.
	i := skipSpace(raw, 0)
	if raw[i] != '{' {
		return false
	}
	i = skipSpace(raw, i+1)
	for raw[i] != '}' {
		end := skipValue(raw, i)
		name := raw[i+1 : end-1]
		if bytes.IndexByte(name, '\\') >= 0 {
			name = []byte(unquote(raw[i:end]))
		}
		i = skipSpace(raw, skipSpace(raw, end)+1) // past ':'
		end = skipValue(raw, i)
		if dst := f.field(name); dst != nil {
			switch raw[i] {
			case '"':
				*dst = unquote(raw[i:end])
			case 'n':
				*dst = ""
			default:
				return false
			}
		}
		i = skipSpace(raw, end)
		if raw[i] == ',' {
			i = skipSpace(raw, i+1)
		}
	}
	return true
}

// skipSpace returns the index of the first byte at or after i that is not JSON white space.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the index just past the valid JSON value that starts at b[i].
func skipValue(b []byte, i int) int {
	depth := 0
	for ; i < len(b); i++ {
		switch b[i] {
		case '"':
			for i++; b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
		case '{', '[':
			depth++
			continue
		case '}', ']':
			if depth == 0 {
				return i // the end of the enclosing container, after a number or literal
			}
			depth--
		case ',', ':', ' ', '\t', '\n', '\r':
			if depth == 0 {
				return i
			}
			continue
		default:
			continue // inside a number or literal
		}
		if depth == 0 {
			return i + 1
		}
	}
	return i
}

// unquote returns the JSON string s, with its quotes. Escapes and invalid UTF-8 are decoded as
// encoding/json does (invalid bytes become U+FFFD).
func unquote(s []byte) string {
	body := s[1 : len(s)-1]
	if bytes.IndexByte(body, '\\') < 0 && utf8.Valid(body) {
		return string(body)
	}
	var out string
	if err := json.Unmarshal(s, &out); err != nil {
		panic("reference: unquote of a valid JSON string failed: " + err.Error())
	}
	return out
}
