package main

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/beamline/beamline/io/store"
)

func TestParseFlagsRejects(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no store", nil, "--store is required"},
		{"bad addr", []string{"--store=sqlite:///x.db", "--addr=8080"}, "--addr"},
		{"zero timeout", []string{"--store=sqlite:///x.db", "--store_timeout=0s"}, "--store_timeout=0s must be positive"},
		{"store timeout too long", []string{"--store=sqlite:///x.db", "--store_timeout=20s", "--write_timeout=10s"}, "shorter than --write_timeout"},
		{"negative cache", []string{"--store=sqlite:///x.db", "--cache_entries=-1"}, "--cache_entries"},
		{"stray argument", []string{"--store=sqlite:///x.db", "extra"}, "unexpected arguments"},
		{"bad level", []string{"--store=sqlite:///x.db", "--log_level=LOUD"}, "log_level"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseFlags(tt.args, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("parseFlags(%q) = %v, want an error with %q", tt.args, err, tt.want)
			}
		})
	}
}

func TestReadToken(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if tok, err := readToken(write("ok", "s3cret\n")); tok != "s3cret" || err != nil {
		t.Errorf("readToken = %q, %v; want s3cret", tok, err)
	}
	for _, p := range []string{write("empty", " \n"), write("spaces", "a b"), filepath.Join(dir, "missing")} {
		if _, err := readToken(p); err == nil {
			t.Errorf("readToken(%s) succeeded, want an error", p)
		}
	}
}

// TestRunServesAndShutsDown refuses a store that does not exist (creating nothing), then starts
// the server on a real store and port, checks that it answers (with auth), and that cancelling
// its context shuts it down.
func TestRunServesAndShutsDown(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	storeURL := "sqlite://" + filepath.Join(dir, "views.db")
	cfg, err := parseFlags([]string{"--store=" + storeURL, "--addr=127.0.0.1:0", "--auth_token_file=" + tokenFile}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	err = run(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if !errors.Is(err, store.ErrNotExist) || !strings.Contains(err.Error(), "never creates one: check --store") {
		t.Fatalf("run on a store that does not exist = %v, want a refusal that says to check --store", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "views.db")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the refused run created the store file (stat: %v)", err)
	}
	st, err := store.Open(context.Background(), storeURL) // as a job would
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("run: %v", err)
	}
	get := func(path, token string) int {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("/healthz", ""); code != 200 {
		t.Errorf("/healthz = %d", code)
	}
	if code := get("/v1/status", ""); code != 401 {
		t.Errorf("/v1/status without token = %d, want 401", code)
	}
	if code := get("/v1/status", "s3cret"); code != 200 {
		t.Errorf("/v1/status with token = %d, want 200", code)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not shut down")
	}
}

// TestNoBeamDependency keeps the serving binary free of the Beam SDK (DESIGN.md: it stays small
// and starts fast).
func TestNoBeamDependency(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.Contains(pkg, "apache/beam") {
			t.Errorf("the serving binary depends on %s", pkg)
		}
	}
}
