package livemetrics

import (
	"encoding/binary"
	"testing"

	pipepb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/pipeline_v1"
	"github.com/google/go-cmp/cmp"
)

// TestCounters sums the beamline counters over transforms and skips other namespaces and kinds.
func TestCounters(t *testing.T) {
	info := func(urn, ns, name string, v uint64) *pipepb.MonitoringInfo {
		return &pipepb.MonitoringInfo{Urn: urn, Payload: binary.AppendUvarint(nil, v),
			Labels: map[string]string{"NAMESPACE": ns, "NAME": name, "PTRANSFORM": "t"}}
	}
	got, err := Counters([]*pipepb.MonitoringInfo{
		info(sumInt64, Namespace, "read", 300), info(sumInt64, Namespace, "read", 200),
		info(sumInt64, Namespace, "deadlettered_too_large", 1<<40),
		info(sumInt64, "other", "read", 7), info("beam:metric:element_count:v1", Namespace, "read", 9),
	})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string]int64{"read": 500, "deadlettered_too_large": 1 << 40}, got); d != "" {
		t.Errorf("Counters (-want +got):\n%s", d)
	}
	if _, err := Counters([]*pipepb.MonitoringInfo{{Urn: sumInt64, Labels: map[string]string{"NAMESPACE": Namespace, "NAME": "x"}}}); err == nil {
		t.Error("Counters of an empty payload: nil error, want one")
	}
}

// TestAcksPending derives the records waiting for their acknowledgement, only for jobs whose
// source acknowledges.
func TestAcksPending(t *testing.T) {
	g := derived[0]
	if v, ok := g.Value(t.Context(), map[string]int64{"read": 10, "acked": 7}); !ok || v != 3 {
		t.Errorf("%s = %v, %v; want 3", g.Name, v, ok)
	}
	if v, ok := g.Value(t.Context(), map[string]int64{"read": 10}); ok {
		t.Errorf("%s without acknowledgements = %v, want none", g.Name, v)
	}
}
