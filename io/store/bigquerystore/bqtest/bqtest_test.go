package bqtest

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// outcomeTB records how Binary ended a test: Fatal and Skip stop the goroutine as testing.T's do.
type outcomeTB struct {
	testing.TB
	outcome, msg string
}

func (o *outcomeTB) Helper() {}

func (o *outcomeTB) Fatal(args ...any) { o.end("fatal", args...) }

func (o *outcomeTB) Skip(args ...any) { o.end("skip", args...) }

func (o *outcomeTB) end(outcome string, args ...any) {
	o.outcome, o.msg = outcome, fmt.Sprint(args...)
	runtime.Goexit()
}

// binary runs Binary with a recording TB and returns the path and how it ended ("" if it
// returned).
func binary(t *testing.T) (path, outcome, msg string) {
	o := &outcomeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		path = Binary(o)
	}()
	<-done
	return path, o.outcome, o.msg
}

// TestBinary checks where Binary looks and that a missing emulator skips, or fails when
// required, with a message that says how to build it.
func TestBinary(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "bigquery-emulator")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(t.TempDir(), "bigquery-emulator")
	if err := os.WriteFile(plain, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	tests := []struct {
		name, bin, dir, require string
		wantPath, wantOutcome   string
	}{
		{name: "dir", dir: dir, wantPath: exe},
		{name: "bin", bin: exe, dir: empty, wantPath: exe},
		{name: "missing skips", dir: empty, wantOutcome: "skip"},
		{name: "missing required fails", dir: empty, require: "1", wantOutcome: "fatal"},
		{name: "not required", dir: empty, require: "0", wantOutcome: "skip"},
		{name: "not executable", dir: filepath.Dir(plain), wantOutcome: "skip"},
		{name: "not executable required", dir: filepath.Dir(plain), require: "1", wantOutcome: "fatal"},
		{name: "wrong bin fails", bin: filepath.Join(empty, "nope"), wantOutcome: "fatal"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(BinEnv, tc.bin)
			t.Setenv(DirEnv, tc.dir)
			t.Setenv(RequireEnv, tc.require)
			path, outcome, msg := binary(t)
			if path != tc.wantPath || outcome != tc.wantOutcome {
				t.Fatalf("Binary = %q, ended %q (%s); want %q, ended %q", path, outcome, msg, tc.wantPath, tc.wantOutcome)
			}
			if outcome != "" && !strings.Contains(msg, "scripts/build-bigquery-emulator.sh") {
				t.Errorf("message %q does not say how to build the emulator", msg)
			}
		})
	}
}
