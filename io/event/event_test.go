package event

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	ts := time.Date(2026, 11, 21, 13, 5, 2, 123e6, time.UTC)
	tests := []struct {
		name   string
		raw    string
		want   Event
		reason Reason
	}{
		{name: "pageview", raw: `{"event_id":"e-1","type":"pageview","user_id":"u-1","url":"https://s/p","country":"de","user_agent":"UA","text":"","ts":"2026-11-21T13:05:02.123Z"}`,
			want: Event{ID: "e-1", Type: "pageview", UserID: "u-1", URL: "https://s/p", Country: "DE", UserAgent: "UA", Time: ts}},
		{name: "post without url and country", raw: `{"event_id":"e-2","type":"post","user_id":"u-1","text":"hi","ts":"2026-11-21T13:05:02.123Z"}`,
			want: Event{ID: "e-2", Type: "post", UserID: "u-1", Country: UnknownCountry, Text: "hi", Time: ts}},
		{name: "offset and nanoseconds are normalised to UTC milliseconds", raw: `{"event_id":"e-3","type":"click","user_id":"u","url":"x","ts":"2026-11-21T15:05:02.123999999+02:00"}`,
			want: Event{ID: "e-3", Type: "click", UserID: "u", URL: "x", Country: UnknownCountry, Time: ts}},
		{name: "unknown fields are ignored, null is empty", raw: `{"event_id":"e-4","type":"post","user_id":"u","ts":"2026-11-21T13:05:02.123Z","extra":[1],"country":null}`,
			want: Event{ID: "e-4", Type: "post", UserID: "u", Country: UnknownCountry, Time: ts}},
		{name: "empty", raw: ``, reason: InvalidJSON},
		{name: "blank", raw: "  \t", reason: InvalidJSON},
		{name: "not an object", raw: `[1,2]`, reason: InvalidJSON},
		{name: "null", raw: `null`, reason: InvalidJSON},
		{name: "truncated", raw: `{"event_id":"e-1","type":"pa`, reason: InvalidJSON},
		{name: "trailing garbage", raw: `{"event_id":"e-1"} x`, reason: InvalidJSON},
		{name: "wrong field type", raw: `{"event_id":"e-1","type":"post","user_id":42,"ts":"2026-11-21T13:05:02Z"}`, reason: InvalidJSON},
		{name: "missing event_id", raw: `{"type":"post","user_id":"u","ts":"2026-11-21T13:05:02Z"}`, reason: MissingField},
		{name: "missing user_id", raw: `{"event_id":"e","type":"post","ts":"2026-11-21T13:05:02Z"}`, reason: MissingField},
		{name: "missing ts", raw: `{"event_id":"e","type":"post","user_id":"u"}`, reason: MissingField},
		{name: "missing field wins over unknown type", raw: `{"event_id":"e","type":"nope","ts":"2026-11-21T13:05:02Z"}`, reason: MissingField},
		{name: "unknown type", raw: `{"event_id":"e","type":"PageView","user_id":"u","url":"x","ts":"2026-11-21T13:05:02Z"}`, reason: UnknownType},
		{name: "bad ts", raw: `{"event_id":"e","type":"post","user_id":"u","ts":"2026-11-21 13:05:02"}`, reason: BadTimestamp},
		{name: "unknown type wins over bad ts", raw: `{"event_id":"e","type":"x","user_id":"u","ts":"yesterday"}`, reason: UnknownType},
		{name: "pageview without url", raw: `{"event_id":"e","type":"pageview","user_id":"u","ts":"2026-11-21T13:05:02Z"}`, reason: MissingField},
		{name: "bad ts wins over missing url", raw: `{"event_id":"e","type":"click","user_id":"u","ts":"x"}`, reason: BadTimestamp},
		{name: "invalid UTF-8 in a field is never replaced", raw: "{\"event_id\":\"e\",\"type\":\"click\",\"user_id\":\"u\",\"url\":\"https://s/\xe9\",\"ts\":\"2026-11-21T13:05:02Z\"}", reason: InvalidUTF8},
		{name: "invalid UTF-8 wins over invalid JSON", raw: "\xff{", reason: InvalidUTF8},
		{name: "an escaped lone surrogate is decoded as U+FFFD", raw: `{"event_id":"e","type":"post","user_id":"u","text":"\ud800","ts":"2026-11-21T13:05:02.123Z"}`,
			want: Event{ID: "e", Type: "post", UserID: "u", Country: UnknownCountry, Text: "\ufffd", Time: ts}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.raw))
			if tt.reason != "" {
				var pe *ParseError
				if !errors.As(err, &pe) || pe.Reason != tt.reason {
					t.Fatalf("Parse(%q) error = %v, want reason %s", tt.raw, err, tt.reason)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.raw, err)
			}
			tt.want.Raw = []byte(tt.raw)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("Parse(%q) (-want +got):\n%s", tt.raw, d)
			}
		})
	}
}

// TestParseRecordSize dead-letters a record over the limit as too_large without parsing it,
// whether the reader cut it (Size set) or not, and keeps at most 1 MiB of it in the dead letter.
func TestParseRecordSize(t *testing.T) {
	ok := `{"event_id":"e","type":"post","user_id":"u","ts":"2026-11-21T13:05:02Z"}`
	if _, err := ParseRecord(Raw{Bytes: []byte(ok)}, len(ok)); err != nil {
		t.Errorf("a record of exactly the limit: %v", err)
	}
	huge := append([]byte(ok), bytes.Repeat([]byte(" "), 2<<20)...)
	for name, raw := range map[string]Raw{
		"over the limit":        {Bytes: []byte(ok)[:len(ok)-1] /* not JSON: never parsed */, Size: int64(len(ok) + 1)},
		"over the default":      {Bytes: huge},
		"cut by the reader":     {Bytes: huge[:DefaultMaxRecordBytes], Size: int64(len(huge))},
		"one byte over a limit": {Bytes: []byte(ok + " ")},
	} {
		limit := len(ok)
		if name != "one byte over a limit" && name != "over the limit" {
			limit = 0
		}
		_, err := ParseRecord(raw, limit)
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Reason != TooLarge {
			t.Errorf("%s: ParseRecord error = %v, want too_large", name, err)
			continue
		}
		if dl := NewDeadLetter(raw, err); len(dl.Raw) > DefaultMaxRecordBytes || dl.Reason != string(TooLarge) {
			t.Errorf("%s: dead letter keeps %d bytes, reason %s", name, len(dl.Raw), dl.Reason)
		}
	}
}

func TestCodersRoundTrip(t *testing.T) {
	e := Event{ID: "e", Type: "click", UserID: "u", URL: "https://x", Country: "DE", UserAgent: "ua", Text: "t\x00", Category: "c",
		Time: time.Date(2026, 11, 21, 0, 0, 0, 1e6, time.UTC), Flagged: true, Score: 0.8125, Raw: []byte("{\xff}")}
	got, err := decodeEvent(encodeEvent(e))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(e, got); d != "" {
		t.Errorf("event round trip (-want +got):\n%s", d)
	}
	dl := DeadLetter{Raw: []byte("x"), Reason: "invalid_json", Detail: "d", Source: "f:1"}
	gotDL, err := decodeDeadLetter(encodeDeadLetter(dl))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(dl, gotDL); d != "" {
		t.Errorf("dead letter round trip (-want +got):\n%s", d)
	}
	raw := Raw{Bytes: []byte("line"), Source: "f:2", Size: 1 << 33}
	gotRaw, err := decodeRaw(encodeRaw(raw))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(raw, gotRaw); d != "" {
		t.Errorf("raw round trip (-want +got):\n%s", d)
	}
	if _, err := decodeEvent(encodeEvent(e)[:5]); err == nil {
		t.Error("decodeEvent of a truncated encoding: no error")
	}
}

// FuzzParse checks that Parse never panics and that every input is either a valid event or a
// classified dead letter. Seeds are in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"event_id":"e-1","type":"pageview","user_id":"u-1","url":"https://s/p","ts":"2026-11-21T13:05:02.123Z"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		e, err := Parse(raw)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q): error %v is not a *ParseError", raw, err)
			}
			dl := NewDeadLetter(Raw{Bytes: raw, Source: "fuzz"}, err)
			if dl.Reason != string(pe.Reason) || string(dl.Raw) != string(raw) {
				t.Fatalf("dead letter %+v does not carry the reason and raw bytes", dl)
			}
			return
		}
		if e.ID == "" || e.UserID == "" || e.Country == "" || e.Time.Location() != time.UTC {
			t.Fatalf("Parse(%q) = %+v: missing required values", raw, e)
		}
		if e.Type != TypePageview && e.Type != TypeClick && e.Type != TypePost {
			t.Fatalf("Parse(%q): type %q", raw, e.Type)
		}
		if e.Type != TypePost && e.URL == "" {
			t.Fatalf("Parse(%q): %s without url", raw, e.Type)
		}
		if !e.Time.Equal(e.Time.Truncate(time.Millisecond)) {
			t.Fatalf("Parse(%q): time %v not truncated to ms", raw, e.Time)
		}
		back, err := decodeEvent(encodeEvent(e))
		if err != nil || !cmp.Equal(e, back) {
			t.Fatalf("coder round trip of %+v: %v", e, err)
		}
	})
}

func TestBatchCoderRoundTrip(t *testing.T) {
	b := Batch{Events: []Event{{ID: "a", Time: time.UnixMilli(5).UTC()}, {ID: "b", Raw: []byte("r"), Time: time.UnixMilli(7).UTC()}}}
	got, err := decodeBatch(encodeBatch(b))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(b, got); d != "" {
		t.Errorf("batch round trip (-want +got):\n%s", d)
	}
	if _, err := decodeBatch(encodeBatch(b)[:4]); err == nil {
		t.Error("truncated batch: no error")
	}
}
