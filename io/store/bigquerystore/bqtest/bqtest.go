// Package bqtest runs github.com/goccy/bigquery-emulator for tests of code that uses BigQuery
// stores.
//
// # Usage
//
//	t.Setenv(bigquerystore.EmulatorHostEnv, bqtest.Start(t, "test-project"))
//	st, err := store.Open(ctx, "bigquery://test-project/views")
//
// The emulator is a separate binary that takes about 15 minutes (and clang) to build, so the
// tests that use it carry the build tag bigquery_emulator and are not part of go test ./...:
// build it once with scripts/build-bigquery-emulator.sh, then run
// go test -tags bigquery_emulator ./io/store/bigquerystore/ ./pipelines/batch/. Start finds it
// through BIGQUERY_EMULATOR_BIN, or where that script puts it, and fails the test if it is
// missing.
package bqtest

import (
	"context"
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

// Binary returns the emulator's path: BIGQUERY_EMULATOR_BIN, or where
// scripts/build-bigquery-emulator.sh puts it. It fails t, saying how to build it, if missing.
func Binary(t testing.TB) string {
	t.Helper()
	bin := os.Getenv("BIGQUERY_EMULATOR_BIN")
	if bin == "" {
		dir := os.Getenv("BEAMLINE_BQ_EMULATOR_DIR")
		if dir == "" {
			cache, err := os.UserCacheDir()
			if err != nil {
				t.Fatal(err)
			}
			dir = filepath.Join(cache, "beamline", "bigquery-emulator-"+EmulatorVersion)
		}
		bin = filepath.Join(dir, "bigquery-emulator")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("no BigQuery emulator at %s (%v): build it with scripts/build-bigquery-emulator.sh "+
			"(needs clang, ~15 min) or set BIGQUERY_EMULATOR_BIN", bin, err)
	}
	return bin
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
