package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/io/views"
	"github.com/beamline/beamline/io/views/reference"
)

// crash is a stream through a queue, its reference views, and the job that a crash test kills
// and restarts.
type crash struct {
	dir, bin string
	q        queue
	day      time.Time
	records  [][]byte
	cfg      Config
	want     reference.Result
}

// crashStart is when the crash tests' streams start (event time).
var crashStart = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

// newCrash takes records from crashStart on, to be published to q, and makes the job's config
// and reference views; nothing is published yet.
func newCrash(t *testing.T, q queue, records [][]byte) *crash {
	c := &crash{dir: t.TempDir(), bin: buildJob(t), q: q}
	c.day = crashStart.Truncate(24 * time.Hour)
	c.records = records
	c.cfg = testConfig(t, q.URL())
	c.want = referenceOf(t, c.cfg, c.records, c.day)
	return c
}

// speed returns the store's speed rows of the stream's day.
func (c *crash) speed(t *testing.T) []views.Row {
	return rowsOf(t, c.cfg.Store, views.Speed, c.day, c.day.AddDate(0, 0, 1))
}

// restart waits for the killed job's messages to come back, starts the job again, calls
// started, waits until every message is acknowledged and the speed views equal the reference
// (3 minutes at most), stops the job and checks that it replayed the archive and that the
// views and the archive are complete.
func (c *crash) restart(t *testing.T, started func()) *process {
	t.Helper()
	time.Sleep(c.q.Redelivery())
	mon := watchRows(t, c)
	second := startProcess(t, c.bin, filepath.Join(c.dir, "second.log"), jobArgs(c.cfg))
	started()
	settled := waitUntil(3*time.Minute, func() bool {
		return second.exited() || c.q.Unacked(t) == 0 && cmp.Equal(withoutLayer(c.want.Rows), withoutLayer(c.speed(t)))
	})
	samples, down, shifted := mon.stop()
	if down > 0 {
		t.Errorf("%d times a served speed row went down during the restart (of %d samples)", down, samples)
	}
	if err := second.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := second.wait(); err != nil || !settled {
		t.Errorf("second job: settled %v, exit %v:\n%s", settled, err, second.tail())
	}
	if !strings.Contains(second.tail(), "replay_files=") || strings.Contains(second.tail(), "replay_files=0 ") {
		t.Errorf("the restarted job did not replay the archive:\n%s", second.tail())
	}
	archived := checkArchive(t, c.cfg.Archive, c.records, c.day)
	diffRows(t, "final speed views differ from the reference", c.want.Rows, c.speed(t))
	dead := checkDeadLettersOnce(t, c.cfg.DeadLetter, c.records, archived)
	lost, twice := reference.Compare(c.want.Rows, c.speed(t))
	// scripts/chaos.sh reads this line.
	t.Logf("CHAOS job=streaming fault=%q rows=%d samples=%d lost=%d twice=%d down=%d shifted=%d deadletters_wrong=%d",
		t.Name(), len(c.want.Rows), samples, lost, twice, down, shifted, dead)
	return second
}

// rowMonitor samples the speed rows of a crash test's store while its job restarts, and
// counts the samples in which a row weighed less (views.Row.Weight) than an earlier sample of
// it: the store keeps the heaviest version of a row, so what it serves must never go down.
// A row's metrics may shift at equal weight, and it counts those apart: a restart rebuilds a
// window from the archive, which may hold a better copy of an event ID (earlier, or the same
// time and a smaller record: dedupe.Less) than the copy the stopped job kept because it came
// first; the rebuilt row is the reference's.
type rowMonitor struct {
	done    chan struct{}
	stopped chan struct{}
	samples int
	down    int
	shifted int
}

func watchRows(t *testing.T, c *crash) *rowMonitor {
	m := &rowMonitor{done: make(chan struct{}), stopped: make(chan struct{})}
	go func() {
		defer close(m.stopped)
		seen := map[string]views.Row{}
		for {
			select {
			case <-m.done:
				return
			case <-time.After(300 * time.Millisecond):
			}
			for _, r := range c.speed(t) {
				id := r.ID()
				before, ok := seen[id]
				switch {
				case !ok || !reference.Below(r.Metrics, before.Metrics):
				case r.Weight() < before.Weight():
					m.down++
					t.Logf("speed row %s went down: %v -> %v", id, before.Metrics, r.Metrics)
				default:
					m.shifted++
					t.Logf("speed row %s shifted at equal weight: %v -> %v", id, before.Metrics, r.Metrics)
				}
				seen[id] = r
			}
			m.samples++
		}
	}()
	return m
}

// stop stops the monitor and returns how many samples it took, how many rows went down and
// how many shifted.
func (m *rowMonitor) stop() (samples, down, shifted int) {
	close(m.done)
	<-m.stopped
	return m.samples, m.down, m.shifted
}

// checkDeadLettersOnce checks that every garbage record of records is in the dead letters of
// all runs together exactly as many times as the archive holds it (archived, by raw bytes):
// a record the crash left unacknowledged is delivered and archived again, and the batch layer
// dead-letters both copies too; but a replay of the archive's tail writes none again.
func checkDeadLettersOnce(t *testing.T, dir string, records [][]byte, archived map[string]int) (wrong int) {
	t.Helper()
	dead := map[string]int{}
	for _, dl := range deadLetters(t, dir) {
		dead[string(dl.Raw)]++
	}
	garbage := map[string]bool{}
	for _, r := range records {
		if _, err := eventParse(r); err != nil {
			garbage[string(bytes.TrimRight(r, "\r"))] = true
		}
	}
	twice := 0
	for r := range garbage {
		if dead[r] != archived[r] {
			wrong++
			if dead[r] > archived[r] {
				twice += dead[r] - archived[r]
			}
		}
	}
	t.Logf("dead letters: %d garbage records, %d dead letters in all runs", len(garbage), len(deadLetters(t, dir)))
	if wrong > 0 {
		t.Errorf("%d garbage records are not dead-lettered once per archived copy (%d dead letters too many)", wrong, twice)
	}
	return wrong
}

// TestCrashAndWarmRestart kills the job with SIGKILL in the middle of a stream and restarts it
// on the same subscription. Nothing is lost from the archive (every published record is in
// it; a record whose acknowledgement the crash prevented may be in it twice); with the warm
// restart, which replays the archive's tail with the queue, the final speed views equal the
// independent reference: nothing lost and nothing counted twice; every garbage record is in
// the dead letters.
func TestCrashAndWarmRestart(t *testing.T) {
	crashAndRestart(t, newPubsubQueue(t), 12000)
}

// crashAndRestart runs the crash test of TestCrashAndWarmRestart over q, on a stream of n
// records (at least 6,000: the job is killed once its windows pass 10:05, the 3,000th record).
func crashAndRestart(t *testing.T, q queue, n int) {
	c := newCrash(t, q, carried(t, q, clickstream(n, 33, crashStart)))
	pub := publish(t, q, c.records, 300, 500*time.Millisecond)
	first := startProcess(t, c.bin, filepath.Join(c.dir, "first.log"), jobArgs(c.cfg))
	// Kill it once it has written a quarter of the stream's windows, mid-stream.
	ok := waitUntil(2*time.Minute, func() bool {
		return first.exited() || !speedWatermark(t, c.cfg.Store).Before(c.day.Add(10*time.Hour+5*time.Minute))
	})
	if !ok || first.exited() {
		t.Fatalf("the first job did not get far enough:\n%s", first.tail())
	}
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.wait()
	t.Logf("killed the first job: %s, speed watermark %s", q.State(t), speedWatermark(t, c.cfg.Store))
	second := c.restart(t, pub.wg.Wait)
	t.Logf("after the restart: %s; the second job's report:\n%s", q.State(t), report(second.tail()))
	if n := q.Unacked(t); n != 0 {
		t.Errorf("%d messages never acknowledged", n)
	}
	checkDeadLetters(t, c.cfg.DeadLetter, c.records)
}

// TestCrashWithOpenSessions kills the job (SIGKILL) when its speed watermark has passed 11:45
// of a stream from 10:00 to 12:30 in which every user's session has been open since about
// 10:00 (200 users, an event a second in all), and restarts it. The restart must replay the
// archive back to the first event of the oldest session still open, not only its usual
// horizon (sessions rebuilt from 11:00, replayed from 10:30): before, the sessions of the
// 10:00 hour were lost for good, and the final sessions view differed from the reference.
func TestCrashWithOpenSessions(t *testing.T) {
	q := newPubsubQueue(t)
	c := newCrash(t, q, clickstreamAt(1, 9000, 11, crashStart))
	pub := publish(t, q, c.records, 50, 500*time.Millisecond)
	first := startProcess(t, c.bin, filepath.Join(c.dir, "first.log"), jobArgs(c.cfg))
	ok := waitUntil(3*time.Minute, func() bool {
		return first.exited() || !speedWatermark(t, c.cfg.Store).Before(crashStart.Add(105*time.Minute))
	})
	if !ok || first.exited() {
		t.Fatalf("the first job did not get far enough:\n%s", first.tail())
	}
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.wait()
	wm := speedWatermark(t, c.cfg.Store)
	t.Logf("killed the first job: %s, speed watermark %s", q.State(t), wm)
	if !wm.Before(crashStart.Add(150 * time.Minute)) {
		t.Fatalf("the first job got to %s before the kill: the test needs sessions still open", wm)
	}
	second := c.restart(t, pub.wg.Wait)
	if !strings.Contains(second.tail(), "sessions_from=2026-11-20T10:00:00") {
		t.Errorf("the restart did not rebuild the sessions from 10:00:\n%s", second.tail())
	}
}

// TestCrashBeforeFirstWindow kills the job (SIGKILL) after it archived and acknowledged records
// but before any window closed, so the store has no speed watermark, and restarts it: the
// restart replays the whole archive (the acknowledged records will not come back from the
// queue), and the final speed views equal the reference. Before, a restart without a
// watermark replayed nothing and those records were missing from the speed layer for good.
func TestCrashBeforeFirstWindow(t *testing.T) {
	q := newPubsubQueue(t)
	c := newCrash(t, q, clickstream(3000, 7, crashStart))
	// The first job sees a slow trickle (4 s of event time a second, and a long idle time), so
	// that no window closes for minutes; the rest is published once it is dead.
	var stop atomic.Bool
	var published atomic.Int64
	go func() {
		for i := 0; i < len(c.records)/2 && !stop.Load(); i += 20 {
			q.srv.PublishAll(c.records[i : i+20])
			published.Store(int64(i + 20))
			time.Sleep(500 * time.Millisecond)
		}
	}()
	firstCfg := c.cfg
	firstCfg.Source = q.srv.URL + "?idle=5m&call=500ms"
	first := startProcess(t, c.bin, filepath.Join(c.dir, "first.log"), jobArgs(firstCfg))
	acked := func() bool { st := q.srv.Stats(); return st.Messages > st.Unacked }
	if !waitUntil(2*time.Minute, func() bool { return first.exited() || acked() }) || first.exited() {
		t.Fatalf("the first job acknowledged nothing:\n%s", first.tail())
	}
	stop.Store(true)
	if wm := speedWatermark(t, c.cfg.Store); !wm.IsZero() {
		t.Fatalf("the first job recorded a speed watermark (%s) before the kill: the test needs none", wm)
	}
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.wait()
	t.Logf("killed the first job with no speed watermark: %s", q.State(t))
	c.restart(t, func() { q.srv.PublishAll(c.records[published.Load():]) })
}

// report returns the report lines of a job's log.
func report(log string) string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		if strings.HasPrefix(line, "read ") || strings.HasPrefix(line, "archived ") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// checkArchive checks that the archive holds every record at least as many times as it was
// published (garbage is partitioned by its publish time, today), and returns how many times
// it holds each, by raw bytes.
func checkArchive(t *testing.T, dir string, records [][]byte, from time.Time) (archived map[string]int) {
	t.Helper()
	recs, err := reference.ReadLake(dir, from, time.Now().UTC().Truncate(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	archived = map[string]int{}
	for _, r := range recs {
		archived[string(r.Raw)]++
	}
	published := map[string]int{}
	for _, r := range records {
		published[string(bytes.TrimRight(r, "\r"))]++
	}
	lost, twice := 0, 0
	for r, n := range published {
		if archived[r] < n {
			lost += n - archived[r]
		}
		twice += max(archived[r]-n, 0)
	}
	t.Logf("archive: %d records for %d published (%d archived twice)", len(recs), len(records), twice)
	if lost > 0 {
		t.Errorf("%d published records are missing from the archive", lost)
	}
	return archived
}
