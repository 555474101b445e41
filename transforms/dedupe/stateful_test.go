package dedupe

import (
	"fmt"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/teststream"
	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/io/event"
	"github.com/beamline/beamline/transforms/bucket"
	"github.com/beamline/beamline/transforms/internal/beamtest"
)

// withAndWithoutMemory runs test twice: as a job runs (the worker's memory of the kept IDs
// answers lookups while it holds the state's token), and with every firing reading the kept
// IDs back from the runner's state, as a worker that just took over a bucket does.
func withAndWithoutMemory(t *testing.T, test func(*testing.T)) {
	t.Run("memory", test)
	t.Run("state_only", func(t *testing.T) {
		noMemory = true
		defer func() { noMemory = false }()
		test(t)
	})
}

// TestStatefulAcrossWatermarks runs Stateful on a teststream: a copy that arrives after the
// watermark has passed (and the kept copy was emitted) is a duplicate; a late event (behind the
// watermark) still passes once; a copy after the TTL passes again, as documented.
func TestStatefulAcrossWatermarks(t *testing.T) {
	withAndWithoutMemory(t, testStatefulAcrossWatermarks)
}

func testStatefulAcrossWatermarks(t *testing.T) {
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	ev := func(id string, at time.Duration, raw string) event.Event {
		return event.Event{ID: id, UserID: "u", Time: t0.Add(at), Raw: []byte(raw)}
	}
	const ttl = time.Hour
	cfg := teststream.NewConfig()
	add := func(e ...event.Event) {
		if err := cfg.AddElementList(e[0].Time.UnixMilli(), e); err != nil {
			t.Fatal(err)
		}
	}
	advance := func(d time.Duration) {
		if err := cfg.AdvanceWatermark(t0.Add(d).UnixMilli()); err != nil {
			t.Fatal(err)
		}
	}
	add(ev("a", 0, "a1"), ev("b", time.Second, "b"))
	advance(time.Minute)                 // a and b are emitted
	add(ev("a", 0, "a1"))                // a copy after a was emitted: duplicate
	add(ev("late", 10*time.Second, "l")) // behind the watermark: kept, once
	add(ev("late", 10*time.Second, "l"))
	advance(2 * time.Hour) // a's TTL has expired
	add(ev("a", 0, "a1"))  // remembered no more: passes again
	checkStateful(t, cfg, ttl, []event.Event{ev("a", 0, "a1"), ev("b", time.Second, "b"), ev("late", 10*time.Second, "l"), ev("a", 0, "a1")}, 2)
}

// checkStateful runs Stateful with ttl on cfg, once its watermark is moved to infinity, and
// checks that it emits want and counts them as processed and dups as duplicates.
func checkStateful(t *testing.T, cfg teststream.Config, ttl time.Duration, want []event.Event, dups int) {
	t.Helper()
	if err := cfg.AdvanceWatermarkToInfinity(); err != nil {
		t.Fatal(err)
	}
	p, s := beam.NewPipelineWithRoot()
	beamtest.Equal(s, Stateful(s, Options{TTL: ttl}, teststream.Create(s, cfg)), want)
	res, err := ptest.RunWithMetrics(p)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string]int64{"processed": int64(len(want)), "duplicates": int64(dups)}, beamtest.Counters(res, "beamline")); d != "" {
		t.Errorf("counters (-want +got):\n%s", d)
	}
}

// TestStatefulManyIDs runs Stateful over 300 IDs spread over every bucket, in three rounds
// with the watermark moving between them: round one has each ID's first copy (and, for every
// third ID, an earlier copy with a larger raw record), round two a later copy of each ID after
// the watermark has passed the first, round three a copy of every fifth ID at the same time as
// the kept one. It checks the output against the choice made here in plain Go: the earliest
// copy of round one wins, everything else is a duplicate.
func TestStatefulManyIDs(t *testing.T) { withAndWithoutMemory(t, testStatefulManyIDs) }

func testStatefulManyIDs(t *testing.T) {
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	const n = 300
	cfg := teststream.NewConfig()
	var want []event.Event
	var round1, round2, round3 []event.Event
	dups := 0
	for i := range n {
		id := fmt.Sprintf("id-%03d", i)
		at := t0.Add(time.Duration(i) * 100 * time.Millisecond)
		first := event.Event{ID: id, UserID: "u", Time: at, Raw: []byte("a" + id)}
		kept := first
		round1 = append(round1, first)
		if i%3 == 0 {
			earlier := event.Event{ID: id, UserID: "u", Time: at.Add(-time.Second), Raw: []byte("z" + id)}
			round1 = append(round1, earlier)
			kept = earlier
			dups++
		}
		want = append(want, kept)
		round2 = append(round2, event.Event{ID: id, UserID: "u", Time: at.Add(2 * time.Minute), Raw: []byte("b" + id)})
		dups++
		if i%5 == 0 {
			round3 = append(round3, kept)
			dups++
		}
	}
	for r, round := range [][]event.Event{round1, round2, round3} {
		if err := cfg.AddElementList(t0.UnixMilli(), round); err != nil {
			t.Fatal(err)
		}
		// Past every copy of the round: 30 s after t0, then 3 and 4 minutes.
		if err := cfg.AdvanceWatermark(t0.Add([]time.Duration{30 * time.Second, 3 * time.Minute, 4 * time.Minute}[r]).UnixMilli()); err != nil {
			t.Fatal(err)
		}
	}
	checkStateful(t, cfg, time.Hour, want, dups)
}

// TestStatefulBehindWatermark runs Stateful with copies that arrive behind the watermark,
// after their buckets fired, next to later copies of the same IDs still pending: the earliest
// copy wins whichever path it takes (decided at once or at the emit timer), ties go to the
// smaller raw record, and a copy of an ID kept before is a duplicate. The expected output is
// worked out here in plain Go.
func TestStatefulBehindWatermark(t *testing.T) { withAndWithoutMemory(t, testStatefulBehindWatermark) }

func testStatefulBehindWatermark(t *testing.T) {
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	cfg := teststream.NewConfig()
	addAll := func(events []event.Event) {
		if err := cfg.AddElementList(events[0].Time.UnixMilli(), events); err != nil {
			t.Fatal(err)
		}
	}
	var round1, pending, behind, want []event.Event
	dups := 0
	for i := range 300 { // spread over every bucket, so that they all fire
		e := event.Event{ID: fmt.Sprintf("id-%03d", i), UserID: "u", Time: t0.Add(time.Duration(i) * 100 * time.Millisecond), Raw: []byte("a")}
		round1 = append(round1, e)
		want = append(want, e)
	}
	addAll(round1)
	if err := cfg.AdvanceWatermark(t0.Add(40 * time.Second).UnixMilli()); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		id := fmt.Sprintf("new-%03d", i)
		pending = append(pending, event.Event{ID: id, UserID: "u", Time: t0.Add(50 * time.Second), Raw: []byte("p")})
		late := event.Event{ID: id, UserID: "u", Time: t0.Add(5 * time.Second), Raw: []byte("l")}
		behind = append(behind, late)
		dups++ // the pending copy
		if i%2 == 0 {
			tie := late
			tie.Raw = []byte("k") // smaller: wins the tie
			behind = append(behind, tie)
			late = tie
			dups++
		}
		want = append(want, late)
		if i%3 == 0 {
			behind = append(behind, round1[i]) // kept before
			dups++
		}
	}
	addAll(pending)
	if err := cfg.AdvanceWatermark(t0.Add(45 * time.Second).UnixMilli()); err != nil { // the pending copies stay pending
		t.Fatal(err)
	}
	addAll(behind)
	checkStateful(t, cfg, time.Hour, want, dups)
}

// TestStatefulBudget runs Stateful with a state budget of 512 IDs (8 per bucket) over 2,000
// IDs, then a later copy of each: the oldest IDs are forgotten, so their copies pass again as
// new events, each counted as duplicates_expired; the newest IDs of each bucket are still
// remembered, so their copies are duplicates; nothing is lost from the conservation line.
func TestStatefulBudget(t *testing.T) { withAndWithoutMemory(t, testStatefulBudget) }

func testStatefulBudget(t *testing.T) {
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	const n, budget = 2000, 512
	cfg := teststream.NewConfig()
	var first, again []event.Event
	for i := range n {
		id := fmt.Sprintf("id-%04d", i)
		first = append(first, event.Event{ID: id, UserID: "u", Time: t0.Add(time.Duration(i) * 100 * time.Millisecond), Raw: []byte("a")})
		again = append(again, event.Event{ID: id, UserID: "u", Time: t0.Add(10 * time.Minute), Raw: []byte("b")})
	}
	for i := 0; i < n; i += 200 { // ten steps, the watermark past each
		if err := cfg.AddElementList(first[i].Time.UnixMilli(), first[i:i+200]); err != nil {
			t.Fatal(err)
		}
		if err := cfg.AdvanceWatermark(first[i+199].Time.Add(2 * time.Second).UnixMilli()); err != nil {
			t.Fatal(err)
		}
	}
	if err := cfg.AddElementList(again[0].Time.UnixMilli(), again); err != nil {
		t.Fatal(err)
	}
	if err := cfg.AdvanceWatermarkToInfinity(); err != nil {
		t.Fatal(err)
	}
	p, s := beam.NewPipelineWithRoot()
	Stateful(s, Options{TTL: time.Hour, MaxIDs: budget}, teststream.Create(s, cfg))
	res, err := ptest.RunWithMetrics(p)
	if err != nil {
		t.Fatal(err)
	}
	got := beamtest.Counters(res, "beamline")
	t.Logf("counters: %v", got)
	// The newest 7 IDs of each bucket (the budget's 8 less an eighth) are surely remembered.
	perBucket := map[int]int{}
	surely := 0
	for i := n - 1; i >= 0; i-- {
		if b := bucket.Of(first[i].ID, statefulBuckets); perBucket[b] < 7 {
			perBucket[b]++
			surely++
		}
	}
	passedAgain := got["processed"] - n
	switch {
	case got["processed"]+got["duplicates"] != 2*n:
		t.Errorf("processed + duplicates = %d, want %d", got["processed"]+got["duplicates"], 2*n)
	case got["duplicates"] < int64(surely) || got["duplicates"] > budget:
		t.Errorf("%d copies were duplicates, want between %d (the newest IDs) and %d (the budget)", got["duplicates"], surely, budget)
	case got["dedupe_evicted"] < n-budget:
		t.Errorf("%d IDs evicted, want at least %d", got["dedupe_evicted"], n-budget)
	case got["duplicates_expired"] != passedAgain:
		t.Errorf("duplicates_expired = %d, want the %d copies of evicted IDs that passed again", got["duplicates_expired"], passedAgain)
	}
}
