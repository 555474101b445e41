package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/beamline/beamline/transforms/aggregate"
)

func TestJobSettled(t *testing.T) {
	report := []string{
		"cpu 3m8.245s, peak RSS 863 MiB",
		"read 599522, processed 422425, filtered 6067, duplicates 4473, dead-lettered 3074 (events still in dedupe or open windows when the job stopped are in none)",
	}
	got, ok := jobSettled(report)
	if want := int64(422425 + 6067 + 4473 + 3074); !ok || got != want {
		t.Errorf("jobSettled = %d, %v; want %d, true", got, ok, want)
	}
	if _, ok := jobSettled(report[:1]); ok {
		t.Error("jobSettled found a count in a report without one")
	}
}

func TestEarlyFiring(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want time.Duration
	}{
		{nil, aggregate.DefaultEarlyFiring},
		{[]string{"--early_firing=2s"}, 2 * time.Second},
		{[]string{"-early_firing=250ms", "--cpuprofile=x"}, 250 * time.Millisecond},
		{[]string{"--early_firing=bad"}, aggregate.DefaultEarlyFiring},
	} {
		if got := earlyFiring(tt.args); got != tt.want {
			t.Errorf("earlyFiring(%q) = %s, want %s", tt.args, got, tt.want)
		}
	}
}

func TestCheckOut(t *testing.T) {
	dir := t.TempDir()
	if err := checkOut(filepath.Join(dir, "new")); err != nil {
		t.Errorf("a missing directory: %v", err)
	}
	if err := checkOut(dir); err != nil {
		t.Errorf("an empty directory: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "views.db"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := checkOut(dir); err == nil {
		t.Error("a directory with an earlier run in it passed")
	}
}
