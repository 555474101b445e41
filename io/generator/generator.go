// Package generator produces a deterministic synthetic clickstream: beamline events as JSON lines,
// with duplicates, late events, bots and garbage mixed in at configurable fractions.
//
// The same seed and config always give the same records. The generator backs the sample lake
// (scripts/genlake), benchmarks, and the generator:// source of the streaming job.
//
// # Usage
//
//	g := generator.New(generator.Config{Seed: 1, Start: start, EventsPerSecond: 100, Users: 1000,
//		DupFraction: 0.02, LateFraction: 0.05, BadFraction: 0.01, BotFraction: 0.03})
//	for {
//		rec := g.Next()
//		// rec.Raw is one JSON line (no '\n'); file it under rec.EventTime.
//	}
//
// # What it generates
//
// A clock starts at Config.Start and advances by 1/EventsPerSecond per record. Each record is,
// with the configured fractions, garbage (Bad), an exact byte copy of a recent event (Duplicate),
// an event whose time is pushed back by up to MaxLateness (Late), an event from a bot user agent
// (Bot), or else a Normal event. Events are pageviews (70%), clicks (20%) and posts (10%, with a
// short text and sometimes no url) of users who come back to the site in bursts, so that their
// sessions split at 30-minute gaps. URLs are mostly under https://shop.example/ (/p/N, /c/NAME,
// /blog/..., /help/...) with some on other hosts; countries are mostly upper-case, some
// lower-case, some missing or null; a few timestamps carry an offset, whole seconds or
// nanoseconds; a few events have unknown extra fields.
package generator

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"time"
)

// Config says what to generate. The zero value of a field means its default.
type Config struct {
	// Seed makes the stream reproducible.
	Seed uint64
	// Start is the clock's start (event time of the first record); zero means the Unix epoch.
	Start time.Time
	// EventsPerSecond spaces the records in event time; default 10.
	EventsPerSecond float64
	// Users is the number of distinct users; default 1000.
	Users int
	// DupFraction is the fraction of records that are exact copies of a recent event.
	DupFraction float64
	// LateFraction is the fraction of records whose event time lags the clock by up to MaxLateness.
	LateFraction float64
	// BadFraction is the fraction of records that are dead letters, of every kind.
	BadFraction float64
	// BotFraction is the fraction of records from bot user agents.
	BotFraction float64
	// MaxLateness bounds how far a late event lags the clock; default 15 minutes. Late events never
	// go before Start.
	MaxLateness time.Duration
}

// Kind says what a record is. Fractions are drawn in the order Bad, Duplicate, Late, Bot.
type Kind uint8

// The kinds of record.
const (
	Normal Kind = iota
	Late
	Bot
	Duplicate
	Bad
)

var kindNames = [...]string{"normal", "late", "bot", "duplicate", "bad"}

// String returns the kind's name.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Record is one generated line.
type Record struct {
	// Raw is one JSON line, without '\n'.
	Raw []byte
	// EventTime is the time whose partition the record belongs in: its event time (UTC), or for
	// garbage the clock when it was generated.
	EventTime time.Time
	// Arrival is the clock when the record was generated: the order records arrive in.
	Arrival time.Time
	// Kind says what the record is.
	Kind Kind
	// Reason is the dead-letter reason of a Bad record ("invalid_utf8", "invalid_json",
	// "missing_field", "unknown_type", "bad_timestamp"); empty for the others.
	Reason string
}

// Generator produces records; it is not safe for concurrent use.
type Generator struct {
	cfg      Config
	rng      *rand.Rand
	interval float64  // nanoseconds between records
	n        int64    // records generated
	events   int64    // event IDs handed out
	idPrefix string   // of event IDs: "e-<seed's low 16 bits in hex>-"
	recent   []Record // recent events, a ring
	oldest   int      // the oldest in recent, once full
	users    []user
	active   []int // recently active users
}

// ringSize is how many recent events duplicates copy: a duplicate arrives at most ringSize
// records after its original.
const ringSize = 64

// New returns a generator for cfg.
func New(cfg Config) *Generator {
	if cfg.EventsPerSecond <= 0 {
		cfg.EventsPerSecond = 10
	}
	if cfg.Users <= 0 {
		cfg.Users = 1000
	}
	if cfg.Start.IsZero() {
		cfg.Start = time.Unix(0, 0)
	}
	cfg.Start = cfg.Start.UTC()
	if cfg.MaxLateness <= 0 {
		cfg.MaxLateness = 15 * time.Minute
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x6265616d6c696e65)) // "beamline"
	g := &Generator{cfg: cfg, rng: rng, interval: 1e9 / cfg.EventsPerSecond,
		idPrefix: "e-" + strconv.FormatUint(cfg.Seed&0xffff, 16) + "-"}
	g.users = make([]user, cfg.Users)
	for i := range g.users {
		g.users[i] = newUser(rng, i)
	}
	return g
}

// Next returns the next record.
func (g *Generator) Next() Record {
	now := g.cfg.Start.Add(time.Duration(float64(g.n) * g.interval))
	jitter := time.Duration(g.rng.Float64() * g.interval)
	g.n++
	u := g.rng.Float64()
	switch c := g.cfg; {
	case u < c.BadFraction:
		return g.bad(now.Add(jitter), now)
	case u < c.BadFraction+c.DupFraction && len(g.recent) > 0:
		rec := g.recent[g.rng.IntN(len(g.recent))]
		rec.Raw = slices.Clone(rec.Raw)
		rec.Arrival, rec.Kind = now, Duplicate
		return rec
	case u < c.BadFraction+c.DupFraction+c.LateFraction:
		t := now.Add(jitter)
		t = t.Add(-time.Duration(g.rng.Int64N(int64(min(c.MaxLateness, t.Sub(c.Start))) + 1)))
		return g.remember(g.event(t, now, Late))
	case u < c.BadFraction+c.DupFraction+c.LateFraction+c.BotFraction:
		return g.remember(g.event(now.Add(jitter), now, Bot))
	default:
		return g.remember(g.event(now.Add(jitter), now, Normal))
	}
}

// remember keeps rec among the recent events that duplicates copy, the oldest making way.
func (g *Generator) remember(rec Record) Record {
	if len(g.recent) < ringSize {
		g.recent = append(g.recent, rec)
	} else {
		g.recent[g.oldest] = rec
		g.oldest = (g.oldest + 1) % ringSize
	}
	return rec
}

// event generates a valid event of kind (Normal, Late or Bot) at t that arrives at now.
func (g *Generator) event(t, now time.Time, kind Kind) Record {
	ev := g.newEvent(kind == Bot)
	ts, eventTime := g.timestamp(t)
	ev.set("ts", str(ts))
	return Record{Raw: ev.appendJSON(make([]byte, 0, 256)), EventTime: eventTime, Arrival: now, Kind: kind}
}
