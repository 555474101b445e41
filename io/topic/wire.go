package topic

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/beamline/beamline/io/event"
)

// Attributes of every message (see the package doc).
const (
	// AttrEventID carries the event ID.
	AttrEventID = "event_id"
	// AttrTime carries the event time, RFC 3339 in UTC to the millisecond: read a subscription
	// with timestamp_attribute=ts to take event time from it.
	AttrTime = "ts"
)

// wire is the JSON form of an event on a topic: the input event's fields, then what the
// stages derived.
type wire struct {
	EventID   string  `json:"event_id"`
	Type      string  `json:"type"`
	UserID    string  `json:"user_id"`
	URL       string  `json:"url,omitempty"`
	Country   string  `json:"country"`
	UserAgent string  `json:"user_agent,omitempty"`
	Text      string  `json:"text,omitempty"`
	TS        string  `json:"ts"`
	Category  string  `json:"category"`
	Score     float32 `json:"score"`
	Flagged   bool    `json:"flagged"`
	Raw       []byte  `json:"raw"`
}

// derived is what Unmarshal reads besides the fields that event.Parse reads.
type derived struct {
	Category *string `json:"category"`
	Score    float32 `json:"score"`
	Flagged  bool    `json:"flagged"`
	Raw      []byte  `json:"raw"`
}

// formatTime formats an event time as the wire format does.
func formatTime(t time.Time) string {
	return t.UTC().Truncate(time.Millisecond).Format(time.RFC3339Nano)
}

// Marshal returns the message of e (see the package doc). It fails only for a score that JSON
// cannot hold (NaN or infinite), which scoring never sets.
func Marshal(e event.Event) (Message, error) {
	ts := formatTime(e.Time)
	data, err := json.Marshal(wire{
		EventID: e.ID, Type: e.Type, UserID: e.UserID, URL: e.URL, Country: e.Country,
		UserAgent: e.UserAgent, Text: e.Text, TS: ts,
		Category: e.Category, Score: e.Score, Flagged: e.Flagged, Raw: e.Raw,
	})
	if err != nil {
		return Message{}, fmt.Errorf("topic: marshal event %s: %w", e.ID, err)
	}
	return Message{Data: data, Attributes: map[string]string{AttrEventID: e.ID, AttrTime: ts}}, nil
}

// Unmarshal returns the event of a message's data. The error, when not nil, is an
// *event.ParseError: the data is validated as an input event is (event.Parse), and it must have
// a category, which every event on a topic has (a raw event has none).
func Unmarshal(data []byte) (event.Event, error) {
	e, err := event.Parse(data)
	if err != nil {
		return event.Event{}, err
	}
	var d derived
	if err := json.Unmarshal(data, &d); err != nil {
		return event.Event{}, &event.ParseError{Reason: event.InvalidJSON, Detail: err.Error()}
	}
	if d.Category == nil || *d.Category == "" {
		return event.Event{}, &event.ParseError{Reason: event.MissingField,
			Detail: "category (not an enriched event: is the subscription one of a raw queue instead of a stage's topic?)"}
	}
	e.Category, e.Score, e.Flagged, e.Raw = *d.Category, d.Score, d.Flagged, d.Raw
	return e, nil
}
