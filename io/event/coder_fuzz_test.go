package event

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// FuzzDecoders feeds arbitrary bytes to every decoder of the package: none may panic, and what
// one decodes must encode to bytes that decode to the same value.
func FuzzDecoders(f *testing.F) {
	e := Event{ID: "e1", Type: TypeClick, UserID: "u", URL: "https://x/", Country: "DE", Time: time.UnixMilli(1764000000000).UTC(), Raw: []byte("{}")}
	f.Add(encodeEvent(e))
	f.Add(encodeRaw(Raw{Bytes: []byte("garbage"), Source: "f:1"}))
	f.Add(encodeDeadLetter(NewDeadLetter(Raw{Bytes: []byte("x"), Source: "s"}, errors.New("bad"))))
	f.Add(encodeBatch(Batch{Events: []Event{e, e}}))
	empty := cmp.Options{cmpopts.EquateEmpty(), cmpopts.EquateNaNs()} // a score may be any float32 bit pattern
	f.Fuzz(func(t *testing.T, b []byte) {
		if v, err := decodeEvent(b); err == nil {
			if back, err := decodeEvent(encodeEvent(v)); err != nil || !cmp.Equal(v, back, empty) {
				t.Errorf("event %+v came back as %+v (%v)", v, back, err)
			}
		}
		if v, err := decodeRaw(b); err == nil {
			if back, err := decodeRaw(encodeRaw(v)); err != nil || !cmp.Equal(v, back, empty) {
				t.Errorf("raw %+v came back as %+v (%v)", v, back, err)
			}
		}
		if v, err := decodeDeadLetter(b); err == nil {
			if back, err := decodeDeadLetter(encodeDeadLetter(v)); err != nil || !cmp.Equal(v, back, empty) {
				t.Errorf("dead letter %+v came back as %+v (%v)", v, back, err)
			}
		}
		if v, err := decodeBatch(b); err == nil {
			if back, err := decodeBatch(encodeBatch(v)); err != nil || !cmp.Equal(v, back, empty) {
				t.Errorf("batch %+v came back as %+v (%v)", v, back, err)
			}
		}
	})
}
