// Command serving runs beamline's serving API: an HTTP server that answers view queries by merging
// the batch and the speed layer of a view store (see package api for the endpoints and the merge
// rule).
//
// # Usage
//
//	go run ./serving --store=sqlite://out/views.db --addr=127.0.0.1:8080 [--auth_token_file=FILE]
//
// It logs (log/slog, to stderr) "listening" with the address once it accepts connections, and shuts
// down gracefully on SIGINT or SIGTERM: it stops accepting, lets requests in flight finish (up to
// --shutdown_timeout), then closes the store.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	_ "github.com/beamline/beamline/io/store/bigquerystore" // bigquery:// stores
	_ "github.com/beamline/beamline/io/store/postgresstore" // postgres:// and postgresql:// stores
	_ "github.com/beamline/beamline/io/store/sqlitestore"   // sqlite:// stores
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "serving:", err)
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.logLevel}))
	if err := run(ctx, cfg, log, nil); err != nil {
		log.Error("serving failed", "err", err)
		os.Exit(1)
	}
}
