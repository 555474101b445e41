package kafkasource

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/beamline/beamline/io/internal/shared"
)

// span is the offsets [from, to) of one partition that one message covers: from the offset
// after the previous record the reader emitted to the message's own.
type span struct {
	partition int32
	from, to  int64
}

// ackID returns the AckID of the record at offset of partition, read right after from.
func ackID(partition int32, from, offset int64) string {
	return strconv.Itoa(int(partition)) + ":" + strconv.FormatInt(from, 10) + ":" + strconv.FormatInt(offset, 10)
}

// parseAckID parses an AckID of ackID.
func parseAckID(id string) (span, error) {
	f := strings.Split(id, ":")
	if len(f) == 3 {
		p, err1 := strconv.ParseInt(f[0], 10, 32)
		from, err2 := strconv.ParseInt(f[1], 10, 64)
		off, err3 := strconv.ParseInt(f[2], 10, 64)
		if err1 == nil && err2 == nil && err3 == nil && p >= 0 && from >= 0 && from <= off {
			return span{partition: int32(p), from: from, to: off + 1}, nil
		}
	}
	return span{}, fmt.Errorf("kafka: bad ack ID %q (want PARTITION:FROM:OFFSET)", id)
}

// refetchEvery bounds how often an acker whose spans do not join the committed offset reads
// the group's offsets again (another process may have committed the gap).
const refetchEvery = 2 * time.Second

// acks is what a process knows of one group's progress on one topic: per partition, the
// committed offset and the acknowledged spans above it. The ackers of a process share it.
type acks struct {
	key string

	mu          sync.Mutex // held while committing, so commits go out in order
	admin       *admin
	committed   map[int32]int64
	pending     map[int32][]span // sorted by from, disjoint, not touching
	lastFetched time.Time
}

// groups are the process's acknowledgements, by brokers, topic and group.
var groups shared.Pool[*acks]

// acker acknowledges messages by committing offsets.
type acker struct{ a *acks }

func openAcker(p Params) (*acker, error) {
	key := fmt.Sprint(p.Brokers, p.Topic, p.Group)
	a, err := groups.Get(key, func() (*acks, error) {
		adm, err := newAdmin(p)
		if err != nil {
			return nil, err
		}
		return &acks{key: key, admin: adm, committed: map[int32]int64{}, pending: map[int32][]span{}}, nil
	})
	if err != nil {
		return nil, err
	}
	return &acker{a}, nil
}

// Ack adds the spans of ids and commits, per partition, the end of the spans that join the
// committed offset.
func (k *acker) Ack(ctx context.Context, ids []string) error {
	a := k.a
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, id := range ids {
		s, err := parseAckID(id)
		if err != nil {
			return err
		}
		a.pending[s.partition] = addSpan(a.pending[s.partition], s)
	}
	advance := a.advance()
	if a.stuck() && time.Since(a.lastFetched) >= refetchEvery {
		committed, err := a.admin.committed(ctx)
		if err != nil {
			return err
		}
		a.lastFetched = time.Now()
		for part, at := range committed {
			if cur, ok := a.committed[part]; !ok || at > cur {
				a.committed[part] = at
			}
		}
		for part, at := range a.advance() {
			advance[part] = at
		}
	}
	if len(advance) == 0 {
		return nil
	}
	return a.admin.commit(ctx, advance)
}

// advance moves each partition's committed offset over the spans that join it, and returns the
// partitions that moved with their new offsets.
func (a *acks) advance() map[int32]int64 {
	out := map[int32]int64{}
	for part, spans := range a.pending {
		at, known := a.committed[part]
		if !known {
			continue
		}
		i := 0
		for ; i < len(spans) && spans[i].from <= at; i++ {
			at = max(at, spans[i].to)
		}
		if i > 0 {
			a.pending[part] = spans[i:]
			a.committed[part] = at
			out[part] = at
		}
	}
	return out
}

// stuck reports whether some partition holds spans that do not join its committed offset (or
// whose committed offset is not known yet).
func (a *acks) stuck() bool {
	for _, spans := range a.pending {
		if len(spans) > 0 {
			return true
		}
	}
	return false
}

// addSpan inserts s into spans (sorted, disjoint, not touching), merging what it overlaps or
// touches.
func addSpan(spans []span, s span) []span {
	i := sort.Search(len(spans), func(i int) bool { return spans[i].to >= s.from })
	j := i
	for ; j < len(spans) && spans[j].from <= s.to; j++ {
		s.from, s.to = min(s.from, spans[j].from), max(s.to, spans[j].to)
	}
	out := append(spans[:i:i], s)
	return append(out, spans[j:]...)
}

// Close releases the acker; the last acker of a group closes its client.
func (k *acker) Close() error {
	groups.Release(k.a.key, func(a *acks) { a.admin.close() })
	return nil
}
