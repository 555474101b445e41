// Package bqtest runs github.com/goccy/bigquery-emulator for tests of code that uses BigQuery
// stores.
//
// # Usage
//
//	t.Setenv(bigquerystore.EmulatorHostEnv, bqtest.Start(t, "test-project"))
//	st, err := store.Open(ctx, "bigquery://test-project/views")
//
// The emulator is a separate binary that takes 15-30 minutes (and clang) to build once:
// scripts/build-bigquery-emulator.sh builds it into a cache directory. The tests that use it are
// part of go test ./... and find it through BIGQUERY_EMULATOR_BIN, BEAMLINE_BQ_EMULATOR_DIR, or
// where that script puts it by default.
//
// # A missing emulator
//
// Where none is found, Start skips the test, saying how to build it, so that go test ./... stays
// green on a machine without clang; with BEAMLINE_REQUIRE_BIGQUERY_EMULATOR=1 (which CI sets)
// it fails the test with the same message instead, so CI never counts a skipped BigQuery test as
// passed. A BIGQUERY_EMULATOR_BIN that names no executable always fails: it is a mistake, not a
// machine without the emulator.
package bqtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// EmulatorVersion is the github.com/goccy/bigquery-emulator version that
// scripts/build-bigquery-emulator.sh builds.
const EmulatorVersion = "v0.6.6"

// Environment variables that Binary reads.
const (
	// BinEnv names the emulator binary.
	BinEnv = "BIGQUERY_EMULATOR_BIN"
	// DirEnv names the directory scripts/build-bigquery-emulator.sh builds into.
	DirEnv = "BEAMLINE_BQ_EMULATOR_DIR"
	// RequireEnv, set to 1, makes a missing emulator fail tests instead of skipping them.
	RequireEnv = "BEAMLINE_REQUIRE_BIGQUERY_EMULATOR"
)

// errMissing says that no emulator binary is where Binary looks.
var errMissing = errors.New("no BigQuery emulator")

// Binary returns the emulator's path: BIGQUERY_EMULATOR_BIN, or bigquery-emulator in
// BEAMLINE_BQ_EMULATOR_DIR or in scripts/build-bigquery-emulator.sh's default directory. If
// there is none it skips t, or fails t when BEAMLINE_REQUIRE_BIGQUERY_EMULATOR=1, saying how to
// build it (see the package doc).
func Binary(t testing.TB) string {
	t.Helper()
	bin, explicit, err := find()
	if err == nil {
		return bin
	}
	msg := fmt.Sprintf("%v: build it with scripts/build-bigquery-emulator.sh (needs clang, "+
		"15-30 min), or set %s to its path", err, BinEnv)
	if explicit || required() {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// find returns the emulator's path, whether BIGQUERY_EMULATOR_BIN named it, and errMissing
// (wrapped) when it is not an executable file.
func find() (bin string, explicit bool, err error) {
	bin = os.Getenv(BinEnv)
	explicit = bin != ""
	if !explicit {
		dir := os.Getenv(DirEnv)
		if dir == "" {
			cache, err := os.UserCacheDir()
			if err != nil {
				return "", false, fmt.Errorf("%w: no cache directory: %w", errMissing, err)
			}
			dir = filepath.Join(cache, "beamline", "bigquery-emulator-"+EmulatorVersion)
		}
		bin = filepath.Join(dir, "bigquery-emulator")
	}
	fi, err := os.Stat(bin)
	switch {
	case err != nil:
		return bin, explicit, fmt.Errorf("%w at %s: %w", errMissing, bin, err)
	case !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0:
		return bin, explicit, fmt.Errorf("%w at %s: not an executable file", errMissing, bin)
	}
	return bin, explicit, nil
}

// required says whether BEAMLINE_REQUIRE_BIGQUERY_EMULATOR asks for the emulator.
func required() bool {
	v, err := strconv.ParseBool(os.Getenv(RequireEnv))
	return err == nil && v
}

// Start starts the emulator for project on free ports until t ends, and returns its host:port
// for BIGQUERY_EMULATOR_HOST.
func Start(t testing.TB, project string) string {
	t.Helper()
	port, grpcPort := freePort(t), freePort(t)
	cmd := exec.Command(Binary(t), "--project="+project, "--host=127.0.0.1",
		"--port="+strconv.Itoa(port), "--grpc-port="+strconv.Itoa(grpcPort), "--log-level=error")
	logPath := filepath.Join(t.TempDir(), "emulator.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the BigQuery emulator: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("emulator log (its ERROR lines include the not-found answers the store expects):\n%s", b)
		}
	})
	host := fmt.Sprintf("127.0.0.1:%d", port)
	awaitHTTP(t, "http://"+host+"/bigquery/v2/projects/"+project+"/datasets", 30*time.Second)
	return host
}

func awaitHTTP(t testing.TB, url string, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the BigQuery emulator did not answer %s within %s: %v", url, timeout, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
