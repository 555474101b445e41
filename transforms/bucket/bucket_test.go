package bucket

import (
	"fmt"
	"maps"
	"testing"
)

// TestOf: buckets are in range, stable, and spread keys about evenly.
func TestOf(t *testing.T) {
	const n, keys = 64, 64000
	count := make([]int, n)
	for i := range keys {
		b := Of(fmt.Sprintf("e-%d", i), n)
		if b < 0 || b >= n {
			t.Fatalf("Of = %d, out of [0, %d)", b, n)
		}
		count[b]++
	}
	for b, c := range count {
		if c < keys/n/2 || c > keys/n*2 {
			t.Errorf("bucket %d holds %d of %d keys: not spread", b, c, keys)
		}
	}
	// FNV-1a of "u-1" is 0xff341102: the bucket must not depend on the process or the run.
	if got := Of("u-1", 1<<16); got != 0x1102 || Of("a", 1) != 0 {
		t.Errorf("Of(u-1, 65536) = %#x, want 0x1102: the hash changed", got)
	}
}

// TestBatches: Get creates a key's batch once and returns the same one after.
func TestBatches(t *testing.T) {
	bs := Batches[int, []string]{}
	*bs.Get(1) = append(*bs.Get(1), "a")
	*bs.Get(1) = append(*bs.Get(1), "b")
	*bs.Get(2) = append(*bs.Get(2), "c")
	if len(bs) != 2 || len(*bs[1]) != 2 || (*bs[2])[0] != "c" {
		t.Errorf("batches %v", bs)
	}
}

func TestBatchesTakeAndFlush(t *testing.T) {
	bs := Batches[int, []string]{}
	*bs.Get(1) = append(*bs.Get(1), "a")
	*bs.Get(2) = append(*bs.Get(2), "b", "c")
	if got := bs.Take(1); len(got) != 1 || got[0] != "a" {
		t.Errorf("Take(1) = %v, want [a]", got)
	}
	if got := bs.Take(7); got != nil {
		t.Errorf("Take of a missing key = %v, want the zero batch", got)
	}
	if len(*bs.Get(1)) != 0 {
		t.Error("Get after Take did not start an empty batch")
	}
	got := map[int]int{}
	bs.Flush(func(k int, b []string) { got[k] = len(b) })
	if want := map[int]int{1: 0, 2: 2}; !maps.Equal(got, want) {
		t.Errorf("Flush gave %v, want %v", got, want)
	}
	if len(bs) != 0 {
		t.Errorf("%d batches left after Flush", len(bs))
	}
}
