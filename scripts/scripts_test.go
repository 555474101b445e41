// Tests of the job scripts (backfill.sh, submit-dataflow.sh, submit-flink.sh): they run them as
// an operator would, with a batch binary built once, against the sample lake, a SQLite store, an
// offline Dataflow dry run and an in-process Prism job server (the Flink job API).
package scripts_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/beamline/beamline/io/store/sqlitestore"
)

const (
	sampleLake = "../testdata/lake"
	categories = "../testdata/reference/categories.csv"
)

var (
	buildMu sync.Mutex
	built   = map[string]string{}
)

// jobBinary builds pipelines/job once per test process and returns the binary.
func jobBinary(t *testing.T, job string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if bin, ok := built[job]; ok {
		return bin
	}
	dir, err := os.MkdirTemp("", "beamline-scripts-")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, job)
	if out, err := exec.Command("go", "build", "-o", bin, "../pipelines/"+job).CombinedOutput(); err != nil {
		t.Fatalf("go build ../pipelines/%s: %v\n%s", job, err, out)
	}
	built[job] = bin
	return bin
}

func batchBinary(t *testing.T) string { return jobBinary(t, "batch") }

// TestMain removes the binaries that jobBinary built (about 140 MB each).
func TestMain(m *testing.M) {
	code := m.Run()
	for _, bin := range built {
		os.RemoveAll(filepath.Dir(bin))
	}
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

// script runs scripts/name with args and env added to an environment without BEAMLINE_ settings
// or Google credentials, within timeout.
func script(t *testing.T, timeout time.Duration, env []string, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{name}, args...)...)
	cmd.Env = append(cleanEnv(t), env...)
	// The script and what it starts (jobs, the serving API) run in a process group of their
	// own, which a timeout kills whole; Wait then returns even if an orphan still holds the
	// output pipes.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %s: timed out after %s\nstderr:\n%s", name, strings.Join(args, " "), timeout, errb.String())
	}
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return r
}

var goEnv struct {
	once sync.Once
	vars []string
	err  error
}

// goDirs returns GOPATH, GOMODCACHE and GOCACHE as this process's go command sees them, as
// NAME=value: cleanEnv moves HOME, and without them a script's go build would start from an
// empty module and build cache (downloading every module and compiling the SDK: minutes).
func goDirs(t *testing.T) []string {
	t.Helper()
	goEnv.once.Do(func() {
		out, err := exec.Command("go", "env", "GOPATH", "GOMODCACHE", "GOCACHE").Output()
		if err != nil {
			goEnv.err = fmt.Errorf("go env: %w", err)
			return
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		for i, name := range []string{"GOPATH", "GOMODCACHE", "GOCACHE"} {
			if i < len(lines) && lines[i] != "" {
				goEnv.vars = append(goEnv.vars, name+"="+lines[i])
			}
		}
	})
	if goEnv.err != nil {
		t.Fatal(goEnv.err)
	}
	return goEnv.vars
}

func cleanEnv(t *testing.T) []string {
	home := t.TempDir()
	dirs := goDirs(t)
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "BEAMLINE_") || name == "GOOGLE_APPLICATION_CREDENTIALS" ||
			name == "GCE_METADATA_HOST" || name == "CLOUDSDK_CONFIG" || name == "HOME" {
			continue
		}
		env = append(env, kv)
	}
	return append(append(env, dirs...), "HOME="+home, "CLOUDSDK_CONFIG="+home)
}

func TestHelp(t *testing.T) {
	for _, name := range []string{"backfill.sh", "submit-dataflow.sh", "submit-flink.sh"} {
		r := script(t, 10*time.Second, nil, name, "--help")
		if r.code != 0 || !strings.Contains(r.stdout, "usage: scripts/"+name) {
			t.Errorf("%s --help: exit %d, stdout:\n%s", name, r.code, r.stdout)
		}
	}
}

// TestBuildBigQueryEmulator checks build-bigquery-emulator.sh without building (that takes
// 15-30 minutes; .ci/run does it): a cached binary is printed at once, a missing clang and a
// failing build exit non-zero saying why, the latter with the tail of the build's log.
func TestBuildBigQueryEmulator(t *testing.T) {
	const name = "build-bigquery-emulator.sh"
	if r := script(t, 10*time.Second, nil, name, "--help"); r.code != 0 || !strings.Contains(r.stdout, "usage: scripts/"+name) {
		t.Errorf("%s --help: exit %d, stdout:\n%s", name, r.code, r.stdout)
	}
	if r := script(t, 10*time.Second, nil, name, "--bogus"); r.code != 2 || !strings.Contains(r.stderr, "unknown option --bogus") {
		t.Errorf("%s --bogus: exit %d, stderr %q; want exit 2", name, r.code, r.stderr)
	}

	cached := t.TempDir()
	bin := filepath.Join(cached, "bigquery-emulator")
	writeExecutable(t, bin, "#!/bin/sh\n")
	r := script(t, 10*time.Second, nil, name, "--dir="+cached)
	if r.code != 0 || r.stdout != bin+"\n" {
		t.Errorf("%s with a cached binary: exit %d, stdout %q; want exit 0 and %q\nstderr:\n%s", name, r.code, r.stdout, bin, r.stderr)
	}

	// A PATH whose go fails, and whose clang is missing or present.
	tools := t.TempDir()
	writeExecutable(t, filepath.Join(tools, "go"), "#!/bin/sh\necho 'compile: something broke' >&2\nexit 1\n")
	for _, tool := range []string{"bash", "basename", "dirname", "mkdir", "cat", "tail", "date", "flock", "nice", "mv", "tee"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Fatalf("%s is needed by %s: %v", tool, name, err)
		}
		if err := os.Symlink(p, filepath.Join(tools, tool)); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"PATH=" + tools}
	r = script(t, 10*time.Second, env, name, "--dir="+t.TempDir())
	if r.code != 1 || !strings.Contains(r.stderr, "clang is required") {
		t.Errorf("%s without clang: exit %d, stderr %q; want exit 1 saying clang is required", name, r.code, r.stderr)
	}
	writeExecutable(t, filepath.Join(tools, "clang"), "#!/bin/sh\n")
	writeExecutable(t, filepath.Join(tools, "clang++"), "#!/bin/sh\n")
	dir := t.TempDir()
	r = script(t, 10*time.Second, env, name, "--dir="+dir)
	for _, want := range []string{"compile: something broke", "go build github.com/goccy/bigquery-emulator@v0.6.6 failed",
		"full log: " + filepath.Join(dir, "build.log")} {
		if r.code != 1 || !strings.Contains(r.stderr, want) {
			t.Errorf("%s with a failing build: exit %d, want exit 1 saying %q; stderr:\n%s", name, r.code, want, r.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "bigquery-emulator")); err == nil {
		t.Errorf("a failed build left a binary in %s", dir)
	}
}

func writeExecutable(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
}
