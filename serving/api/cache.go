package api

import (
	"sync"
	"time"
)

// cache holds encoded responses keyed by request and store state. It keeps two generations of
// at most max/2 entries each: when the current one is full it becomes the previous one and the
// old previous one is dropped, which approximates LRU at the cost of one map swap. Entries expire
// after ttl, since speed rows may change before the speed watermark moves.
type cache struct {
	mu        sync.Mutex
	max       int
	ttl       time.Duration
	cur, prev map[string]cacheEntry
}

type cacheEntry struct {
	body    []byte
	created time.Time
}

// newCache returns a cache of at most max entries, or nil (a cache that holds nothing) when max
// or ttl is not positive.
func newCache(max int, ttl time.Duration) *cache {
	if max <= 0 || ttl <= 0 {
		return nil
	}
	return &cache{max: max, ttl: ttl, cur: map[string]cacheEntry{}, prev: map[string]cacheEntry{}}
}

// get returns the body cached under key if it is younger than the ttl at now.
func (c *cache) get(key string, now time.Time) ([]byte, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.cur[key]
	if !ok {
		if e, ok = c.prev[key]; ok {
			c.putLocked(key, e)
		}
	}
	if !ok || now.Sub(e.created) >= c.ttl {
		return nil, false
	}
	return e.body, true
}

// put caches body under key, created at now.
func (c *cache) put(key string, body []byte, now time.Time) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putLocked(key, cacheEntry{body, now})
}

func (c *cache) putLocked(key string, e cacheEntry) {
	if len(c.cur) >= (c.max+1)/2 {
		c.prev, c.cur = c.cur, make(map[string]cacheEntry, len(c.cur))
	}
	c.cur[key] = e
}
