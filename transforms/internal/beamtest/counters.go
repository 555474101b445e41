package beamtest

import "github.com/apache/beam/sdks/v2/go/pkg/beam"

// Counters sums the committed counters of namespace ns in res by name.
func Counters(res beam.PipelineResult, ns string) map[string]int64 {
	out := map[string]int64{}
	for _, c := range res.Metrics().AllMetrics().Counters() {
		if c.Namespace() == ns {
			out[c.Name()] += c.Result()
		}
	}
	return out
}
