package dedupe

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
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

// idKey is how an event ID is held: the first 8 bytes of its SHA-256. Two distinct IDs held at
// once share one with a probability of about n^2/2^65 for n IDs held (n is bounded by the
// budget, Options.MaxIDs: about 7e-6 at the default), which would count one event as a
// duplicate; a collision-resistant hash keeps crafted IDs from colliding on purpose. It also
// keeps the memory free of pointers, which the garbage collector then does not scan.
type idKey uint64

func keyOf(id string) idKey {
	sum := sha256.Sum256([]byte(id))
	return idKey(binary.BigEndian.Uint64(sum[:8]))
}

// keptBatch is what one firing appends to a Kept bag: a sequence of (idKey, kept time in Unix
// ms), both big-endian, 16 bytes per ID.
type keptBatch struct {
	Data []byte
}

const keptRecord = 16

func (b *keptBatch) add(k idKey, ms int64) {
	b.Data = binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(b.Data, uint64(k)), uint64(ms))
}

// each calls fn for every record of b.
func (b keptBatch) each(fn func(idKey, int64)) error {
	if len(b.Data)%keptRecord != 0 {
		return errors.New("dedupe: corrupt kept batch")
	}
	for d := b.Data; len(d) > 0; d = d[keptRecord:] {
		fn(idKey(binary.BigEndian.Uint64(d[:8])), int64(binary.BigEndian.Uint64(d[8:keptRecord])))
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
	// evicted remembers, approximately, the IDs evicted over the budget (see evict).
	evicted evictedFilter
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

// size returns how many IDs b holds.
func (b *bucketMemory) size() int { return len(b.gens[0]) + len(b.gens[1]) }

// evict keeps the keep most recently kept IDs of b (by kept time) and forgets the others, in b
// and in the runner's state (each bag rewritten as one batch, and a new token). It returns how
// many it forgot; they go to b's evicted filter. Like change, it leaves b invalid on failure.
func (b *bucketMemory) evict(ks keptState, keep int) (int, error) {
	n := b.size()
	if n <= keep {
		return 0, nil
	}
	times := make([]int64, 0, n)
	for _, gen := range b.gens {
		for _, ms := range gen {
			times = append(times, ms)
		}
	}
	slices.Sort(times)
	cut := times[n-keep] // IDs kept before cut go; ties at cut stay (keeping slightly more)
	b.valid = false
	evicted := 0
	var kept [2]keptBatch
	for parity, gen := range b.gens {
		for k, ms := range gen {
			if ms < cut {
				delete(gen, k)
				b.evicted.add(k)
				evicted++
				continue
			}
			kept[parity].add(k, ms)
		}
		if err := ks.bags[parity].Clear(ks.sp); err != nil {
			return 0, err
		}
		if len(kept[parity].Data) > 0 {
			if err := ks.bags[parity].Add(ks.sp, kept[parity]); err != nil {
				return 0, err
			}
		}
	}
	token := rand.Int64()
	if err := ks.token.Write(ks.sp, token); err != nil {
		return 0, fmt.Errorf("dedupe: writing the kept token: %w", err)
	}
	b.token, b.valid = token, true
	return evicted, nil
}

// evictedFilter is a Bloom filter of the IDs a bucket evicted, in the worker's memory only: it
// serves the duplicates_expired counter (copies of evicted IDs that passed as new events), an
// estimate with about 1% false positives, and no decision. It holds up to evictedCapacity IDs
// and then starts again empty, so its memory is fixed (evictedBits / 8 bytes per bucket once
// used) and it forgets the oldest evictions first.
type evictedFilter struct {
	bits  []uint64
	added int
}

const (
	evictedCapacity = 1 << 18
	evictedBits     = evictedCapacity * 10 // ~1% false positives at capacity, with 7 probes
	evictedProbes   = 7
)

func (f *evictedFilter) add(k idKey) {
	if f.bits == nil || f.added >= evictedCapacity {
		f.bits, f.added = make([]uint64, evictedBits/64), 0
	}
	f.added++
	for i := range evictedProbes {
		bit := f.probe(k, i)
		f.bits[bit/64] |= 1 << (bit % 64)
	}
}

// has says whether k may have been evicted (false: it was not, since the filter's last reset).
func (f *evictedFilter) has(k idKey) bool {
	if f.bits == nil {
		return false
	}
	for i := range evictedProbes {
		bit := f.probe(k, i)
		if f.bits[bit/64]&(1<<(bit%64)) == 0 {
			return false
		}
	}
	return true
}

// probe returns the i-th bit of k (double hashing over the two halves of the key, which is
// already a cryptographic hash).
func (f *evictedFilter) probe(k idKey, i int) uint64 {
	h1, h2 := uint64(k)&0xffffffff, uint64(k)>>32|1
	return (h1 + uint64(i)*h2) % evictedBits
}
