package main

import (
	"context"
	"io"
	"strings"
	"testing"
)

// TestBadFlags checks that wrong flags fail before anything is touched, saying what to fix.
func TestBadFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "--archive is required"},
		{[]string{"--archive=/x", "--from=20261120"}, "--from"},
		{[]string{"--archive=/x", "--from=2026-11-21", "--to=2026-11-20"}, "before --from"},
		{[]string{"--archive=/x", "--grace=-1h"}, "must not be negative"},
		{[]string{"--archive=/x", "--target_bytes=0"}, "must be positive"},
	} {
		err := run(context.Background(), tt.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("run(%q) = %v, want an error containing %q", tt.args, err, tt.want)
		}
	}
}
