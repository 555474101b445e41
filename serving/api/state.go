package api

import (
	"context"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/beamline/beamline/io/store"
)

// state is what the server knows about the store between queries: the publications (and so the
// batch cutoff) and the speed watermark. Responses are computed against one state.
type state struct {
	pubs      []store.Publication
	cutoff    time.Time // zero when nothing is published
	published bool
	// pubsHash identifies pubs: any Publish changes it (a new run or a new published-at time).
	pubsHash  uint64
	watermark time.Time // zero when the speed layer recorded none
	loaded    time.Time
}

var hashSeed = maphash.MakeSeed()

func newState(pubs []store.Publication, watermark, now time.Time) *state {
	st := &state{pubs: pubs, watermark: watermark, loaded: now, pubsHash: hashPubs(pubs)}
	st.cutoff, st.published = Cutoff(pubs)
	return st
}

func hashPubs(pubs []store.Publication) uint64 {
	var h maphash.Hash
	h.SetSeed(hashSeed)
	for _, p := range pubs {
		maphash.WriteComparable(&h, p.Day.UnixNano())
		h.WriteString(p.Run)
		h.WriteByte(0)
		maphash.WriteComparable(&h, p.PublishedAt.UnixNano())
	}
	return h.Sum64()
}

// stateCache holds the latest state and reloads it from the store when it is older than the
// refresh interval. While one request reloads, the others go on with the previous state.
type stateCache struct {
	srv     *Server
	every   time.Duration
	cur     atomic.Pointer[state]
	loading sync.Mutex
}

// get returns a state no older than the refresh interval, except while another request is
// reloading it, when it returns the previous one.
func (c *stateCache) get(ctx context.Context) (*state, error) {
	now := c.srv.now()
	if st := c.cur.Load(); st != nil && c.every > 0 && now.Sub(st.loaded) < c.every {
		return st, nil
	}
	if st := c.cur.Load(); st != nil && c.every > 0 {
		if !c.loading.TryLock() {
			return st, nil
		}
		defer c.loading.Unlock()
	}
	return c.reload(ctx)
}

// reload reads the publications and the speed watermark and makes them the current state.
func (c *stateCache) reload(ctx context.Context) (*state, error) {
	pubs, err := c.srv.publications(ctx)
	if err != nil {
		return nil, err
	}
	wm, err := c.srv.watermark(ctx)
	if err != nil {
		return nil, err
	}
	st := newState(pubs, wm, c.srv.now())
	c.store(st)
	return st, nil
}

// store makes st current unless a newer state is already current.
func (c *stateCache) store(st *state) {
	for {
		old := c.cur.Load()
		if old != nil && old.loaded.After(st.loaded) {
			return
		}
		if c.cur.CompareAndSwap(old, st) {
			c.srv.metrics.observeState(st)
			return
		}
	}
}
