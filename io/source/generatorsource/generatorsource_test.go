package generatorsource

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/io/generator"
	"github.com/beamline/beamline/io/source"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		url     string
		want    Params
		wantErr string
	}{
		{url: "generator://", want: Params{Rate: DefaultRate, Speedup: 1, Generator: generator.Config{Seed: DefaultSeed, MaxLateness: DefaultMaxLate}}},
		{
			url: "generator://?rate=5000&dup=0.02&late=0.05&bad=0.01&bots=0.03&seed=7&users=50&max_late=2m&start=2026-11-20T10:00:00Z&speedup=60&count=100",
			want: Params{Rate: 5000, Speedup: 60, Count: 100, Start: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC),
				Generator: generator.Config{Seed: 7, Users: 50, DupFraction: 0.02, LateFraction: 0.05, BadFraction: 0.01, BotFraction: 0.03, MaxLateness: 2 * time.Minute}},
		},
		{url: "generator://?rate=0", wantErr: "rate must be positive"},
		{url: "generator://?rate=x", wantErr: `rate="x"`},
		{url: "generator://?dup=1.5", wantErr: "not a fraction"},
		{url: "generator://?dup=0.6&late=0.6", wantErr: "more than 1"},
		{url: "generator://?speed=3", wantErr: `unknown parameter "speed"`},
		{url: "generator://host/path", wantErr: "unexpected host or path"},
		{url: "generator://?start=yesterday", wantErr: "start="},
		{url: "generator://?max_late=-1s", wantErr: "max_late must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			u, err := url.Parse(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseURL(u)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseURL(%s) = %v, want an error containing %q", tt.url, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("ParseURL(%s) (-want +got):\n%s", tt.url, d)
			}
		})
	}
}

func TestRegistered(t *testing.T) {
	if err := source.Validate("generator://?rate=10", source.Options{}); err != nil {
		t.Fatal(err)
	}
	if err := source.Validate("nosuch://x", source.Options{}); err == nil || !strings.Contains(err.Error(), "generator") {
		t.Errorf("an unknown scheme: %v, want an error that lists the registered schemes", err)
	}
}

// TestRecordsArePositions checks that the reader's record at a position does not depend on
// the order it is asked for (a moved or restarted reader regenerates from the seed).
func TestRecordsArePositions(t *testing.T) {
	cfg := generator.Config{Seed: 3, EventsPerSecond: 10, BadFraction: 0.1, DupFraction: 0.1}
	a, b := &readFn{Config: cfg}, &readFn{Config: cfg}
	for pos := int64(0); pos < 50; pos++ {
		a.record(pos)
	}
	for _, pos := range []int64{49, 10, 11, 30} {
		want := (&readFn{Config: cfg}).record(pos)
		if got := b.record(pos); string(got.Raw) != string(want.Raw) {
			t.Errorf("record %d: %s, want %s", pos, got.Raw, want.Raw)
		}
	}
}
