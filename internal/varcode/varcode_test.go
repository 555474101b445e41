package varcode

import (
	"encoding/binary"
	"errors"
	"testing"
)

// TestRoundTrip writes one of each and reads them back; a truncated input fails every read.
func TestRoundTrip(t *testing.T) {
	b := AppendString(nil, "héllo")
	b = AppendBytes(b, []byte{0, 1, 2})
	b = binary.AppendVarint(b, -42)
	b = binary.AppendUvarint(b, 2)
	b = append(b, 7)
	b = binary.LittleEndian.AppendUint32(b, 0xdeadbeef)
	d := NewDecoder(b)
	if s, bs, v, n, by, u := d.Str(), d.Bytes(), d.Varint(), d.Count(), d.Byte(), d.Uint32(); s != "héllo" || string(bs) != "\x00\x01\x02" ||
		v != -42 || n != 2 || by != 7 || u != 0xdeadbeef || d.Err() != nil || len(d.Rest()) != 0 {
		t.Errorf("read %q %v %d %d %d %#x, err %v", s, bs, v, n, by, u, d.Err())
	}
	for cut := range len(b) - 1 {
		d := NewDecoder(b[:cut])
		d.Str()
		d.Bytes()
		d.Varint()
		d.Count()
		d.Byte()
		d.Uint32()
		if !errors.Is(d.Err(), ErrCorrupt) {
			t.Errorf("input cut at %d read without error", cut)
		}
	}
	if d := NewDecoder(binary.AppendUvarint(nil, 1000)); d.Count() != 0 || d.Err() == nil {
		t.Error("a count above the bytes left was accepted")
	}
}
