package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"

	"github.com/beamline/beamline/io/store"
	_ "github.com/beamline/beamline/io/store/bigquerystore" // bigquery:// stores
	_ "github.com/beamline/beamline/io/store/postgresstore" // postgres:// and postgresql:// stores
	_ "github.com/beamline/beamline/io/store/sqlitestore"   // sqlite:// stores
	"github.com/beamline/beamline/serving/api"
)

// run serves until ctx is done, then shuts down gracefully. If ready is not nil, it receives the
// listening address.
func run(ctx context.Context, cfg config, log *slog.Logger, ready chan<- string) error {
	token, err := readToken(cfg.tokenFile)
	if err != nil {
		return err
	}
	openCtx, cancel := context.WithTimeout(ctx, cfg.storeTimeout)
	st, err := store.OpenReadOnly(openCtx, cfg.storeURL)
	cancel()
	if errors.Is(err, store.ErrNotExist) {
		return fmt.Errorf("%w; serving opens its store read-only and never creates one: check --store, or run a job that writes it first", err)
	}
	if err != nil {
		return err
	}
	defer st.Close()
	opts := &api.Options{AuthToken: token, MaxRange: cfg.maxRange, StoreTimeout: cfg.storeTimeout,
		StateRefresh: cfg.stateRefresh, CacheEntries: cfg.cacheEntries, BatchIndexRows: cfg.batchIndexRows, CacheTTL: cfg.cacheTTL, Logger: log,
		MaxExpensive: cfg.maxExpensive, ExpensiveRange: cfg.expensiveRange, QueueWait: cfg.queueWait}
	if cfg.stateRefresh == 0 {
		opts.StateRefresh = -1
	}
	if cfg.batchIndexRows == 0 {
		opts.BatchIndexRows = -1
	}
	if cfg.cacheEntries == 0 {
		opts.CacheEntries = -1
	}
	srv := &http.Server{
		Handler:           api.New(st, opts),
		ReadTimeout:       cfg.readTimeout,
		ReadHeaderTimeout: cfg.readTimeout,
		WriteTimeout:      cfg.writeTimeout,
		IdleTimeout:       cfg.idleTimeout,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.addr, err)
	}
	log.Info("listening", "addr", ln.Addr().String(), "store", redact(cfg.storeURL), "auth", token != "")
	if ready != nil {
		ready <- ln.Addr().String()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve %s: %w", cfg.addr, err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", cfg.shutdownTimeout)
	shutCtx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// redact hides the password of a store URL, for logs.
func redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}
