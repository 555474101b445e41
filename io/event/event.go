// Package event is beamline's data model: the raw record a source reads, the parsed and validated
// Event, and the DeadLetter that carries a record that could not be parsed.
//
// It is plain Go (no Beam), so sources, sinks and the transforms share it. The JSON schema is the
// one of DESIGN.md "Events".
package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Event types.
const (
	TypePageview = "pageview"
	TypeClick    = "click"
	TypePost     = "post"
)

// UnknownCountry is the country of an event that has none.
const UnknownCountry = "ZZ"

// Raw is one record as a source read it: the bytes of one JSON line or message, and where it
// came from ("path:line" for lake files, "subscription/message-id" for queues).
type Raw struct {
	Bytes  []byte
	Source string
	// Size is the record's full size in bytes when Bytes holds only its beginning (a reader cut
	// a record over the size limit); 0 when Bytes is the whole record.
	Size int64
}

// DefaultMaxRecordBytes is the default size limit of a record: larger ones are dead-lettered
// as too_large without being parsed.
const DefaultMaxRecordBytes = 1 << 20

// size returns the record's full size.
func (r Raw) size() int64 { return max(r.Size, int64(len(r.Bytes))) }

// Event is a parsed, validated and normalised event.
type Event struct {
	ID        string
	Type      string
	UserID    string
	URL       string
	Country   string // upper case; UnknownCountry when the input has none
	UserAgent string
	Text      string
	// Time is the event time: the ts field in UTC, truncated to the millisecond (Beam's precision).
	Time time.Time
	// Category is filled by enrichment; empty before it.
	Category string
	// Flagged is set by ML scoring (Score >= threshold); false where no model runs.
	Flagged bool
	// Score is the model's score in [0, 1], set by ML scoring; 0 where no model runs.
	Score float32
	// Raw is the record the event was parsed from; dedupe breaks ties on it.
	Raw []byte
}

// Reason classifies why a record was dead-lettered.
type Reason string

// Dead-letter reasons.
const (
	InvalidJSON  Reason = "invalid_json"
	MissingField Reason = "missing_field"
	UnknownType  Reason = "unknown_type"
	BadTimestamp Reason = "bad_timestamp"
	// TooLarge marks a record over the size limit; it is not parsed, and its dead letter keeps
	// only the record's beginning.
	TooLarge Reason = "too_large"
	// InvalidUTF8 marks a record whose bytes are not valid UTF-8: they are never replaced, so
	// two different keys cannot merge into one.
	InvalidUTF8 Reason = "invalid_utf8"
	// CorruptFile marks a lake file that could not be read whole (a truncated or broken gzip
	// file) and was skipped: its dead letter names the file, not a record.
	CorruptFile Reason = "corrupt_file"
	// ScoreFailed marks a valid event that the model could not score (the remote model failed
	// after its last retry). Unlike the others it is dead-lettered after dedupe, so the stage
	// that dead-letters it also takes it out of the "processed" count: it is counted once.
	ScoreFailed Reason = "score_failed"
)

// Reasons lists every dead-letter reason.
var Reasons = []Reason{TooLarge, InvalidUTF8, InvalidJSON, MissingField, UnknownType, BadTimestamp, ScoreFailed, CorruptFile}

// ParseError is the error Parse returns for a record that is not a valid event.
type ParseError struct {
	Reason Reason
	Detail string
}

func (e *ParseError) Error() string { return string(e.Reason) + ": " + e.Detail }

// DeadLetter is a record that could not become an event: its raw bytes, the reason, a
// human-readable detail and where it came from.
type DeadLetter struct {
	Raw    []byte `json:"raw"`
	Reason string `json:"reason"`
	Detail string `json:"detail"`
	Source string `json:"source"`
}

// ParseRecord parses raw as Parse does, unless it is over maxBytes (its full size; 0 means
// DefaultMaxRecordBytes): then it fails as too_large without being parsed.
func ParseRecord(raw Raw, maxBytes int) (Event, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxRecordBytes
	}
	if n := raw.size(); n > int64(maxBytes) {
		return Event{}, &ParseError{TooLarge, fmt.Sprintf("record of %d bytes is over the limit of %d (--max_record_bytes)", n, maxBytes)}
	}
	return Parse(raw.Bytes)
}

// NewDeadLetter returns the dead letter for raw that failed to parse with err. The dead letter
// of a too_large record keeps only its first DefaultMaxRecordBytes bytes.
func NewDeadLetter(raw Raw, err error) DeadLetter {
	dl := DeadLetter{Raw: raw.Bytes, Reason: string(InvalidJSON), Detail: err.Error(), Source: raw.Source}
	var pe *ParseError
	if errors.As(err, &pe) {
		dl.Reason, dl.Detail = string(pe.Reason), pe.Detail
	}
	if dl.Reason == string(TooLarge) && len(dl.Raw) > DefaultMaxRecordBytes {
		dl.Raw = dl.Raw[:DefaultMaxRecordBytes]
	}
	return dl
}

// wire is the JSON shape of an event. Every field is a string; a value of another JSON type
// fails to decode (invalid_json), null decodes as empty.
type wire struct {
	EventID   string `json:"event_id"`
	Type      string `json:"type"`
	UserID    string `json:"user_id"`
	URL       string `json:"url"`
	Country   string `json:"country"`
	UserAgent string `json:"user_agent"`
	Text      string `json:"text"`
	TS        string `json:"ts"`
}

// Parse parses and validates one record. The error, when not nil, is a *ParseError.
func Parse(b []byte) (Event, error) {
	if !utf8.Valid(b) {
		return Event{}, &ParseError{InvalidUTF8, "the record's bytes are not valid UTF-8"}
	}
	trimmed := bytes.TrimSpace(b)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return Event{}, &ParseError{InvalidJSON, "not a JSON object"}
	}
	var w wire
	if err := json.Unmarshal(trimmed, &w); err != nil {
		return Event{}, &ParseError{InvalidJSON, err.Error()}
	}
	for _, f := range [...]struct{ name, value string }{
		{"event_id", w.EventID}, {"type", w.Type}, {"user_id", w.UserID}, {"ts", w.TS},
	} {
		if f.value == "" {
			return Event{}, &ParseError{MissingField, f.name}
		}
	}
	if w.Type != TypePageview && w.Type != TypeClick && w.Type != TypePost {
		return Event{}, &ParseError{UnknownType, fmt.Sprintf("type %q", w.Type)}
	}
	ts, err := time.Parse(time.RFC3339Nano, w.TS)
	if err != nil {
		return Event{}, &ParseError{BadTimestamp, err.Error()}
	}
	if w.URL == "" && w.Type != TypePost {
		return Event{}, &ParseError{MissingField, "url (required for " + w.Type + ")"}
	}
	country := strings.ToUpper(w.Country)
	if country == "" {
		country = UnknownCountry
	}
	return Event{
		ID: w.EventID, Type: w.Type, UserID: w.UserID, URL: w.URL, Country: country,
		UserAgent: w.UserAgent, Text: w.Text, Time: ts.UTC().Truncate(time.Millisecond), Raw: b,
	}, nil
}
