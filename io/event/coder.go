package event

import (
	"encoding/binary"
	"errors"
	"math"
	"reflect"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
)

func init() {
	beam.RegisterCoder(reflect.TypeOf((*Event)(nil)).Elem(), encodeEvent, decodeEvent)
	beam.RegisterCoder(reflect.TypeOf((*Raw)(nil)).Elem(), encodeRaw, decodeRaw)
	beam.RegisterCoder(reflect.TypeOf((*DeadLetter)(nil)).Elem(), encodeDeadLetter, decodeDeadLetter)
}

// errShort is returned when an encoded value ends early.
var errShort = errors.New("event: truncated encoding")

// The coders below are compact length-prefixed encodings: events cross a shuffle in dedupe,
// and a generic schema coder costs several times more.

func encodeEvent(e Event) []byte {
	b := make([]byte, 0, 68+len(e.ID)+len(e.UserID)+len(e.URL)+len(e.UserAgent)+len(e.Text)+len(e.Raw))
	for _, s := range [...]string{e.ID, e.Type, e.UserID, e.URL, e.Country, e.UserAgent, e.Text, e.Category} {
		b = appendString(b, s)
	}
	b = binary.AppendVarint(b, e.Time.UnixMilli())
	flag := byte(0)
	if e.Flagged {
		flag = 1
	}
	b = append(b, flag)
	b = binary.LittleEndian.AppendUint32(b, math.Float32bits(e.Score))
	return appendBytes(b, e.Raw)
}

func decodeEvent(b []byte) (Event, error) {
	d := decoder{b: b}
	e := Event{ID: d.str(), Type: d.str(), UserID: d.str(), URL: d.str(), Country: d.str(), UserAgent: d.str(), Text: d.str(), Category: d.str()}
	e.Time = time.UnixMilli(d.varint()).UTC()
	e.Flagged = d.byte() == 1
	e.Score = math.Float32frombits(d.uint32())
	e.Raw = d.bytes()
	return e, d.err
}

func encodeRaw(r Raw) []byte {
	b := appendString(appendBytes(make([]byte, 0, len(r.Bytes)+len(r.Source)+16), r.Bytes), r.Source)
	return binary.AppendVarint(b, r.Size)
}

func decodeRaw(b []byte) (Raw, error) {
	d := decoder{b: b}
	r := Raw{Bytes: d.bytes(), Source: d.str(), Size: d.varint()}
	return r, d.err
}

func encodeDeadLetter(dl DeadLetter) []byte {
	b := appendBytes(nil, dl.Raw)
	for _, s := range [...]string{dl.Reason, dl.Detail, dl.Source} {
		b = appendString(b, s)
	}
	return b
}

func decodeDeadLetter(b []byte) (DeadLetter, error) {
	d := decoder{b: b}
	dl := DeadLetter{Raw: d.bytes(), Reason: d.str(), Detail: d.str(), Source: d.str()}
	return dl, d.err
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func appendBytes(b, v []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(v))), v...)
}

// decoder reads what the append functions wrote; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail()
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uint32() uint32 {
	if len(d.b) < 4 {
		d.fail()
		return 0
	}
	v := binary.LittleEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil || uint64(len(d.b)) < n {
		d.fail()
		return nil
	}
	if n == 0 {
		return nil
	}
	v := append([]byte(nil), d.b[:n]...)
	d.b = d.b[n:]
	return v
}

func (d *decoder) str() string {
	n := d.uvarint()
	if d.err != nil || uint64(len(d.b)) < n {
		d.fail()
		return ""
	}
	v := string(d.b[:n])
	d.b = d.b[n:]
	return v
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errShort
	}
	d.b = nil
}

// Batch is a group of events that travels as one element. Batch pipelines shuffle batches
// rather than single events where they can: Prism's cost is per element.
type Batch struct {
	Events []Event
}

func init() {
	beam.RegisterCoder(reflect.TypeOf((*Batch)(nil)).Elem(), encodeBatch, decodeBatch)
}

func encodeBatch(b Batch) []byte {
	out := binary.AppendUvarint(nil, uint64(len(b.Events)))
	for _, e := range b.Events {
		out = appendBytes(out, encodeEvent(e))
	}
	return out
}

func decodeBatch(b []byte) (Batch, error) {
	d := decoder{b: b}
	n := d.uvarint()
	if d.err != nil || n > uint64(len(b)) {
		return Batch{}, errShort
	}
	out := Batch{Events: make([]Event, 0, n)}
	for i := uint64(0); i < n && d.err == nil; i++ {
		k := d.uvarint()
		if d.err != nil || uint64(len(d.b)) < k {
			d.fail()
			break
		}
		e, err := decodeEvent(d.b[:k])
		if err != nil {
			return Batch{}, err
		}
		out.Events = append(out.Events, e)
		d.b = d.b[k:]
	}
	return out, d.err
}
