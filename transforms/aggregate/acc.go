package aggregate

import (
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"sort"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/beamline/beamline/internal/varcode"
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
		b = varcode.AppendString(b, u)
	}
	return b
}

var errAcc = errors.New("aggregate: bad accumulator encoding")

func decodeAcc(b []byte) (Acc, error) {
	d := varcode.NewDecoder(b)
	a := Acc{Counts: make([]int64, d.Count())}
	for i := range a.Counts {
		a.Counts[i] = d.Varint()
	}
	if n := d.Count(); n > 0 {
		a.Users = make([]string, n)
	}
	for i := range a.Users {
		a.Users[i] = d.Str()
	}
	if d.Err() != nil {
		return Acc{}, errAcc
	}
	if !sort.StringsAreSorted(a.Users) {
		return Acc{}, fmt.Errorf("aggregate: accumulator users not sorted")
	}
	return a, nil
}
