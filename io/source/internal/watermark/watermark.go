// Package watermark is the watermark estimator that the queue readers share (Pub/Sub, Kafka,
// SQS): the watermark is the largest event time read minus a delay, it moves only once the
// reader has drained its backlog, it never goes back, and a source idle for a while moves it to
// the wall clock minus the delay, so windows close when traffic stops.
package watermark

import (
	"bytes"
	"fmt"
	"reflect"
	"strconv"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
)

func init() {
	beam.RegisterType(reflect.TypeOf((*Estimator)(nil)))
	beam.RegisterCoder(reflect.TypeOf((*State)(nil)).Elem(), encode, decode)
}

// State is an estimator's state, carried across checkpoints (Unix ms).
type State struct {
	Watermark int64 // never goes back
	MaxSeen   int64 // the largest event time read
	IdleSince int64 // wall-clock time since which nothing came; 0 while records come
}

// Initial is the state of a reader that has read nothing.
func Initial() State {
	return State{Watermark: mtime.MinTimestamp.Milliseconds(), MaxSeen: mtime.MinTimestamp.Milliseconds()}
}

// NoEventTime is the maxSeen of a call that read no record with an event time.
var NoEventTime = mtime.MinTimestamp.Milliseconds()

func encode(s State) []byte {
	b := make([]byte, 0, 30)
	for _, v := range [...]int64{s.Watermark, s.MaxSeen, s.IdleSince} {
		b = strconv.AppendInt(b, v, 36)
		b = append(b, ' ')
	}
	return b
}

func decode(b []byte) (State, error) {
	f := bytes.Fields(b)
	var v [3]int64
	if len(f) != 3 {
		return State{}, fmt.Errorf("watermark: bad state %q", b)
	}
	for i := range v {
		n, err := strconv.ParseInt(string(f[i]), 36, 64)
		if err != nil {
			return State{}, fmt.Errorf("watermark: bad state %q: %w", b, err)
		}
		v[i] = n
	}
	return State{Watermark: v[0], MaxSeen: v[1], IdleSince: v[2]}, nil
}

// Estimator is a reader's watermark estimator.
type Estimator struct {
	State State
}

// New returns an estimator that starts from s.
func New(s State) *Estimator { return &Estimator{State: s} }

// CurrentWatermark returns the watermark.
func (e *Estimator) CurrentWatermark() time.Time { return time.UnixMilli(e.State.Watermark) }

// Observe updates the state after a reader call that read n records, the largest event time of
// which is maxSeen (Unix ms; NoEventTime if none had one). drained says whether the call read
// everything the source held; idle and delay are the reader's parameters.
func (e *Estimator) Observe(n int, maxSeen int64, drained bool, now time.Time, idle, delay time.Duration) {
	s := &e.State
	s.MaxSeen = max(s.MaxSeen, maxSeen)
	if drained {
		s.Watermark = max(s.Watermark, s.MaxSeen-delay.Milliseconds())
	}
	if n > 0 {
		s.IdleSince = 0
		return
	}
	if s.IdleSince == 0 {
		s.IdleSince = now.UnixMilli()
	}
	if now.UnixMilli()-s.IdleSince >= idle.Milliseconds() {
		s.Watermark = max(s.Watermark, now.Add(-delay).UnixMilli())
	}
}
