package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
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

// waitUntil polls cond every second until it holds or limit passes.
func waitUntil(limit time.Duration, cond func() bool) bool {
	for end := time.Now().Add(limit); time.Now().Before(end); time.Sleep(time.Second) {
		if cond() {
			return true
		}
	}
	return cond()
}
