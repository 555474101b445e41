// Package bucket spreads keys (event IDs, users, row keys) over a fixed number of buckets, the
// keys of the shared transforms' stateful and grouping steps: Prism's cost is per element and
// per key with state, so events travel in one batch per bucket and bundle instead of one
// element per event. The hash is FNV-1a, stable across processes and runs.
package bucket

import "hash/fnv"

// Of returns the bucket, of n, of key.
func Of(key string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

// Batches collects the elements of a bundle into one batch per key, for the DoFns that emit a
// batch per key and bundle instead of an element per event.
type Batches[K comparable, B any] map[K]*B

// Get returns the batch of k, created empty on first use.
func (bs Batches[K, B]) Get(k K) *B {
	b, ok := bs[k]
	if !ok {
		b = new(B)
		bs[k] = b
	}
	return b
}

// Flush calls each with every batch, then empties bs.
func (bs Batches[K, B]) Flush(each func(K, B)) {
	for k, b := range bs {
		each(k, *b)
		delete(bs, k)
	}
}

// Take returns the batch of k and forgets it (the next Get starts an empty one).
func (bs Batches[K, B]) Take(k K) B {
	b := bs[k]
	delete(bs, k)
	if b == nil {
		var zero B
		return zero
	}
	return *b
}
