package lease

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestDue: leases are due once a third of the deadline has passed since the last extension,
// and dropped after MaxLease.
func TestDue(t *testing.T) {
	l := New("test", nil)
	now := time.Now()
	l.Hold("q", []string{"a", "b"}, 30*time.Second)
	if due := l.Due(now); len(due) != 0 {
		t.Errorf("due right after hold: %v", due)
	}
	l.queues["q"].since["b"] = now.Add(-MaxLease - time.Second)
	due := l.Due(now.Add(11 * time.Second))
	if d := cmp.Diff(map[string]Due{"q": {IDs: []string{"a"}, Deadline: 30 * time.Second}}, due); d != "" {
		t.Errorf("due (-want +got):\n%s", d)
	}
	if due := l.Due(now.Add(12 * time.Second)); len(due) != 0 {
		t.Errorf("due again right after an extension: %v", due)
	}
	if n := l.Held("q", []string{"a", "b", "c"}); n != 1 {
		t.Errorf("%d of a, b, c held, want 1", n)
	}
	l.Release("q", []string{"a"})
	if n := l.Held("q", nil); n != 0 {
		t.Errorf("%d leases held after release", n)
	}
}

// TestHoldAfterIdle: a lease taken when nothing was held is first due a third of the deadline
// later, not at once.
func TestHoldAfterIdle(t *testing.T) {
	l := New("test", nil)
	l.Hold("q", []string{"a"}, 30*time.Second)
	l.Release("q", []string{"a"})
	l.queues["q"].extended = time.Now().Add(-time.Hour)
	l.Hold("q", []string{"b"}, 30*time.Second)
	if due := l.Due(time.Now()); len(due) != 0 {
		t.Errorf("due right after hold: %v", due)
	}
}

// TestRefusedReleased: the IDs the queue refuses to extend are released.
func TestRefusedReleased(t *testing.T) {
	var got []string
	l := New("test", func(_ context.Context, _ string, ids []string, _ time.Duration) ([]string, error) {
		got = ids
		return []string{"a"}, nil
	})
	l.Hold("q", []string{"a"}, 3*time.Second)
	l.extendDue("q", Due{IDs: []string{"a"}, Deadline: 3 * time.Second})
	if len(got) != 1 || l.Held("q", nil) != 0 {
		t.Errorf("extended %v, %d held; want a extended, then released", got, l.Held("q", nil))
	}
}
