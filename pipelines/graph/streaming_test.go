package graph

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/teststream"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/filter"

	"github.com/beamline/beamline/io/event"
	"github.com/beamline/beamline/io/views"
	"github.com/beamline/beamline/transforms/aggregate"
)

func TestMain(m *testing.M) { ptest.Main(m) }

func init() {
	register.Function2x0[views.Row, func(string)](finalVersion)
	register.Function1x2[string, int, string](keyed)
	register.Function1x2[event.DeadLetter, int, string](deadKey)
	register.Function1x2[[]byte, int, string](marker)
	register.DoFn3x1[context.Context, int, func(*string) bool, error](&checkFn{})
	register.Emitter1[string]()
	register.Iter1[string]()
}

var t0 = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

func raw(id, typ, user, country string, at time.Duration) event.Raw {
	ts := t0.Add(at).Format(time.RFC3339Nano)
	return event.Raw{Source: "test/" + id, Bytes: []byte(fmt.Sprintf(
		`{"event_id":%q,"type":%q,"user_id":%q,"url":"https://shop.example/p/1","country":%q,"ts":%q}`, id, typ, user, country, ts))}
}

// finalVersion names a version of a country_activity or sessions row by its key, window and
// event count.
func finalVersion(r views.Row, emit func(string)) {
	if r.View == views.CountryActivity || r.View == views.Sessions {
		emit(fmt.Sprintf("%s %s %s events=%d", r.View, r.Key, r.WindowStart.Format("15:04"), r.Metrics["events"]))
	}
}

func keyed(v string) (int, string) { return 0, v }

func deadKey(dl event.DeadLetter) (int, string) { return 0, "dead " + dl.Reason + " " + dl.Source }

// marker is the empty element that makes check's group exist when the output is empty, so that
// an empty output fails instead of passing unchecked.
func marker(_ []byte) (int, string) { return 0, "" }

// check checks the distinct versions and dead letters of out (see checkFn): every one in want.
func check(s beam.Scope, want []string, out ...beam.PCollection) {
	all := append([]beam.PCollection{beam.ParDo(s, marker, beam.Impulse(s))}, out...)
	beam.ParDo0(s, &checkFn{Want: want}, beam.GroupByKey(s, beam.Flatten(s, all...)))
}

// checkFn checks the distinct versions: every one in Want, none outside it.
type checkFn struct {
	Want []string
}

func (f *checkFn) ProcessElement(_ context.Context, _ int, got func(*string) bool) error {
	seen := map[string]bool{}
	var v string
	for got(&v) {
		if v != "" { // the marker
			seen[v] = true
		}
	}
	var errs []string
	for _, w := range f.Want {
		if !seen[w] {
			errs = append(errs, "missing: "+w)
		}
		delete(seen, w)
	}
	for g := range seen {
		errs = append(errs, "unexpected: "+g)
	}
	sort.Strings(errs)
	if len(errs) > 0 {
		return fmt.Errorf("streaming graph output differs:\n%s", strings.Join(errs, "\n"))
	}
	return nil
}

// TestStreamingDedupesAcrossPanes runs the streaming chain on a teststream of raw records: a
// duplicate that arrives after its window's on-time pane does not count, a late event within
// the allowed lateness updates the window and joins its user's session, a record beyond the
// lateness is dropped, and garbage goes to the dead letters.
func TestStreamingDedupesAcrossPanes(t *testing.T) {
	cfg := teststream.NewConfig()
	add := func(at time.Duration, raws ...event.Raw) {
		if err := cfg.AddElementList(t0.Add(at).UnixMilli(), raws); err != nil {
			t.Fatal(err)
		}
	}
	advance := func(d time.Duration) {
		if err := cfg.AdvanceWatermark(t0.Add(d).UnixMilli()); err != nil {
			t.Fatal(err)
		}
	}
	add(5*time.Second, raw("e1", "pageview", "u1", "DE", 5*time.Second), raw("e2", "click", "u2", "FR", 6*time.Second))
	advance(time.Minute + time.Millisecond)                              // on-time pane: DE 1, FR 1
	add(5*time.Second, raw("e1", "pageview", "u1", "DE", 5*time.Second)) // a duplicate after the pane
	add(30*time.Second, raw("e3", "click", "u1", "de", 30*time.Second))  // late, within the lateness
	add(40*time.Second, event.Raw{Source: "test/garbage", Bytes: []byte("not json")})
	advance(30 * time.Minute)                                           // the window has expired
	add(50*time.Second, raw("e4", "click", "u1", "DE", 50*time.Second)) // beyond the lateness
	if err := cfg.AdvanceWatermarkToInfinity(); err != nil {
		t.Fatal(err)
	}

	p, s := beam.NewPipelineWithRoot()
	raws := teststream.Create(s, cfg)
	out := Streaming(s, StreamingConfig{Speed: aggregate.SpeedOptions{AllowedLateness: 5 * time.Minute}}, raws)
	versions := filter.Distinct(s, beam.ParDo(s, finalVersion, out.Rows))
	check(s, []string{
		"country_activity DE 10:00 events=1", "country_activity DE 10:00 events=2",
		"country_activity FR 10:00 events=1",
		"sessions DE 10:00 events=2", "sessions FR 10:00 events=1",
		"dead invalid_json test/garbage",
	}, beam.ParDo(s, keyed, versions), beam.ParDo(s, deadKey, out.DeadLetters))
	if err := ptest.Run(p); err != nil {
		t.Fatal(err)
	}
}
