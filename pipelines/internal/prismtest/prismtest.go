// Package prismtest starts Prism's job server for tests that submit a job as an operator does,
// with --runner=flink (or universal) and --endpoint: Prism's job server speaks the same job API
// as Flink's.
package prismtest

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
)

// StartJobServer starts Prism's job server in this process on a free port and returns its
// endpoint, localhost:PORT. It runs until the test process exits (Prism offers no way to stop
// it). Jobs submitted to it in LOOPBACK mode run their workers in the submitting process.
func StartJobServer(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := prism.CreateJobServer(ctx, prism.Options{Port: port}); err != nil {
		t.Fatalf("prismtest: start the prism job server on port %d: %v", port, err)
	}
	return fmt.Sprintf("localhost:%d", port)
}
