package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/beamline/beamline/serving/api"
)

// config is what the flags say.
type config struct {
	storeURL        string
	addr            string
	tokenFile       string
	maxRange        time.Duration
	storeTimeout    time.Duration
	stateRefresh    time.Duration
	cacheEntries    int
	batchIndexRows  int
	cacheTTL        time.Duration
	maxExpensive    int
	expensiveRange  time.Duration
	queueWait       time.Duration
	readTimeout     time.Duration
	writeTimeout    time.Duration
	idleTimeout     time.Duration
	shutdownTimeout time.Duration
	logLevel        slog.Level
}

// parseFlags parses args into a config and checks it.
func parseFlags(args []string, out io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("serving", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&cfg.storeURL, "store", "", "view store URL, e.g. sqlite:///var/lib/beamline/views.db (required)")
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:8080", "address to listen on")
	fs.StringVar(&cfg.tokenFile, "auth_token_file", "", "file holding the bearer token that every endpoint but /healthz requires; empty: no auth")
	fs.DurationVar(&cfg.maxRange, "max_range", api.DefaultMaxRange, "longest from..to range a query may ask for")
	fs.DurationVar(&cfg.storeTimeout, "store_timeout", api.DefaultStoreTimeout, "timeout of every view-store call")
	fs.DurationVar(&cfg.stateRefresh, "state_refresh", api.DefaultStateRefresh, "how often to re-read the batch publications and the speed watermark; 0: on every request")
	fs.IntVar(&cfg.cacheEntries, "cache_entries", api.DefaultCacheEntries, "response cache size in entries; 0: no cache")
	fs.IntVar(&cfg.batchIndexRows, "batch_index_rows", api.DefaultBatchIndexRows, "rows of published batch days held in memory (about 50 bytes each), so that queries read only the speed layer from the store; 0: no index")
	fs.DurationVar(&cfg.cacheTTL, "cache_ttl", api.DefaultCacheTTL, "longest time a cached response is served")
	fs.IntVar(&cfg.maxExpensive, "max_expensive", api.DefaultMaxExpensive, "expensive queries (top/keys over more than --expensive_range, one key over 7 times it) that run at once; the others wait --queue_wait, then get 503")
	fs.DurationVar(&cfg.expensiveRange, "expensive_range", api.DefaultExpensiveRange, "range of a top or keys query beyond which it is expensive")
	fs.DurationVar(&cfg.queueWait, "queue_wait", api.DefaultQueueWait, "how long an expensive query waits for a slot before it is shed with 503")
	fs.DurationVar(&cfg.readTimeout, "read_timeout", 5*time.Second, "HTTP server read timeout (whole request, headers included)")
	fs.DurationVar(&cfg.writeTimeout, "write_timeout", 15*time.Second, "HTTP server write timeout (from the end of the request headers to the end of the response)")
	fs.DurationVar(&cfg.idleTimeout, "idle_timeout", 60*time.Second, "HTTP keep-alive idle timeout")
	fs.DurationVar(&cfg.shutdownTimeout, "shutdown_timeout", 10*time.Second, "how long a graceful shutdown waits for requests in flight")
	fs.TextVar(&cfg.logLevel, "log_level", slog.LevelInfo, "log level: DEBUG, INFO, WARN or ERROR")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q: every setting is a flag (see -help)", fs.Args())
	}
	return cfg, cfg.validate()
}

func (c config) validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(c.storeURL != "", "--store is required, e.g. --store=sqlite:///var/lib/beamline/views.db")
	_, _, err := net.SplitHostPort(c.addr)
	check(err == nil, "--addr=%q is not host:port: %v", c.addr, err)
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"max_range", c.maxRange}, {"store_timeout", c.storeTimeout}, {"cache_ttl", c.cacheTTL},
		{"expensive_range", c.expensiveRange}, {"queue_wait", c.queueWait},
		{"read_timeout", c.readTimeout}, {"write_timeout", c.writeTimeout}, {"idle_timeout", c.idleTimeout},
		{"shutdown_timeout", c.shutdownTimeout}} {
		check(d.v > 0, "--%s=%s must be positive", d.name, d.v)
	}
	check(c.stateRefresh >= 0, "--state_refresh=%s must not be negative", c.stateRefresh)
	check(c.cacheEntries >= 0, "--cache_entries=%d must not be negative", c.cacheEntries)
	check(c.batchIndexRows >= 0, "--batch_index_rows=%d must not be negative", c.batchIndexRows)
	check(c.maxExpensive > 0, "--max_expensive=%d must be positive", c.maxExpensive)
	check(c.storeTimeout < c.writeTimeout, "--store_timeout=%s must be shorter than --write_timeout=%s, or answers would be cut off",
		c.storeTimeout, c.writeTimeout)
	return errors.Join(errs...)
}

// readToken reads the bearer token from path: the file's content without surrounding whitespace.
func readToken(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read --auth_token_file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("read --auth_token_file %s: the file is empty", path)
	}
	if strings.ContainsAny(tok, " \t\r\n") {
		return "", fmt.Errorf("read --auth_token_file %s: the token contains whitespace", path)
	}
	return tok, nil
}
