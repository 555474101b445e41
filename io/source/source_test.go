package source

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestMessageCoderRoundTrip(t *testing.T) {
	for _, m := range []Message{{}, {Data: []byte(`{"a":1}`), Source: "projects/p/subscriptions/s/1", AckID: "ack-1"}, {Data: []byte{0, 0xff, '\n'}}} {
		got, err := decodeMessage(encodeMessage(m))
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(m, got, cmpopts.EquateEmpty()); d != "" {
			t.Errorf("round trip (-want +got):\n%s", d)
		}
	}
	if _, err := decodeMessage([]byte{5, 'a'}); err == nil {
		t.Error("decode of a truncated message: no error")
	}
}

func TestValidate(t *testing.T) {
	if err := (Options{AckMode: "later"}).Validate(); err == nil || !strings.Contains(err.Error(), "unknown ack mode") {
		t.Errorf("ack mode later: %v", err)
	}
	if got := (Options{}).Mode(); got != AckAfterArchive {
		t.Errorf("default ack mode %q, want %q", got, AckAfterArchive)
	}
	if err := Validate("nosuch://x", Options{}); err == nil || !strings.Contains(err.Error(), ErrUnknownScheme.Error()) {
		t.Errorf("unknown scheme: %v", err)
	}
	if err := Validate("%%", Options{}); err == nil {
		t.Error("malformed URL: no error")
	}
}

// FuzzMessageCoder: no input makes the message decoder panic, and what it decodes encodes to
// bytes that decode to the same message.
func FuzzMessageCoder(f *testing.F) {
	f.Add(encodeMessage(Message{Data: []byte(`{"a":1}`), Source: "s/1", AckID: "ack"}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, err := decodeMessage(b); err == nil {
			if back, err := decodeMessage(encodeMessage(m)); err != nil || !cmp.Equal(m, back, cmpopts.EquateEmpty()) {
				t.Errorf("message %+v came back as %+v (%v)", m, back, err)
			}
		}
	})
}
