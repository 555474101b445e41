package aggregate

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"sort"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
)

// Acc is the accumulator of one view row: additive metrics summed in Counts (indexed like the
// view's metrics) and, for a view with a distinct metric, the distinct users seen (sorted).
type Acc struct {
	Counts []int64
	Users  []string
}

func init() {
	beam.RegisterCoder(reflect.TypeOf((*Acc)(nil)).Elem(), encodeAcc, decodeAcc)
}

// merge adds b into a and returns a. Both must come from the same view.
func merge(a, b Acc) Acc {
	if len(a.Counts) < len(b.Counts) {
		a.Counts = append(a.Counts, make([]int64, len(b.Counts)-len(a.Counts))...)
	}
	for i, v := range b.Counts {
		a.Counts[i] += v
	}
	a.Users = union(a.Users, b.Users)
	return a
}

// union merges two sorted, distinct slices into one.
func union(a, b []string) []string {
	switch {
	case len(b) == 0:
		return a
	case len(a) == 0:
		return b
	}
	out := make([]string, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] < b[j]:
			out = append(out, a[i])
			i++
		case a[i] > b[j]:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i, j = i+1, j+1
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

func encodeAcc(a Acc) []byte {
	b := binary.AppendUvarint(nil, uint64(len(a.Counts)))
	for _, c := range a.Counts {
		b = binary.AppendVarint(b, c)
	}
	b = binary.AppendUvarint(b, uint64(len(a.Users)))
	for _, u := range a.Users {
		b = append(binary.AppendUvarint(b, uint64(len(u))), u...)
	}
	return b
}

func decodeAcc(b []byte) (Acc, error) {
	var a Acc
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return a, fmt.Errorf("aggregate: bad accumulator encoding")
	}
	b = b[k:]
	a.Counts = make([]int64, n)
	for i := range a.Counts {
		v, k := binary.Varint(b)
		if k <= 0 {
			return a, fmt.Errorf("aggregate: bad accumulator encoding")
		}
		a.Counts[i], b = v, b[k:]
	}
	n, k = binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return a, fmt.Errorf("aggregate: bad accumulator encoding")
	}
	b = b[k:]
	if n > 0 {
		a.Users = make([]string, n)
	}
	for i := range a.Users {
		l, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < l {
			return a, fmt.Errorf("aggregate: bad accumulator encoding")
		}
		a.Users[i], b = string(b[k:k+int(l)]), b[k+int(l):]
	}
	if !sort.StringsAreSorted(a.Users) {
		return a, fmt.Errorf("aggregate: accumulator users not sorted")
	}
	return a, nil
}
