package restriction

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestCoderRoundTrip(t *testing.T) {
	for _, r := range []Restriction{{}, {Start: 5, End: Unbounded}, {Start: -1, End: 3, AckIDs: []string{"a", "", "ccc"}}} {
		got, err := decode(encode(r))
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(r, got); d != "" {
			t.Errorf("round trip (-want +got):\n%s", d)
		}
	}
	if _, err := decode([]byte{0x02, 0x04, 0x05}); err == nil {
		t.Error("decode of a truncated restriction: no error")
	}
}

func TestTrackerCheckpointsOnly(t *testing.T) {
	tr := NewTracker(Restriction{Start: 10, End: Unbounded})
	for pos := int64(10); pos < 13; pos++ {
		if !tr.TryClaim(pos) {
			t.Fatalf("claim %d refused", pos)
		}
	}
	if _, res, _ := tr.TrySplit(0.5); res != nil {
		t.Errorf("a runner split was accepted: residual %v", res)
	}
	tr.Carry([]string{"x", "y"})
	prim, res, err := tr.TrySplit(0)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(Restriction{Start: 10, End: 13}, prim); d != "" {
		t.Errorf("primary (-want +got):\n%s", d)
	}
	if d := cmp.Diff(Restriction{Start: 13, End: Unbounded, AckIDs: []string{"x", "y"}}, res); d != "" {
		t.Errorf("residual (-want +got):\n%s", d)
	}
	if !tr.IsDone() {
		t.Error("not done after a checkpoint")
	}
	if tr.TryClaim(int64(13)) {
		t.Error("claim after a checkpoint succeeded")
	}
}

func TestTrackerEnds(t *testing.T) {
	tr := NewTracker(Restriction{Start: 0, End: 2})
	if !tr.TryClaim(int64(0)) || !tr.TryClaim(int64(1)) || tr.TryClaim(int64(2)) {
		t.Fatal("claims of [0, 2) and its end")
	}
	if !tr.IsDone() || tr.GetError() != nil {
		t.Errorf("done %v, error %v; want done without error", tr.IsDone(), tr.GetError())
	}
	if _, res, _ := tr.TrySplit(0); res != nil {
		t.Errorf("checkpoint of a finished restriction has residual %v", res)
	}
	bad := NewTracker(Restriction{Start: 0, End: 5})
	bad.TryClaim(int64(3))
	if bad.TryClaim(int64(2)) || bad.GetError() == nil {
		t.Error("a claim below the last one was accepted")
	}
}

// FuzzCoder: no input makes the restriction decoder panic, and what it decodes round-trips.
func FuzzCoder(f *testing.F) {
	f.Add(encode(Restriction{Start: 3, End: Unbounded, AckIDs: []string{"a", "b"}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := decode(b); err == nil {
			if back, err := decode(encode(r)); err != nil || !cmp.Equal(r, back, cmpopts.EquateEmpty()) {
				t.Errorf("restriction %+v came back as %+v (%v)", r, back, err)
			}
		}
	})
}
