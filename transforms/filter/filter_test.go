package filter

import (
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/beamline/beamline/io/event"
	"github.com/beamline/beamline/transforms/internal/beamtest"
)

func TestMain(m *testing.M) { ptest.Main(m) }

var (
	day  = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	full = Config{From: day, To: day.AddDate(0, 0, 1), Countries: []string{"de", "FR"},
		BotPatterns: DefaultBotPatterns, BlockedUsers: []string{"u-blocked"}}
)

func TestMatch(t *testing.T) {
	ok := event.Event{ID: "e", UserID: "u", Country: "DE", UserAgent: "Mozilla/5.0", Time: day.Add(time.Hour)}
	with := func(f func(*event.Event)) event.Event { e := ok; f(&e); return e }
	tests := []struct {
		name string
		cfg  Config
		e    event.Event
		want string
	}{
		{"passes", full, ok, ""},
		{"zero config passes everything", Config{}, with(func(e *event.Event) { e.UserAgent = "Googlebot"; e.Country = "ZZ" }), ""},
		{"first instant of the range is in", full, with(func(e *event.Event) { e.Time = day }), ""},
		{"last millisecond of the range is in", full, with(func(e *event.Event) { e.Time = day.Add(24*time.Hour - time.Millisecond) }), ""},
		{"end of the range is out", full, with(func(e *event.Event) { e.Time = day.Add(24 * time.Hour) }), OutOfRange},
		{"before the range", full, with(func(e *event.Event) { e.Time = day.Add(-time.Millisecond) }), OutOfRange},
		{"unmonitored country", full, with(func(e *event.Event) { e.Country = "US" }), Country},
		{"monitored list is upper-cased", full, with(func(e *event.Event) { e.Country = "FR" }), ""},
		{"bot in any case", full, with(func(e *event.Event) { e.UserAgent = "Mozilla (compatible; GoogleBOT/2.1)" }), Bot},
		{"crawler", full, with(func(e *event.Event) { e.UserAgent = "SomeCrawler" }), Bot},
		{"spider", full, with(func(e *event.Event) { e.UserAgent = "a spider" }), Bot},
		{"blocked user", full, with(func(e *event.Event) { e.UserID = "u-blocked" }), BlockedUser},
		{"first matching filter counts", full, with(func(e *event.Event) { e.Country = "US"; e.UserAgent = "bot"; e.UserID = "u-blocked" }), Country},
		{"out of range before everything", full, with(func(e *event.Event) { e.Time = day.AddDate(0, 0, 2); e.UserAgent = "bot" }), OutOfRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := newMatcher(tt.cfg).Match(tt.e); got != tt.want {
				t.Errorf("Match = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	if err := (Config{From: day, To: day}).Validate(); err == nil {
		t.Error("empty range: no error")
	}
	if err := (Config{BotPatterns: []string{""}}).Validate(); err == nil {
		t.Error("empty bot pattern: no error")
	}
	if err := full.Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

func TestApply(t *testing.T) {
	in := []event.Event{
		{ID: "keep", UserID: "u", Country: "DE", Time: day},
		{ID: "bot", UserID: "u", Country: "DE", UserAgent: "bot", Time: day},
		{ID: "late", UserID: "u", Country: "DE", Time: day.AddDate(0, 0, 3)},
	}
	p, s := beam.NewPipelineWithRoot()
	beamtest.Equal(s, Apply(s, full, beam.CreateList(s, in)), []event.Event{in[0]})
	if err := ptest.Run(p); err != nil {
		t.Fatal(err)
	}
}
