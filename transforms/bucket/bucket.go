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
