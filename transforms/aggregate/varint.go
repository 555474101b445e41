package aggregate

import "encoding/binary"

// decoder reads the fields of the package's hand-written encodings (varints and
// length-prefixed strings) and remembers whether one was malformed: after a failure every read
// returns a zero value, so a decoder checks ok once per record.
type decoder struct {
	b  []byte
	ok bool
}

func newDecoder(b []byte) *decoder { return &decoder{b: b, ok: true} }

// count reads a length, which must not exceed the bytes left (each item takes at least one).
func (d *decoder) count() int {
	n, k := binary.Uvarint(d.b)
	if !d.ok || k <= 0 || n > uint64(len(d.b)-k) {
		d.ok = false
		return 0
	}
	d.b = d.b[k:]
	return int(n)
}

func (d *decoder) varint() int64 {
	v, k := binary.Varint(d.b)
	if !d.ok || k <= 0 {
		d.ok = false
		return 0
	}
	d.b = d.b[k:]
	return v
}

func (d *decoder) str() string {
	n := d.count()
	if !d.ok {
		return ""
	}
	v := string(d.b[:n])
	d.b = d.b[n:]
	return v
}
