// Package jobservice finds the Beam job service that a job is submitted to, starting Prism's in
// this process for the default runner, so that the jobs can be watched (live metrics) and
// cancelled through it the same way on Prism and on Flink.
package jobservice

import (
	"context"
	"fmt"
	"net"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
)

// Endpoint returns the address of the job service the job is submitted to: --endpoint, or for
// the default Prism runner an in-process Prism job server that it starts and points
// --endpoint at (LOOPBACK workers unless --environment_type says otherwise), which the runner
// then uses. It returns "" for a runner without a job service (direct, Dataflow).
func Endpoint(ctx context.Context) (string, error) {
	if *jobopts.Endpoint != "" {
		return *jobopts.Endpoint, nil
	}
	if r := *runners.Runner; r != "" && r != "prism" && r != "PrismRunner" {
		return "", nil
	}
	port, err := FreePort()
	if err != nil {
		return "", fmt.Errorf("start prism job server: %w", err)
	}
	if _, err := prism.CreateJobServer(ctx, prism.Options{Port: port}); err != nil {
		return "", fmt.Errorf("start prism job server: %w", err)
	}
	*jobopts.Endpoint = fmt.Sprintf("localhost:%d", port)
	if *jobopts.EnvironmentType == "" {
		*jobopts.EnvironmentType = "loopback"
	}
	return *jobopts.Endpoint, nil
}

// FreePort returns a TCP port of localhost that is free now.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "localhost:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
