// Package restriction is the restriction and tracker of the sources' unbounded readers.
//
// A reader claims increasing positions (records, or pull calls) and checkpoints itself after a
// bounded time or count by returning sdf.ResumeProcessingIn; it never lets the runner split its
// work: Prism reschedules a split residual before the bundle that produced it has committed,
// so a runner split would run the same reader twice. The residual of a checkpoint may carry
// ack IDs, which the next call acknowledges: the runner saves a bundle's outputs together with
// its residual, so those messages are then committed (see source.AckAfterCommit).
package restriction

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
)

func init() {
	beam.RegisterType(reflect.TypeOf((*Tracker)(nil)))
	beam.RegisterCoder(reflect.TypeOf((*Restriction)(nil)).Elem(), encode, decode)
}

// Unbounded is the End of a restriction that never ends.
const Unbounded = math.MaxInt64

// Restriction is the positions [Start, End) still to read, and the ack IDs of the messages
// that the previous call emitted (empty unless the reader acknowledges after commit).
type Restriction struct {
	Start, End int64
	AckIDs     []string
}

func encode(r Restriction) []byte {
	b := binary.AppendVarint(nil, r.Start)
	b = binary.AppendVarint(b, r.End)
	b = binary.AppendUvarint(b, uint64(len(r.AckIDs)))
	for _, id := range r.AckIDs {
		b = append(binary.AppendUvarint(b, uint64(len(id))), id...)
	}
	return b
}

var errCorrupt = errors.New("restriction: corrupt encoding")

func decode(b []byte) (Restriction, error) {
	var r Restriction
	var k int
	if r.Start, k = binary.Varint(b); k <= 0 {
		return r, errCorrupt
	}
	b = b[k:]
	if r.End, k = binary.Varint(b); k <= 0 {
		return r, errCorrupt
	}
	b = b[k:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return r, errCorrupt
	}
	b = b[k:]
	for range n {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return r, errCorrupt
		}
		r.AckIDs = append(r.AckIDs, string(b[k:k+int(l)]))
		b = b[k+int(l):]
	}
	return r, nil
}

// Tracker tracks a Restriction. It accepts only self-checkpoints (TrySplit(0)); it refuses
// every other split. It is not safe for concurrent use: wrap it in sdf.NewLockRTracker.
type Tracker struct {
	rest     Restriction
	claimed  int64
	stopped  bool
	done     bool // checkpointed: the rest of the work is in the residual
	err      error
	carryIDs []string
}

// NewTracker returns a tracker of rest.
func NewTracker(rest Restriction) *Tracker {
	return &Tracker{rest: rest, claimed: rest.Start - 1}
}

// TryClaim claims position pos (an int64), which must be above the last one claimed. It
// returns false at or past the end, or after a checkpoint.
func (t *Tracker) TryClaim(p any) bool {
	pos := p.(int64)
	switch {
	case t.stopped || t.done:
		t.err = errors.New("restriction: claim after the tracker stopped")
		return false
	case pos <= t.claimed || pos < t.rest.Start:
		t.stopped, t.err = true, fmt.Errorf("restriction: claim of %d is not above %d", pos, max(t.claimed, t.rest.Start-1))
		return false
	case pos >= t.rest.End:
		t.claimed, t.stopped = pos, true
		return false
	}
	t.claimed = pos
	return true
}

// Carry makes the residual of the next checkpoint carry ackIDs, for the next call to
// acknowledge after the runner has committed this one.
func (t *Tracker) Carry(ackIDs []string) {
	t.carryIDs = append(t.carryIDs, ackIDs...)
}

// GetError returns the error that stopped the tracker.
func (t *Tracker) GetError() error { return t.err }

// TrySplit takes a self-checkpoint when fraction is 0: the primary is what was claimed, the
// residual the rest (with the carried ack IDs). It refuses every other split.
func (t *Tracker) TrySplit(fraction float64) (primary, residual any, err error) {
	if fraction > 0 || t.stopped || t.done || t.claimed+1 >= t.rest.End {
		return t.rest, nil, nil
	}
	res := Restriction{Start: t.claimed + 1, End: t.rest.End, AckIDs: t.carryIDs}
	t.rest.End = t.claimed + 1
	t.done, t.carryIDs = true, nil
	return t.rest, res, nil
}

// GetProgress reports the positions claimed as done and one unit as remaining (the size of
// an unbounded read is unknown).
func (t *Tracker) GetProgress() (done, remaining float64) {
	done = float64(t.claimed + 1 - t.rest.Start)
	if t.IsDone() {
		return done, 0
	}
	return done, 1
}

// IsDone reports whether the restriction is finished or checkpointed.
func (t *Tracker) IsDone() bool {
	return t.err == nil && (t.done || t.claimed+1 >= t.rest.End || t.rest.Start >= t.rest.End)
}

// GetRestriction returns the restriction being tracked.
func (t *Tracker) GetRestriction() any { return t.rest }

// IsBounded reports whether the restriction ends.
func (t *Tracker) IsBounded() bool { return t.rest.End != Unbounded }
