// Package generatorsource is the source driver for generator:// URLs: the synthetic clickstream
// of package generator, paced in real time, for the local demo, tests and load tests.
//
//	generator://?rate=N&dup=F&late=F&bad=F&seed=S
//
// Parameters (all optional):
//   - rate: records per second of wall-clock time (default 100);
//   - dup, late, bad, bots: fractions of duplicates, late events, garbage and bot events
//     (defaults 0);
//   - seed: the generator's seed (default 1): the same URL gives the same records;
//   - users: distinct users (default 1000);
//   - max_late: how far a late event lags the clock, a Go duration (default 5m, within the
//     streaming job's default allowed lateness of 10m);
//   - start: the event time of the first record, RFC 3339 (default: when the job starts);
//   - speedup: event time runs this many times faster than the wall clock (default 1), so a
//     test covers hours of event time in minutes;
//   - count: stop after this many records (default 0: never). The source then finishes, its
//     watermark goes to the end of time, and a job reading only it drains and ends.
//
// Records are timestamped with their event time (garbage with the generator's clock); the
// watermark is the generator's clock, so late events are late data, exactly as generated.
// Messages need no acknowledgement.
package generatorsource

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/sdf"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/beamline/beamline/io/generator"
	"github.com/beamline/beamline/io/source"
	"github.com/beamline/beamline/io/source/internal/restriction"
)

// Scheme is the URL scheme of this driver.
const Scheme = "generator"

func init() {
	source.Register(Scheme, driver{})
	register.DoFn5x2[context.Context, *sdf.ManualWatermarkEstimator, *sdf.LockRTracker, []byte, func(beam.EventTime, source.Message), sdf.ProcessContinuation, error](&readFn{})
	register.Emitter2[beam.EventTime, source.Message]()
}

// Defaults of the URL parameters.
const (
	DefaultRate    = 100
	DefaultSeed    = 1
	DefaultMaxLate = 5 * time.Minute
)

// tick is how often the reader emits what has come due: each call emits the records due by
// then and checkpoints, so every bundle is bounded (about tick long).
const tick = 200 * time.Millisecond

// Params are a generator URL's parameters.
type Params struct {
	// Rate is records per second of wall-clock time.
	Rate float64
	// Speedup is how many times faster than the wall clock event time runs.
	Speedup float64
	// Count stops the source after this many records; 0 never stops.
	Count int64
	// Start is the event time of the first record; zero means when the job starts.
	Start time.Time
	// Generator configures the records (its EventsPerSecond and Start are set from the above).
	Generator generator.Config
}

// ParseURL parses a generator:// URL.
func ParseURL(u *url.URL) (Params, error) {
	if u.Scheme != Scheme {
		return Params{}, fmt.Errorf("generator source: scheme %q, want %q", u.Scheme, Scheme)
	}
	if u.Host != "" || (u.Path != "" && u.Path != "/") {
		return Params{}, fmt.Errorf("generator source: unexpected host or path in %q: use generator://?rate=N (and the other parameters)", u.Redacted())
	}
	p := params{q: u.Query()}
	out := Params{
		Rate:    p.float("rate", DefaultRate),
		Speedup: p.float("speedup", 1),
		Count:   p.int("count", 0),
		Start:   p.time("start"),
		Generator: generator.Config{
			Seed:         uint64(p.int("seed", DefaultSeed)),
			Users:        int(p.int("users", 0)),
			DupFraction:  p.fraction("dup"),
			LateFraction: p.fraction("late"),
			BadFraction:  p.fraction("bad"),
			BotFraction:  p.fraction("bots"),
			MaxLateness:  p.duration("max_late", DefaultMaxLate),
		},
	}
	if p.err == nil {
		p.err = out.validate(p.q)
	}
	return out, p.err
}

func (p Params) validate(q url.Values) error {
	switch {
	case p.Rate <= 0:
		return fmt.Errorf("generator source: rate must be positive")
	case p.Speedup <= 0:
		return fmt.Errorf("generator source: speedup must be positive")
	case p.Count < 0:
		return fmt.Errorf("generator source: count must not be negative")
	case p.Generator.Users < 0:
		return fmt.Errorf("generator source: users must not be negative")
	case p.Generator.MaxLateness <= 0:
		return fmt.Errorf("generator source: max_late must be positive")
	}
	g := p.Generator
	if sum := g.DupFraction + g.LateFraction + g.BadFraction + g.BotFraction; sum > 1 {
		return fmt.Errorf("generator source: dup+late+bad+bots = %g, more than 1", sum)
	}
	for k := range q {
		if !known[k] {
			return fmt.Errorf("generator source: unknown parameter %q", k)
		}
	}
	return nil
}

var known = map[string]bool{"rate": true, "speedup": true, "count": true, "start": true, "seed": true,
	"users": true, "dup": true, "late": true, "bad": true, "bots": true, "max_late": true}

// params reads query parameters; the first error sticks.
type params struct {
	q   url.Values
	err error
}

func (p *params) fail(name string, err error) {
	if p.err == nil {
		p.err = fmt.Errorf("generator source: %s=%q: %w", name, p.q.Get(name), err)
	}
}

func (p *params) float(name string, def float64) float64 {
	if !p.q.Has(name) {
		return def
	}
	v, err := strconv.ParseFloat(p.q.Get(name), 64)
	if err != nil {
		p.fail(name, err)
	}
	return v
}

func (p *params) fraction(name string) float64 {
	v := p.float(name, 0)
	if v < 0 || v > 1 {
		p.fail(name, fmt.Errorf("not a fraction in [0, 1]"))
	}
	return v
}

func (p *params) int(name string, def int64) int64 {
	if !p.q.Has(name) {
		return def
	}
	v, err := strconv.ParseInt(p.q.Get(name), 10, 64)
	if err != nil {
		p.fail(name, err)
	}
	return v
}

func (p *params) duration(name string, def time.Duration) time.Duration {
	if !p.q.Has(name) {
		return def
	}
	v, err := time.ParseDuration(p.q.Get(name))
	if err != nil {
		p.fail(name, err)
	}
	return v
}

func (p *params) time(name string) time.Time {
	if !p.q.Has(name) {
		return time.Time{}
	}
	v, err := time.Parse(time.RFC3339Nano, p.q.Get(name))
	if err != nil {
		p.fail(name, err)
	}
	return v.UTC()
}

type driver struct{}

func (driver) Validate(u *url.URL) error {
	_, err := ParseURL(u)
	return err
}

func (driver) Read(s beam.Scope, u *url.URL, _ source.Options) beam.PCollection {
	p, err := ParseURL(u)
	if err != nil {
		panic(err) // source.Read validated the URL
	}
	return Read(s, p, time.Now())
}

func (driver) OpenAcker(context.Context, *url.URL) (source.Acker, error) {
	return source.NopAcker{}, nil
}

// Read generates the records of p, paced from wallStart (the wall-clock time of record 0), and
// returns an unbounded PCollection<source.Message> timestamped with event time.
func Read(s beam.Scope, p Params, wallStart time.Time) beam.PCollection {
	s = s.Scope("generatorsource.Read")
	cfg := p.Generator
	cfg.EventsPerSecond = p.Rate / p.Speedup
	cfg.Start = p.Start
	if cfg.Start.IsZero() {
		cfg.Start = wallStart.UTC()
	}
	end := int64(restriction.Unbounded)
	if p.Count > 0 {
		end = p.Count
	}
	fn := &readFn{Config: cfg, Rate: p.Rate, WallStartMs: wallStart.UnixMilli(), End: end}
	return beam.ParDo(s, fn, beam.Impulse(s))
}

// readFn emits the generator's records as they come due in wall-clock time.
type readFn struct {
	Config      generator.Config
	Rate        float64
	WallStartMs int64
	End         int64

	gen  *generator.Generator
	next int64 // the position of the record gen returns next
}

func (f *readFn) CreateInitialRestriction(_ []byte) restriction.Restriction {
	return restriction.Restriction{Start: 0, End: f.End}
}

func (f *readFn) SplitRestriction(_ []byte, r restriction.Restriction) []restriction.Restriction {
	return []restriction.Restriction{r}
}

func (f *readFn) RestrictionSize(_ []byte, r restriction.Restriction) float64 {
	return float64(max(f.due(time.Now())-r.Start, 1))
}

func (f *readFn) CreateTracker(r restriction.Restriction) *sdf.LockRTracker {
	return sdf.NewLockRTracker(restriction.NewTracker(r))
}

func (f *readFn) TruncateRestriction(_ *sdf.LockRTracker, _ []byte) restriction.Restriction {
	return restriction.Restriction{}
}

func (f *readFn) CreateWatermarkEstimator() *sdf.ManualWatermarkEstimator {
	return &sdf.ManualWatermarkEstimator{}
}

// due returns how many records are due at now.
func (f *readFn) due(now time.Time) int64 {
	return int64(f.Rate * now.Sub(time.UnixMilli(f.WallStartMs)).Seconds())
}

// clock returns the generator's clock at record pos: the watermark once pos is next.
func (f *readFn) clock(pos int64) time.Time {
	return f.Config.Start.Add(time.Duration(float64(pos) * 1e9 / f.Config.EventsPerSecond))
}

// record returns the record at pos, regenerating from the seed when pos is not the next one
// (a restarted or moved reader).
func (f *readFn) record(pos int64) generator.Record {
	if f.gen == nil || f.next > pos {
		f.gen, f.next = generator.New(f.Config), 0
	}
	for f.next < pos {
		f.gen.Next()
		f.next++
	}
	f.next++
	return f.gen.Next()
}

func (f *readFn) ProcessElement(ctx context.Context, we *sdf.ManualWatermarkEstimator, rt *sdf.LockRTracker, _ []byte, emit func(beam.EventTime, source.Message)) (sdf.ProcessContinuation, error) {
	started := time.Now()
	pos := rt.GetRestriction().(restriction.Restriction).Start
	we.UpdateWatermark(f.clock(pos))
	limit := min(f.due(started), pos+int64(f.Rate)) // at most a second's worth per call
	for ; pos < limit; pos++ {
		if !rt.TryClaim(pos) {
			return sdf.StopProcessing(), rt.GetError()
		}
		rec := f.record(pos)
		emit(mtime.FromTime(rec.EventTime), source.Message{Data: rec.Raw, Source: "generator/" + strconv.FormatInt(pos, 10)})
	}
	if pos >= f.End {
		rt.TryClaim(pos) // claims the end: the restriction is done
		return sdf.StopProcessing(), rt.GetError()
	}
	we.UpdateWatermark(f.clock(pos))
	return sdf.ResumeProcessingIn(max(tick-time.Since(started), 0)), nil
}
