package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/io/source/pubsubsource/pubsubtest"
	"github.com/beamline/beamline/io/views"
	"github.com/beamline/beamline/io/views/reference"
)

// built is the binary that buildJob built, once per test process (linking takes seconds);
// TestMain removes its directory.
var built struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

// buildJob builds this command (once per test process) and returns the binary's path.
func buildJob(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "beamline-streaming-"); built.err != nil {
			return
		}
		built.bin = filepath.Join(built.dir, "streaming")
		if out, err := exec.Command("go", "build", "-o", built.bin, ".").CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.bin
}

// process is a streaming job running as a subprocess.
type process struct {
	cmd  *exec.Cmd
	log  string
	exit chan struct{} // closed when the process has exited
	err  error         // its exit status, once exit is closed
}

func startProcess(t *testing.T, bin, log string, args []string) *process {
	t.Helper()
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, log: log, exit: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.exit)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.exit
	})
	return p
}

// wait waits for the process to exit and returns its exit status.
func (p *process) wait() error {
	<-p.exit
	return p.err
}

// tail returns the end of the process's log.
func (p *process) tail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func (p *process) exited() bool {
	select {
	case <-p.exit:
		return true
	default:
		return false
	}
}

// jobArgs are the command-line flags of cfg.
func jobArgs(cfg Config) []string {
	return []string{"--source=" + cfg.Source, "--store=" + cfg.Store, "--archive=" + cfg.Archive,
		"--deadletter=" + cfg.DeadLetter, "--reference=" + cfg.Reference, "--blocked_users=u-blocked",
		"--early_firing=1s"}
}

// publisher publishes records in batches in the background.
type publisher struct {
	wg sync.WaitGroup
}

func publish(srv *pubsubtest.Server, records [][]byte, batch int, every time.Duration) *publisher {
	p := &publisher{}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for i := 0; i < len(records); i += batch {
			srv.PublishAll(records[i:min(i+batch, len(records))])
			time.Sleep(every)
		}
	}()
	return p
}

// crash is a stream through a pstest server, its reference views, and the job that a crash
// test kills and restarts.
type crash struct {
	dir, bin string
	srv      *pubsubtest.Server
	day      time.Time
	records  [][]byte
	cfg      Config
	want     reference.Result
}

// crashAckDeadline is the subscription's ack deadline: what a killed job held comes back after it.
const crashAckDeadline = 10 * time.Second

// newCrash generates n records from 10:00 on 2026-11-20 (seed) and the job's config and
// reference views; nothing is published yet.
func newCrash(t *testing.T, n int, seed uint64) *crash {
	c := &crash{dir: t.TempDir(), bin: buildJob(t), srv: pubsubtest.Start(t, crashAckDeadline)}
	start := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	c.day = start.Truncate(24 * time.Hour)
	c.records = clickstream(n, seed, start)
	c.cfg = testConfig(t, c.srv.URL+"?idle=3s&call=500ms")
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
	time.Sleep(crashAckDeadline + time.Second)
	second := startProcess(t, c.bin, filepath.Join(c.dir, "second.log"), jobArgs(c.cfg))
	started()
	settled := waitUntil(3*time.Minute, func() bool {
		return second.exited() || c.srv.Stats().Unacked == 0 && cmp.Equal(withoutLayer(c.want.Rows), withoutLayer(c.speed(t)))
	})
	if err := second.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := second.wait(); err != nil || !settled {
		t.Errorf("second job: settled %v, exit %v:\n%s", settled, err, second.tail())
	}
	if !strings.Contains(second.tail(), "replay_files=") || strings.Contains(second.tail(), "replay_files=0 ") {
		t.Errorf("the restarted job did not replay the archive:\n%s", second.tail())
	}
	checkArchive(t, c.cfg.Archive, c.records, c.day)
	diffRows(t, "final speed views differ from the reference", c.want.Rows, c.speed(t))
	return second
}

// TestCrashAndWarmRestart kills the job with SIGKILL in the middle of a stream and restarts it
// on the same subscription. Nothing is lost from the archive (every published record is in
// it; a record whose acknowledgement the crash prevented may be in it twice); with the warm
// restart, which replays the archive's tail with the queue, the final speed views equal the
// independent reference: nothing lost and nothing counted twice; every garbage record is in
// the dead letters.
func TestCrashAndWarmRestart(t *testing.T) {
	c := newCrash(t, 12000, 33)
	pub := publish(c.srv, c.records, 300, 500*time.Millisecond)
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
	t.Logf("killed the first job: %+v, speed watermark %s", c.srv.Stats(), speedWatermark(t, c.cfg.Store))
	second := c.restart(t, pub.wg.Wait)
	st := c.srv.Stats()
	t.Logf("after the restart: %+v; the second job's report:\n%s", st, report(second.tail()))
	if st.Unacked != 0 {
		t.Errorf("%d messages never acknowledged", st.Unacked)
	}
	checkDeadLetters(t, c.cfg.DeadLetter, c.records)
}

// TestCrashBeforeFirstWindow kills the job (SIGKILL) after it archived and acknowledged records
// but before any window closed, so the store has no speed watermark, and restarts it: the
// restart replays the whole archive (the acknowledged records will not come back from the
// queue), and the final speed views equal the reference. Before, a restart without a
// watermark replayed nothing and those records were missing from the speed layer for good.
func TestCrashBeforeFirstWindow(t *testing.T) {
	c := newCrash(t, 3000, 7)
	// The first job sees a slow trickle (4 s of event time a second, and a long idle time), so
	// that no window closes for minutes; the rest is published once it is dead.
	var stop atomic.Bool
	var published atomic.Int64
	go func() {
		for i := 0; i < len(c.records)/2 && !stop.Load(); i += 20 {
			c.srv.PublishAll(c.records[i : i+20])
			published.Store(int64(i + 20))
			time.Sleep(500 * time.Millisecond)
		}
	}()
	firstCfg := c.cfg
	firstCfg.Source = c.srv.URL + "?idle=5m&call=500ms"
	first := startProcess(t, c.bin, filepath.Join(c.dir, "first.log"), jobArgs(firstCfg))
	acked := func() bool { st := c.srv.Stats(); return st.Messages > st.Unacked }
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
	t.Logf("killed the first job with no speed watermark: %+v", c.srv.Stats())
	c.restart(t, func() { c.srv.PublishAll(c.records[published.Load():]) })
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

// waitUntil polls cond every second until it holds or limit passes.
func waitUntil(limit time.Duration, cond func() bool) bool {
	for end := time.Now().Add(limit); time.Now().Before(end); time.Sleep(time.Second) {
		if cond() {
			return true
		}
	}
	return cond()
}

// checkArchive checks that the archive holds every record at least as many times as it was
// published (garbage is partitioned by its publish time, today).
func checkArchive(t *testing.T, dir string, records [][]byte, from time.Time) {
	t.Helper()
	recs, err := reference.ReadLake(dir, from, time.Now().UTC().Truncate(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	archived := map[string]int{}
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
}
