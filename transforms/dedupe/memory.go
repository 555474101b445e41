package dedupe

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"
)

// The IDs that Stateful has kept live in two places. The durable copy is the runner's state:
// per bucket, one bag per parity of the TTL generation, to which each firing appends one
// keptBatch, and a token, a random number written with every change of the bags. The copy
// that lookups use is a worker's memory of those bags (memory), valid only while it holds the
// token that the runner's state holds: a worker that did not make the latest change (another
// worker had the bucket, or a bundle failed after changing the memory and its state was never
// committed) sees another token and reads the bags again. So the memory is only ever a cache of
// committed state, on any runner, and a firing costs a few state requests instead of about four
// per ID (map state: two reads, and a write that is a clear and an append; Prism answers each
// in ~75 us, one after the other, which capped the job at ~3k events/s).

// idKey is how an event ID is held in memory: the first 16 bytes of its SHA-256. Two distinct
// IDs share one with a probability of about n^2/2^129 for n IDs, nil in practice; a
// collision-resistant hash keeps crafted IDs from colliding on purpose. It also keeps the
// memory free of pointers, which the garbage collector then does not scan.
type idKey [16]byte

func keyOf(id string) idKey {
	sum := sha256.Sum256([]byte(id))
	return idKey(sum[:16])
}

// keptBatch is what one firing appends to a Kept bag: a sequence of (idKey, kept time in Unix
// ms, big-endian) records.
type keptBatch struct {
	Data []byte
}

const keptRecord = len(idKey{}) + 8

func (b *keptBatch) add(k idKey, ms int64) {
	b.Data = binary.BigEndian.AppendUint64(append(b.Data, k[:]...), uint64(ms))
}

// each calls fn for every record of b.
func (b keptBatch) each(fn func(idKey, int64)) error {
	if len(b.Data)%keptRecord != 0 {
		return errors.New("dedupe: corrupt kept batch")
	}
	for d := b.Data; len(d) > 0; d = d[keptRecord:] {
		fn(idKey(d[:16]), int64(binary.BigEndian.Uint64(d[16:keptRecord])))
	}
	return nil
}

// bucketMemory is a worker's copy of one bucket's Kept bags: kept time (Unix ms) by ID key,
// per parity of the TTL generation. Its lock is held while a bundle uses it; the runner
// never processes one key in two bundles at once, so that lock is only contended by a
// bundle that the runner gave up on while it was still running.
type bucketMemory struct {
	mu    sync.Mutex
	valid bool  // gens are the bags as of token
	token int64 // the state token the bags had when gens were read or last changed
	gens  [2]map[idKey]int64
}

// memory is the bucket memories of one Stateful transform in this process.
type memory struct {
	mu      sync.Mutex
	users   int // DoFn instances set up and not torn down
	buckets map[int]*bucketMemory
}

// memories holds the memory of each Stateful transform, by its dedupeFn.MemoryID, while
// instances of it are set up.
var memories = struct {
	sync.Mutex
	m map[string]*memory
}{m: map[string]*memory{}}

// noMemory makes every firing read the bags again, as a worker that does not hold the
// bucket's token does: tests use it to check that the runner's state alone is enough.
var noMemory bool

func acquireMemory(id string) *memory {
	memories.Lock()
	defer memories.Unlock()
	m := memories.m[id]
	if m == nil {
		m = &memory{buckets: map[int]*bucketMemory{}}
		memories.m[id] = m
	}
	m.users++
	return m
}

func releaseMemory(id string) {
	memories.Lock()
	defer memories.Unlock()
	if m := memories.m[id]; m != nil {
		if m.users--; m.users <= 0 {
			delete(memories.m, id)
		}
	}
}

func (m *memory) bucket(k int) *bucketMemory {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.buckets[k]
	if b == nil {
		b = &bucketMemory{}
		m.buckets[k] = b
	}
	return b
}

// keptState is the durable part: the bags and the token of a bucket.
type keptState struct {
	sp    state.Provider
	bags  [2]*state.Bag[keptBatch]
	token *state.Value[int64]
}

// lock locks b and makes it valid: as the runner's state holds it (the bags read again unless
// b holds the state's token). Unless it returns an error, the caller unlocks b.mu.
func (b *bucketMemory) lock(ks keptState) error {
	b.mu.Lock()
	if err := b.load(ks); err != nil {
		b.mu.Unlock()
		return err
	}
	return nil
}

func (b *bucketMemory) load(ks keptState) error {
	token, _, err := ks.token.Read(ks.sp)
	if err != nil {
		return err
	}
	if b.valid && b.token == token && !noMemory {
		return nil
	}
	b.valid = false
	for parity, bag := range ks.bags {
		batches, _, err := bag.Read(ks.sp)
		if err != nil {
			return err
		}
		gen := map[idKey]int64{}
		for _, batch := range batches {
			if err := batch.each(func(k idKey, ms int64) { gen[k] = ms }); err != nil {
				return err
			}
		}
		b.gens[parity] = gen
	}
	b.token, b.valid = token, true
	return nil
}

// get returns the kept time of k, if b holds it.
func (b *bucketMemory) get(k idKey) (int64, bool) {
	for _, gen := range b.gens {
		if ms, ok := gen[k]; ok {
			return ms, true
		}
	}
	return 0, false
}

// change applies a change to b and to the runner's state: it appends added[parity] to the
// bag of that parity, after clearing it first if clear[parity], and writes a new token. b is
// invalid until every state request succeeded, so a failure leaves it to be read again.
func (b *bucketMemory) change(ks keptState, clear [2]bool, added [2]keptBatch) error {
	b.valid = false
	for parity := range ks.bags {
		if clear[parity] {
			if err := ks.bags[parity].Clear(ks.sp); err != nil {
				return err
			}
			b.gens[parity] = map[idKey]int64{}
		}
		if len(added[parity].Data) == 0 {
			continue
		}
		if err := ks.bags[parity].Add(ks.sp, added[parity]); err != nil {
			return err
		}
		if err := added[parity].each(func(k idKey, ms int64) { b.gens[parity][k] = ms }); err != nil {
			return err
		}
	}
	token := rand.Int64()
	if err := ks.token.Write(ks.sp, token); err != nil {
		return fmt.Errorf("dedupe: writing the kept token: %w", err)
	}
	b.token, b.valid = token, true
	return nil
}
