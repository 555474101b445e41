package event

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
	"time"

	"github.com/klauspost/compress/s2"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/beamline/beamline/internal/varcode"
)

func init() {
	beam.RegisterCoder(reflect.TypeOf((*Event)(nil)).Elem(), encodeEvent, decodeEvent)
	beam.RegisterCoder(reflect.TypeOf((*Raw)(nil)).Elem(), encodeRaw, decodeRaw)
	beam.RegisterCoder(reflect.TypeOf((*DeadLetter)(nil)).Elem(), encodeDeadLetter, decodeDeadLetter)
}

// errShort is returned when an encoded value ends early.

// The coders below are compact length-prefixed encodings: events cross a shuffle in dedupe,
// and a generic schema coder costs several times more.

func encodeEvent(e Event) []byte {
	return appendEvent(make([]byte, 0, 68+len(e.ID)+len(e.UserID)+len(e.URL)+len(e.UserAgent)+len(e.Text)+len(e.Raw)), e)
}

// appendEvent appends the encoding of e to b.
func appendEvent(b []byte, e Event) []byte {
	for _, s := range [...]string{e.ID, e.Type, e.UserID, e.URL, e.Country, e.UserAgent, e.Text, e.Category} {
		b = varcode.AppendString(b, s)
	}
	b = binary.AppendVarint(b, e.Time.UnixMilli())
	flag := byte(0)
	if e.Flagged {
		flag = 1
	}
	b = append(b, flag)
	b = binary.LittleEndian.AppendUint32(b, math.Float32bits(e.Score))
	return varcode.AppendBytes(b, e.Raw)
}

func decodeEvent(b []byte) (Event, error) {
	d := varcode.NewDecoder(b)
	e := Event{ID: d.Str(), Type: d.Str(), UserID: d.Str(), URL: d.Str(), Country: d.Str(), UserAgent: d.Str(), Text: d.Str(), Category: d.Str()}
	e.Time = time.UnixMilli(d.Varint()).UTC()
	e.Flagged = d.Byte() == 1
	e.Score = math.Float32frombits(d.Uint32())
	e.Raw = d.Bytes()
	return e, d.Err()
}

func encodeRaw(r Raw) []byte {
	b := varcode.AppendString(varcode.AppendBytes(make([]byte, 0, len(r.Bytes)+len(r.Source)+16), r.Bytes), r.Source)
	return binary.AppendVarint(b, r.Size)
}

func decodeRaw(b []byte) (Raw, error) {
	d := varcode.NewDecoder(b)
	r := Raw{Bytes: d.Bytes(), Source: d.Str(), Size: d.Varint()}
	return r, d.Err()
}

func encodeDeadLetter(dl DeadLetter) []byte {
	b := varcode.AppendBytes(nil, dl.Raw)
	for _, s := range [...]string{dl.Reason, dl.Detail, dl.Source} {
		b = varcode.AppendString(b, s)
	}
	return b
}

func decodeDeadLetter(b []byte) (DeadLetter, error) {
	d := varcode.NewDecoder(b)
	dl := DeadLetter{Raw: d.Bytes(), Reason: d.Str(), Detail: d.Str(), Source: d.Str()}
	return dl, d.Err()
}

// Batch is a group of events that travels as one element. Batch pipelines shuffle batches
// rather than single events where they can: Prism's cost is per element.
type Batch struct {
	Events []Event
}

func init() {
	beam.RegisterCoder(reflect.TypeOf((*Batch)(nil)).Elem(), encodeBatch, decodeBatch)
}

// A batch's encoding starts with a format byte: plain, or (from compressAbove bytes on) the
// plain encoding compressed with S2. Batches cross the batch job's largest shuffle (dedupe),
// where the runner holds them in memory, and an event's fields and its raw record repeat
// each other: S2 shrinks them ~3x for ~1 us per event.
const (
	batchPlain    = 0
	batchS2       = 1
	compressAbove = 4 << 10
)

var errBatchFormat = errors.New("event batch: unknown format")

func encodeBatch(b Batch) []byte {
	out := binary.AppendUvarint([]byte{batchPlain}, uint64(len(b.Events)))
	var one []byte
	for _, e := range b.Events {
		one = appendEvent(one[:0], e)
		out = varcode.AppendBytes(out, one)
	}
	if len(out) < compressAbove {
		return out
	}
	return append([]byte{batchS2}, s2.Encode(nil, out[1:])...)
}

func decodeBatch(b []byte) (Batch, error) {
	if len(b) == 0 {
		return Batch{}, errBatchFormat
	}
	switch b[0] {
	case batchPlain:
		b = b[1:]
	case batchS2:
		plain, err := s2.Decode(nil, b[1:])
		if err != nil {
			return Batch{}, fmt.Errorf("event batch: %w", err)
		}
		b = plain
	default:
		return Batch{}, errBatchFormat
	}
	d := varcode.NewDecoder(b)
	out := Batch{Events: make([]Event, 0, d.Count())}
	for i := cap(out.Events); i > 0 && d.Err() == nil; i-- {
		e, err := decodeEvent(d.Slice())
		if err != nil {
			return Batch{}, err
		}
		out.Events = append(out.Events, e)
	}
	if d.Err() != nil {
		return Batch{}, d.Err()
	}
	return out, nil
}
