package api

import (
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/io/views"
)

// TestAppendJSONMatchesEncodingJSON checks that the rows answer writes the bytes encoding/json
// writes for it, for random answers with awkward strings.
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	strs := []string{"", "a", "https://shop.example/p/1?x=1&y=<2>", "quote\"back\\slash", "tab\tnl\n\x01\x7f",
		"é ü 日本", "\u2028\u2029", "bad\xffutf8", "\U0001F600"}
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func() string { return strs[rng.IntN(len(strs))] }
	metrics := func() map[string]int64 {
		if rng.IntN(5) == 0 {
			return nil
		}
		m := map[string]int64{}
		for range rng.IntN(4) {
			m[pick()] = rng.Int64N(1<<40) - 1<<39
		}
		return m
	}
	for i := range 500 {
		r := rowsResponse{View: pick(), Key: pick(), From: pick(), To: pick(), Granularity: pick(), Totals: metrics(), Note: pick()}
		if rng.IntN(2) == 0 {
			r.BatchCutoff = ptr(pick())
		}
		if rng.IntN(3) > 0 {
			r.Layers = []layerSpan{}
			for range rng.IntN(3) {
				r.Layers = append(r.Layers, layerSpan{views.Layer(pick()), pick(), pick()})
			}
		}
		if rng.IntN(3) > 0 {
			r.Rows = []rowJSON{}
			for range rng.IntN(4) {
				r.Rows = append(r.Rows, rowJSON{pick(), pick(), views.Layer(pick()), metrics()})
			}
		}
		for range rng.IntN(3) {
			r.OmittedMetrics = append(r.OmittedMetrics, pick())
		}
		want, err := marshalJSON(r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(want), string(got)); diff != "" {
			t.Fatalf("case %d (-encoding/json +appendJSON):\n%s", i, diff)
		}
	}
}
