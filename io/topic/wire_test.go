package topic

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/io/event"
)

var t0 = time.Date(2026, 11, 20, 10, 0, 1, 5e8, time.UTC)

// sampleEvents are events with every field set, with values that JSON must escape, and with
// the zero values of the derived fields.
func sampleEvents() []event.Event {
	return []event.Event{
		{ID: "e-1", Type: event.TypePost, UserID: "u-1", URL: "https://shop.example/p/1?a=1&b=<2>", Country: "DE",
			UserAgent: "Mozilla/5.0 \"quoted\"", Text: "line one\nline two \u00e9\u2028 \t", Time: t0,
			Category: "shoes", Flagged: true, Score: 0.87654321,
			Raw: []byte("{\"event_id\":\"e-1\",\"type\":\"post\"}\r")},
		{ID: "e-2", Type: event.TypePageview, UserID: "u-2", URL: "https://x/", Country: event.UnknownCountry,
			Time: time.Date(1999, 12, 31, 23, 59, 59, 999e6, time.UTC), Category: "unknown",
			Raw: []byte{'{', 0xff, 0xfe, '}'}}, // invalid UTF-8 survives (dedupe breaks ties on it)
		{ID: "e-3", Type: event.TypeClick, UserID: "u-3", URL: "u", Country: "ZZ", Time: t0.Add(time.Hour),
			Category: "c", Score: float32(math.SmallestNonzeroFloat32)},
		{ID: "e-4", Type: event.TypePost, UserID: "u-4", Country: "FR", Time: t0, Category: "unknown", Score: 1, Flagged: true,
			Text: strings.Repeat("x", 5000), Raw: []byte(`{}`)},
	}
}

// TestMarshalRoundTrip: every field of an event survives Marshal and Unmarshal, and the
// attributes carry the event ID and the event time.
func TestMarshalRoundTrip(t *testing.T) {
	for _, e := range sampleEvents() {
		t.Run(e.ID, func(t *testing.T) {
			m, err := Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Unmarshal(m.Data)
			if err != nil {
				t.Fatalf("Unmarshal(%s): %v", m.Data, err)
			}
			if d := cmp.Diff(e, got); d != "" {
				t.Errorf("round trip (-want +got):\n%s", d)
			}
			want := map[string]string{AttrEventID: e.ID, AttrTime: e.Time.Format(time.RFC3339Nano)}
			if d := cmp.Diff(want, m.Attributes); d != "" {
				t.Errorf("attributes (-want +got):\n%s", d)
			}
			if ts, err := time.Parse(time.RFC3339Nano, m.Attributes[AttrTime]); err != nil || !ts.Equal(e.Time) {
				t.Errorf("the ts attribute %q is not the event time %s", m.Attributes[AttrTime], e.Time)
			}
			if strings.ContainsAny(string(m.Data), "\r\n") {
				t.Errorf("the message has a line break (the source replaces them): %s", m.Data)
			}
		})
	}
}

// TestWireIsAnInputEvent: a message's data is an input event (DESIGN.md "Events") with the
// derived fields added, so that event.Parse, and a source that takes event time from the ts
// field, read it as such.
func TestWireIsAnInputEvent(t *testing.T) {
	e := sampleEvents()[0]
	m, err := Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := event.Parse(m.Data)
	if err != nil {
		t.Fatal(err)
	}
	parsed.Raw = e.Raw
	parsed.Category, parsed.Score, parsed.Flagged = e.Category, e.Score, e.Flagged
	if d := cmp.Diff(e, parsed); d != "" {
		t.Errorf("event.Parse of the message (-want +got):\n%s", d)
	}
	var fields map[string]any
	if err := json.Unmarshal(m.Data, &fields); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"event_id", "type", "user_id", "url", "country", "user_agent", "text", "ts", "category", "score", "flagged", "raw"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("the message lacks field %q: %s", k, m.Data)
		}
	}
}

// TestUnmarshalRejects: what is not an event of the wire format is an *event.ParseError with
// the reason a dead letter gets.
func TestUnmarshalRejects(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		reason     event.Reason
	}{
		{"garbage", "not json", event.InvalidJSON},
		{"raw input event", `{"event_id":"e","type":"post","user_id":"u","ts":"2026-11-20T10:00:00Z"}`, event.MissingField},
		{"empty category", `{"event_id":"e","type":"post","user_id":"u","ts":"2026-11-20T10:00:00Z","category":""}`, event.MissingField},
		{"score not a number", `{"event_id":"e","type":"post","user_id":"u","ts":"2026-11-20T10:00:00Z","category":"c","score":"high"}`, event.InvalidJSON},
		{"raw not base64", `{"event_id":"e","type":"post","user_id":"u","ts":"2026-11-20T10:00:00Z","category":"c","raw":"%%"}`, event.InvalidJSON},
		{"no ts", `{"event_id":"e","type":"post","user_id":"u","category":"c"}`, event.MissingField},
		{"bad ts", `{"event_id":"e","type":"post","user_id":"u","ts":"noon","category":"c"}`, event.BadTimestamp},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Unmarshal([]byte(tc.data))
			var pe *event.ParseError
			if !errors.As(err, &pe) || pe.Reason != tc.reason {
				t.Errorf("Unmarshal(%s) = %v, want reason %s", tc.data, err, tc.reason)
			}
		})
	}
}

func TestMarshalRejectsNaN(t *testing.T) {
	e := sampleEvents()[0]
	e.Score = float32(math.NaN())
	if _, err := Marshal(e); err == nil || !strings.Contains(err.Error(), "e-1") {
		t.Errorf("Marshal of a NaN score: %v, want an error naming the event", err)
	}
}
