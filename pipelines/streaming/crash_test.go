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

// TestCrashAndWarmRestart kills the job with SIGKILL in the middle of a stream and restarts it
// on the same subscription. Nothing is lost from the archive (every published record is in
// it; a record whose acknowledgement the crash prevented may be in it twice); with the warm
// restart, which replays the archive's tail with the queue, the final speed views equal the
// independent reference: nothing lost and nothing counted twice; every garbage record is in
// the dead letters.
func TestCrashAndWarmRestart(t *testing.T) {
	dir := t.TempDir()
	bin := buildJob(t)
	const deadline = 10 * time.Second
	srv := pubsubtest.Start(t, deadline)
	start := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	day := start.Truncate(24 * time.Hour)
	records := clickstream(12000, 33, start)
	cfg := testConfig(t, srv.URL+"?idle=3s&call=500ms")
	want := referenceOf(t, cfg, records, day)
	pub := publish(srv, records, 300, 500*time.Millisecond)

	first := startProcess(t, bin, filepath.Join(dir, "first.log"), jobArgs(cfg))
	// Kill it once it has written a quarter of the stream's windows, mid-stream.
	ok := waitUntil(2*time.Minute, func() bool {
		return first.exited() || !speedWatermark(t, cfg.Store).Before(start.Add(5*time.Minute))
	})
	if !ok || first.exited() {
		t.Fatalf("the first job did not get far enough:\n%s", first.tail())
	}
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.wait()
	killed := srv.Stats()
	t.Logf("killed the first job: %+v, speed watermark %s", killed, speedWatermark(t, cfg.Store))
	time.Sleep(deadline + time.Second) // what the dead job held comes back to the queue

	second := startProcess(t, bin, filepath.Join(dir, "second.log"), jobArgs(cfg))
	pub.wg.Wait()
	speed := func() []views.Row { return rowsOf(t, cfg.Store, views.Speed, day, day.AddDate(0, 0, 1)) }
	settled := waitUntil(3*time.Minute, func() bool {
		return second.exited() || srv.Stats().Unacked == 0 && cmp.Equal(withoutLayer(want.Rows), withoutLayer(speed()))
	})
	if err := second.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := second.wait(); err != nil || !settled {
		t.Errorf("second job: settled %v, exit %v:\n%s", settled, err, second.tail())
	}
	if !strings.Contains(second.tail(), "replay_files=") || strings.Contains(second.tail(), "replay_files=0 ") {
		t.Errorf("the restarted job did not replay the archive's tail:\n%s", second.tail())
	}
	st := srv.Stats()
	t.Logf("after the restart: %+v; the second job's report:\n%s", st, report(second.tail()))
	if st.Unacked != 0 {
		t.Errorf("%d messages never acknowledged", st.Unacked)
	}
	checkArchive(t, cfg.Archive, records, day)
	diffRows(t, "final speed views differ from the reference", want.Rows, speed())
	checkDeadLetters(t, cfg.DeadLetter, records)
}

// TestCrashBeforeFirstWindow kills the job (SIGKILL) after it archived and acknowledged records
// but before any window closed, so the store has no speed watermark, and restarts it: the
// restart replays the whole archive (the acknowledged records will not come back from the
// queue), and the final speed views equal the reference. Before, a restart without a
// watermark replayed nothing and those records were missing from the speed layer for good.
func TestCrashBeforeFirstWindow(t *testing.T) {
	dir := t.TempDir()
	bin := buildJob(t)
	const deadline = 10 * time.Second
	srv := pubsubtest.Start(t, deadline)
	start := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	day := start.Truncate(24 * time.Hour)
	records := clickstream(3000, 7, start)
	cfg := testConfig(t, srv.URL+"?idle=3s&call=500ms")
	want := referenceOf(t, cfg, records, day)
	// The first job sees a slow trickle (4 s of event time a second, and a long idle time), so
	// that no window closes for minutes; the rest is published once it is dead.
	var stop atomic.Bool
	var published atomic.Int64
	go func() {
		for i := 0; i < len(records)/2 && !stop.Load(); i += 20 {
			srv.PublishAll(records[i : i+20])
			published.Store(int64(i + 20))
			time.Sleep(500 * time.Millisecond)
		}
	}()
	firstCfg := cfg
	firstCfg.Source = srv.URL + "?idle=5m&call=500ms"
	first := startProcess(t, bin, filepath.Join(dir, "first.log"), jobArgs(firstCfg))
	acked := func() bool { st := srv.Stats(); return st.Messages > st.Unacked }
	if !waitUntil(2*time.Minute, func() bool { return first.exited() || acked() }) || first.exited() {
		t.Fatalf("the first job acknowledged nothing:\n%s", first.tail())
	}
	stop.Store(true)
	if wm := speedWatermark(t, cfg.Store); !wm.IsZero() {
		t.Fatalf("the first job recorded a speed watermark (%s) before the kill: the test needs none", wm)
	}
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.wait()
	t.Logf("killed the first job with no speed watermark: %+v", srv.Stats())
	time.Sleep(deadline + time.Second)

	time.Sleep(time.Second) // the publisher has stopped
	srv.PublishAll(records[published.Load():])
	second := startProcess(t, bin, filepath.Join(dir, "second.log"), jobArgs(cfg))
	speed := func() []views.Row { return rowsOf(t, cfg.Store, views.Speed, day, day.AddDate(0, 0, 1)) }
	settled := waitUntil(3*time.Minute, func() bool {
		return second.exited() || srv.Stats().Unacked == 0 && cmp.Equal(withoutLayer(want.Rows), withoutLayer(speed()))
	})
	if err := second.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := second.wait(); err != nil || !settled {
		t.Errorf("second job: settled %v, exit %v:\n%s", settled, err, second.tail())
	}
	if strings.Contains(second.tail(), "replay_files=0 ") {
		t.Errorf("the restarted job did not replay the archive:\n%s", second.tail())
	}
	checkArchive(t, cfg.Archive, records, day)
	diffRows(t, "final speed views differ from the reference", want.Rows, speed())
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
