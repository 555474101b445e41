package score

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/teststream"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/stats"
	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/io/event"
	"github.com/beamline/beamline/transforms/internal/beamtest"
)

func init() {
	register.Function1x2[event.Event, beam.EventTime, event.Event](stamp)
	register.Function2x1[beam.EventTime, string, event.Event](fromLine)
	register.Function3x1[beam.Window, beam.EventTime, event.Event, string](describe)
	register.Function1x2[event.Event, string, int](one)
	register.Function3x1[beam.Window, string, int, string](describeCount)
	register.Function1x1[event.DeadLetter, string](deadID)
}

// stamp puts an event at its event time, as parse does.
func stamp(e event.Event) (beam.EventTime, event.Event) { return mtime.FromTime(e.Time), e }

// fromLine turns "id|type|text" into an event at ts (teststream carries strings only).
func fromLine(ts beam.EventTime, line string) event.Event {
	f := strings.SplitN(line, "|", 3)
	return event.Event{ID: f[0], Type: f[1], Text: f[2], UserID: "u", Time: ts.ToTime().UTC()}
}

// describe says what matters of a scored event: its score, whether its timestamp is still its
// event time, and its window.
func describe(w beam.Window, ts beam.EventTime, e event.Event) string {
	return fmt.Sprintf("%s score=%.1f flagged=%v at_event_time=%v window=%s", e.ID, e.Score, e.Flagged, ts.ToTime().Equal(e.Time), windowString(w))
}

func windowString(w beam.Window) string {
	if iw, ok := w.(window.IntervalWindow); ok {
		return iw.Start.ToTime().UTC().Format("15:04") + "-" + iw.End.ToTime().UTC().Format("15:04")
	}
	return "global"
}

func one(e event.Event) (string, int) { return "events", 1 }

func describeCount(w beam.Window, k string, n int) string {
	return fmt.Sprintf("%s %s=%d", windowString(w), k, n)
}

func deadID(dl event.DeadLetter) string { return dl.Reason + " " + dl.Source }

func testEvents() []event.Event {
	return []event.Event{post(1, "spam offer"), post(2, "nice shoes"), post(3, "more spam"),
		{ID: "c4", Type: event.TypeClick, UserID: "u", URL: "https://x", Time: t0.Add(4 * time.Minute)}}
}

func TestEventsOnPrism(t *testing.T) {
	m := &fakeModel{}
	p, s := beam.NewPipelineWithRoot()
	events := beam.ParDo(s, stamp, beam.CreateList(s, testEvents()))
	scored, dead := Events(s, Config{Model: newFake(t.Name(), m), BatchSize: 2}, events)
	beamtest.Equal(s, beam.ParDo(s, describe, scored), []string{
		"p1 score=0.9 flagged=true at_event_time=true window=global",
		"p2 score=0.1 flagged=false at_event_time=true window=global",
		"p3 score=0.9 flagged=true at_event_time=true window=global",
		"c4 score=0.0 flagged=false at_event_time=true window=global",
	})
	beamtest.Equal(s, dead, []event.DeadLetter{})
	res, err := ptest.RunWithMetrics(p)
	if err != nil {
		t.Fatal(err)
	}
	got := beamtest.Counters(res, "beamline")
	if want := map[string]int64{"scored": 3, "flagged": 2}; !cmp.Equal(want, got) {
		t.Errorf("counters = %v, want %v", got, want)
	}
	dists := map[string]int64{}
	for _, d := range res.Metrics().AllMetrics().Distributions() {
		if d.Namespace() == "beamline" {
			dists[d.Name()] += d.Result().Count
		}
	}
	if dists["score_permille"] != 3 || dists["score_predict_us"] < 2 || dists["score_batch_size"] < 2 {
		t.Errorf("distribution counts = %v, want 3 scores and a latency and size per batch", dists)
	}
}

// TestWindowedInputKeepsWindows scores events that are already in fixed windows: they come
// out in the same windows, with the same windowing strategy.
func TestWindowedInputKeepsWindows(t *testing.T) {
	p, s := beam.NewPipelineWithRoot()
	events := beam.ParDo(s, stamp, beam.CreateList(s, testEvents()))
	windowed := beam.WindowInto(s, window.NewFixedWindows(time.Minute), events, beam.AllowedLateness(time.Minute))
	scored, _ := Events(s, Config{Model: newFake(t.Name(), &fakeModel{})}, windowed)
	if got, want := scored.WindowingStrategy(), windowed.WindowingStrategy(); !got.Fn.Equals(want.Fn) || got.AllowedLateness != want.AllowedLateness {
		t.Fatalf("windowing strategy after scoring = %+v, want %+v", got, want)
	}
	beamtest.Equal(s, beam.ParDo(s, describe, scored), []string{
		"p1 score=0.9 flagged=true at_event_time=true window=10:01-10:02",
		"p2 score=0.1 flagged=false at_event_time=true window=10:02-10:03",
		"p3 score=0.9 flagged=true at_event_time=true window=10:03-10:04",
		"c4 score=0.0 flagged=false at_event_time=true window=10:04-10:05",
	})
	if err := ptest.Run(p); err != nil {
		t.Fatal(err)
	}
}

// TestStreamingWindowsCountEveryEvent runs scoring in a streaming pipeline (teststream on
// Prism) between event-time windowing and a per-window count, with the watermark advancing
// as events arrive: an event that left scoring late or with another timestamp would be
// dropped or counted in the wrong window.
func TestStreamingWindowsCountEveryEvent(t *testing.T) {
	cfg := teststream.NewConfig()
	var want []string
	for minute := 0; minute < 4; minute++ {
		ts := t0.Add(time.Duration(minute)*time.Minute + 10*time.Second)
		var lines []any
		for i := 0; i <= minute; i++ {
			lines = append(lines, fmt.Sprintf("m%d-%d|post|text %d", minute, i, i))
		}
		if err := cfg.AddElements(ts.UnixMilli(), lines...); err != nil {
			t.Fatal(err)
		}
		if err := cfg.AdvanceWatermark(ts.Add(time.Minute).UnixMilli()); err != nil {
			t.Fatal(err)
		}
		start := t0.Add(time.Duration(minute) * time.Minute)
		want = append(want, fmt.Sprintf("%s-%s events=%d", start.Format("15:04"), start.Add(time.Minute).Format("15:04"), minute+1))
	}
	cfg.AdvanceWatermarkToInfinity()

	p, s := beam.NewPipelineWithRoot()
	events := beam.ParDo(s, fromLine, teststream.Create(s, cfg))
	windowed := beam.WindowInto(s, window.NewFixedWindows(time.Minute), events, beam.AllowedLateness(time.Second))
	scored, _ := Events(s, Config{Model: newFake(t.Name(), &fakeModel{}), BatchSize: 3}, windowed)
	counts := stats.SumPerKey(s, beam.ParDo(s, one, scored))
	beamtest.Equal(s, beam.ParDo(s, describeCount, counts), want)
	if err := ptest.Run(p); err != nil {
		t.Fatal(err)
	}
}

func TestFailingModelDeadLettersOnPrism(t *testing.T) {
	p, s := beam.NewPipelineWithRoot()
	events := beam.ParDo(s, stamp, beam.CreateList(s, testEvents()))
	scored, dead := Events(s, Config{Model: newFake(t.Name(), &fakeModel{predictErr: errFake})}, events)
	beamtest.Equal(s, beam.ParDo(s, describe, scored), []string{"c4 score=0.0 flagged=false at_event_time=true window=global"})
	beamtest.Equal(s, beam.ParDo(s, deadID, dead), []string{
		"score_failed event_id=p1", "score_failed event_id=p2", "score_failed event_id=p3"})
	res, err := ptest.RunWithMetrics(p)
	if err != nil {
		t.Fatal(err)
	}
	got := beamtest.Counters(res, "beamline")
	// processed is decremented once per dead letter: dedupe counted these events as processed.
	if want := map[string]int64{"deadlettered_score_failed": 3, "processed": -3}; !cmp.Equal(want, got) {
		t.Errorf("counters = %v, want %v", got, want)
	}
}

// TestModelLoadedOncePerProcess scores with three DoFns (three transforms, each with its own
// instances) and two pipelines: the model is opened once.
func TestModelLoadedOncePerProcess(t *testing.T) {
	m := &fakeModel{}
	url := newFake(t.Name(), m)
	for run := 0; run < 2; run++ {
		p, s := beam.NewPipelineWithRoot()
		events := beam.ParDo(s, stamp, beam.CreateList(s, testEvents()))
		for i := 0; i < 3; i++ {
			events, _ = Events(s, Config{Model: url}, events)
		}
		res, err := ptest.RunWithMetrics(p)
		if err != nil {
			t.Fatal(err)
		}
		loads := int64(0)
		for _, d := range res.Metrics().AllMetrics().Distributions() {
			if d.Name() == "score_model_load_ms" {
				loads += d.Result().Count
			}
		}
		if want := int64(1 - run); loads != want {
			t.Errorf("run %d: score_model_load_ms reported %d times, want %d (once per process)", run, loads, want)
		}
	}
	if n := m.openCount(); n != 1 {
		t.Errorf("model opened %d times, want once", n)
	}
}

func TestLoadSharesOneOpenAndItsError(t *testing.T) {
	ctx := context.Background()
	ok := &fakeModel{}
	url := newFake(t.Name(), ok)
	var wg sync.WaitGroup
	models := make([]Model, 8)
	for i := range models {
		wg.Add(1)
		go func() {
			defer wg.Done()
			models[i], _ = Load(ctx, url)
		}()
	}
	wg.Wait()
	for i, m := range models {
		if m != Model(ok) {
			t.Errorf("caller %d got %v, want the shared model", i, m)
		}
	}
	if n := ok.openCount(); n != 1 {
		t.Errorf("8 concurrent loads opened the model %d times, want 1", n)
	}

	bad := &fakeModel{openErr: errFake}
	badURL := newFake(t.Name(), bad)
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = Load(ctx, badURL)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err == nil || !strings.Contains(err.Error(), errFake.Error()) {
			t.Errorf("caller %d: error %v, want the open error", i, err)
		}
	}
	opens := bad.openCount()
	if _, err := Load(ctx, badURL); err == nil {
		t.Error("Load after a failed load: no error")
	}
	if bad.openCount() != opens+1 {
		t.Errorf("a failed load was cached: opens %d -> %d, want a new attempt", opens, bad.openCount())
	}
}

func TestSetupFailsOnUnloadableModel(t *testing.T) {
	p, s := beam.NewPipelineWithRoot()
	events := beam.ParDo(s, stamp, beam.CreateList(s, testEvents()))
	Events(s, Config{Model: newFake(t.Name(), &fakeModel{openErr: errFake})}, events)
	if err := ptest.Run(p); err == nil || !strings.Contains(err.Error(), errFake.Error()) {
		t.Errorf("pipeline error = %v, want the model's open error", err)
	}
}
