// Package beamtest checks the contents of a PCollection against expected values in tests and
// reports differences as a go-cmp diff of the elements' JSON forms.
package beamtest

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/google/go-cmp/cmp"
)

func init() {
	beam.RegisterFunction(toJSON)
	beam.RegisterFunction(marker)
	beam.RegisterDoFn(&diffFn{})
}

func toJSON(x beam.T) (int, string, error) {
	b, err := json.Marshal(x)
	return 0, string(b), err
}

// Equal fails the pipeline (with a go-cmp diff in the error) unless col holds exactly want,
// in any order and any windows. want is a slice of the element type.
func Equal(s beam.Scope, col beam.PCollection, want any) {
	s = s.Scope("beamtest.Equal")
	b, err := json.Marshal(want)
	if err != nil {
		panic(fmt.Sprintf("beamtest.Equal: %v", err))
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(b, &elems); err != nil {
		panic(fmt.Sprintf("beamtest.Equal: want must be a slice: %v", err))
	}
	wantJSON := make([]string, len(elems))
	for i, e := range elems {
		wantJSON[i] = string(e)
	}
	global := beam.WindowInto(s, window.NewGlobalWindows(), col)
	keyed := beam.ParDo(s, toJSON, global)
	// An impulse-keyed element makes the check run even when col is empty.
	empty := beam.ParDo(s, marker, beam.Impulse(s))
	beam.ParDo0(s, &diffFn{Want: wantJSON}, beam.GroupByKey(s, beam.Flatten(s, keyed, empty)))
}

// marker is the empty element that makes the group exist when col is empty.
func marker(_ []byte) (int, string) { return 0, "" }

type diffFn struct {
	Want []string
}

func (f *diffFn) ProcessElement(_ context.Context, _ int, got func(*string) bool) error {
	var all []string
	var g string
	for got(&g) {
		if g != "" {
			all = append(all, g)
		}
	}
	want := append([]string(nil), f.Want...)
	sort.Strings(all)
	sort.Strings(want)
	if d := cmp.Diff(strings.Join(want, "\n"), strings.Join(all, "\n")); d != "" {
		return fmt.Errorf("PCollection differs (-want +got):\n%s", d)
	}
	return nil
}
