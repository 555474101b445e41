package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/gcs"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/s3"

	_ "github.com/beamline/beamline/io/source/generatorsource"
	_ "github.com/beamline/beamline/io/source/kafkasource"
	_ "github.com/beamline/beamline/io/source/pubsubsource"
	_ "github.com/beamline/beamline/io/source/sqssource"
	_ "github.com/beamline/beamline/io/store/sqlitestore"
	_ "github.com/beamline/beamline/io/topic/kafkatopic"
	_ "github.com/beamline/beamline/io/topic/pubsubtopic"
	"github.com/beamline/beamline/pipelines/internal/jobrun"
)

func main() {
	flag.Parse()
	beam.Init()
	cfg, err := config()
	if err != nil {
		fmt.Fprintf(os.Stderr, "streaming: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		slog.Error("streaming job failed", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg Config) error {
	stop, err := jobrun.StartProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stop()
	stopHeap, err := jobrun.StartHeapProfile(*memProfile, 30*time.Second)
	if err != nil {
		return err
	}
	rep, err := Run(ctx, cfg)
	stopHeap()
	if err != nil {
		return err
	}
	rep.Print(os.Stdout)
	cpu, rss := jobrun.Usage()
	fmt.Printf("cpu %s, peak RSS %d MiB\n", cpu.Round(time.Millisecond), rss>>20) // scripts/benchstream reads it
	return nil
}
