package main

import (
	"bytes"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/io/views/reference"
)

// TestKilledAndConcurrentBackfills injects the batch job's faults while a reader keeps
// querying the published views: backfills killed with SIGKILL at several points of their run
// (reading, writing, publishing), then two backfills of the same days at once. Whatever
// happens, every answer the reader gets is the published run's, complete (never empty, partial
// or a mix of runs), the publications never go to an older run, and the views end equal to the
// independent reference.
func TestKilledAndConcurrentBackfills(t *testing.T) {
	cfg := sampleConfig(t)
	want := expected(t, cfg)
	bin := batchBinary(t)
	args := jobFlags(cfg)

	start := time.Now()
	runBatch(t, 5*time.Minute, nil, args...)
	full := time.Since(start)
	answer := sortRows(published(t, cfg))
	if d := cmp.Diff(sortRows(want.Rows), answer); d != "" {
		t.Fatalf("the first backfill differs from the reference (-want +got):\n%s", d)
	}

	// The reader: every answer must be the published one.
	var (
		mu       sync.Mutex
		answers  int
		changed  int
		stopRead = make(chan struct{})
		readDone = make(chan struct{})
	)
	go func() {
		defer close(readDone)
		for {
			select {
			case <-stopRead:
				return
			default:
			}
			got := sortRows(published(t, cfg))
			mu.Lock()
			answers++
			if !cmp.Equal(answer, got) {
				changed++
				t.Logf("an answer differed from the published run's: %d rows for %d", len(got), len(answer))
			}
			mu.Unlock()
		}
	}()

	faults := 0
	for _, frac := range []float64{0.1, 0.3, 0.5, 0.7, 0.9, 0.97} {
		cmd := exec.Command(bin, args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(frac * float64(full)))
		cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		if err == nil { // it finished first: a complete re-run, which is fine
			t.Logf("the backfill killed at %.0f%% of a run had finished", frac*100)
			continue
		}
		faults++
	}

	// Two backfills of the same days at once.
	var wg sync.WaitGroup
	outs := make([]string, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(bin, args...)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			errs[i] = cmd.Run()
			outs[i] = out.String()
		}()
		time.Sleep(100 * time.Millisecond)
	}
	wg.Wait()
	faults++
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case !strings.Contains(outs[i], "started after this one has published them"):
			t.Errorf("concurrent backfill %d failed without saying a newer run published the days: %v\n%s", i, err, outs[i])
		}
	}
	t.Logf("two concurrent backfills: %d succeeded, %d refused as superseded", ok, 2-ok)
	if ok == 0 {
		t.Errorf("neither of two concurrent backfills succeeded:\n%s\n%s", outs[0], outs[1])
	}
	close(stopRead)
	<-readDone

	final := sortRows(published(t, cfg))
	lost, twice := reference.Compare(want.Rows, final)
	runs := map[string]bool{}
	for _, p := range storePublications(t, cfg) {
		runs[string(p.Run)] = true
	}
	if len(runs) != 1 {
		t.Errorf("the days are published by %d runs, want one (the last to succeed): %v", len(runs), runs)
	}
	mu.Lock()
	defer mu.Unlock()
	if changed > 0 || answers == 0 {
		t.Errorf("%d of %d answers during the faults were not the published run's", changed, answers)
	}
	if lost+twice > 0 {
		t.Errorf("final views: %d rows lost, %d counted twice against the reference", lost, twice)
	}
	// scripts/chaos.sh reads this line.
	t.Logf("CHAOS job=batch fault=%q faults=%d answers=%d lost=%d twice=%d down=%d", "kill -9 at 6 points, 2 concurrent backfills",
		faults, answers, lost, twice, changed)
}
