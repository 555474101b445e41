// Package varcode is the compact binary encoding of the pipeline's hand-written Beam coders
// (events, batches, accumulators, session points): varints and length-prefixed strings and
// bytes, appended to a buffer and read back by a Decoder whose first failure sticks, so a coder
// checks once per record. Generic schema coders cost several times more where events cross a
// shuffle.
package varcode

import (
	"encoding/binary"
	"errors"
)

// ErrCorrupt is the error of a Decoder that read past its input or found a bad length.
var ErrCorrupt = errors.New("corrupt or truncated encoding")

// AppendString appends s, length-prefixed.
func AppendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// AppendBytes appends v, length-prefixed.
func AppendBytes(b, v []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(v))), v...)
}

// Decoder reads what the append functions (and binary.AppendVarint, AppendUvarint) wrote.
// After a failure every read returns a zero value and Err returns ErrCorrupt.
type Decoder struct {
	b   []byte
	err error
}

// NewDecoder returns a decoder of b.
func NewDecoder(b []byte) *Decoder { return &Decoder{b: b} }

// Err returns ErrCorrupt once a read has failed.
func (d *Decoder) Err() error { return d.err }

// Rest returns the bytes not read yet.
func (d *Decoder) Rest() []byte { return d.b }

func (d *Decoder) fail() {
	d.err, d.b = ErrCorrupt, nil
}

// Uvarint reads an unsigned varint.
func (d *Decoder) Uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if d.err != nil || n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

// Varint reads a signed varint.
func (d *Decoder) Varint() int64 {
	v, n := binary.Varint(d.b)
	if d.err != nil || n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

// Count reads a count of items that take at least a byte each: it fails if more are announced
// than bytes are left, so a corrupt count cannot make the caller allocate without bound.
func (d *Decoder) Count() int {
	n := d.Uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.fail()
		return 0
	}
	return int(n)
}

// Byte reads one byte.
func (d *Decoder) Byte() byte {
	if d.err != nil || len(d.b) < 1 {
		d.fail()
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

// Uint32 reads a little-endian uint32.
func (d *Decoder) Uint32() uint32 {
	if d.err != nil || len(d.b) < 4 {
		d.fail()
		return 0
	}
	v := binary.LittleEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

// Slice reads a length-prefixed byte slice without copying it (nil when empty).
func (d *Decoder) Slice() []byte {
	n := d.Count()
	if d.err != nil || n == 0 {
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// Bytes reads a length-prefixed byte slice into a copy (nil when empty).
func (d *Decoder) Bytes() []byte {
	if v := d.Slice(); v != nil {
		return append([]byte(nil), v...)
	}
	return nil
}

// Str reads a length-prefixed string (not String: a Decoder is no fmt.Stringer).
func (d *Decoder) Str() string { return string(d.Slice()) }
