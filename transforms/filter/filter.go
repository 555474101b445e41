// Package filter drops events early, before dedupe and aggregation, and counts every event it
// drops under the name of the filter that dropped it.
//
// Each filter is a small predicate; Config turns the configured ones on. They run in a fixed
// order (out_of_range, country, bot, blocked_user) and the first that matches counts the event,
// so an event is counted once. Counters are Beam metrics named "filtered_<filter>" in the
// namespace "beamline".
package filter

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/beamline/beamline/io/event"
	"github.com/beamline/beamline/transforms/scope"
)

// Filter names, as they appear in metrics and in the batch job's report.
const (
	OutOfRange  = "out_of_range"
	Country     = "country"
	Bot         = "bot"
	BlockedUser = "blocked_user"
)

// Names lists the filters in the order they run.
var Names = []string{OutOfRange, Country, Bot, BlockedUser}

// DefaultBotPatterns are the user-agent substrings that mark a bot by default.
var DefaultBotPatterns = []string{"bot", "crawler", "spider"}

// Config says which filters run. The zero value filters nothing.
type Config struct {
	// From and To bound event time to [From, To); zero values leave that side open.
	From, To time.Time
	// Countries are the monitored countries (upper case); empty monitors every country.
	Countries []string
	// BotPatterns are matched case-insensitively as substrings of the user agent.
	BotPatterns []string
	// BlockedUsers are user IDs whose events are dropped.
	BlockedUsers []string
	// Owned is the event-time range whose events the run counts (package scope); a filtered
	// event outside it is context of a batch run, dropped without being counted. The zero
	// Range counts every event.
	Owned scope.Range
}

// Validate reports a configuration that cannot be right.
func (c Config) Validate() error {
	if !c.From.IsZero() && !c.To.IsZero() && !c.From.Before(c.To) {
		return fmt.Errorf("filter: empty time range [%s, %s)", c.From, c.To)
	}
	for _, p := range c.BotPatterns {
		if p == "" {
			return fmt.Errorf("filter: empty bot pattern matches every user agent")
		}
	}
	return nil
}

// matcher is the compiled form of Config.
type matcher struct {
	from, to  time.Time
	countries map[string]bool
	bots      []string
	blocked   map[string]bool
}

func newMatcher(c Config) *matcher {
	m := &matcher{from: c.From, to: c.To, countries: set(c.Countries, strings.ToUpper), blocked: set(c.BlockedUsers, nil)}
	for _, p := range c.BotPatterns {
		m.bots = append(m.bots, strings.ToLower(p))
	}
	return m
}

func set(values []string, norm func(string) string) map[string]bool {
	out := make(map[string]bool, len(values))
	for _, v := range values {
		if norm != nil {
			v = norm(v)
		}
		out[v] = true
	}
	return out
}

// Match returns the name of the first filter that drops e, or "" if e passes them all.
func (m *matcher) Match(e event.Event) string {
	switch {
	case (!m.from.IsZero() && e.Time.Before(m.from)) || (!m.to.IsZero() && !e.Time.Before(m.to)):
		return OutOfRange
	case len(m.countries) > 0 && !m.countries[e.Country]:
		return Country
	case m.isBot(e.UserAgent):
		return Bot
	case m.blocked[e.UserID]:
		return BlockedUser
	}
	return ""
}

// Keeps returns the rule that Apply applies: whether c's filters keep an event.
func (c Config) Keeps() func(event.Event) bool {
	m := newMatcher(c)
	return func(e event.Event) bool { return m.Match(e) == "" }
}

func (m *matcher) isBot(ua string) bool {
	if len(m.bots) == 0 || ua == "" {
		return false
	}
	ua = strings.ToLower(ua)
	for _, p := range m.bots {
		if strings.Contains(ua, p) {
			return true
		}
	}
	return false
}

func init() {
	register.DoFn3x0[context.Context, event.Event, func(event.Event)](&filterFn{})
	register.Emitter1[event.Event]()
}

// filterFn passes the events that no filter drops and counts the others.
type filterFn struct {
	Config   Config
	matcher  *matcher
	counters map[string]beam.Counter
}

func (f *filterFn) Setup() {
	f.matcher = newMatcher(f.Config)
	f.counters = make(map[string]beam.Counter, len(Names))
	for _, n := range Names {
		f.counters[n] = beam.NewCounter("beamline", "filtered_"+n)
	}
}

func (f *filterFn) ProcessElement(ctx context.Context, e event.Event, emit func(event.Event)) {
	if name := f.matcher.Match(e); name != "" {
		if f.Config.Owned.Contains(e.Time) {
			f.counters[name].Inc(ctx, 1)
		}
		return
	}
	emit(e)
}

// Apply drops the events that cfg filters out.
// It takes and returns a PCollection<event.Event>; windowing is preserved.
func Apply(s beam.Scope, cfg Config, events beam.PCollection) beam.PCollection {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	s = s.Scope("filter.Apply")
	return beam.ParDo(s, &filterFn{Config: cfg}, events)
}
