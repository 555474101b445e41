package score

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/io/event"
)

var t0 = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

// harness drives a scoreFn as a runner would, with a fake clock, and records what it emits.
type harness struct {
	t     *testing.T
	fn    *scoreFn
	model *fakeModel
	clock time.Time
	out   []emitted
	dead  []emitted
}

// emitted is one output: its timestamp, the event ID and, for events, the score and flag.
type emitted struct {
	TS      time.Time
	ID      string
	Score   float32
	Flagged bool
	Reason  string
}

func newHarness(t *testing.T, cfg Config, m *fakeModel) *harness {
	t.Helper()
	cfg.Model = newFake(t.Name(), m)
	cfg = cfg.withDefaults()
	h := &harness{t: t, model: m, clock: t0}
	h.fn = &scoreFn{Model: cfg.Model, Threshold: cfg.Threshold, BatchSize: cfg.BatchSize, MaxDelay: cfg.MaxDelay,
		now: func() time.Time { return h.clock }}
	if err := h.fn.Setup(context.Background()); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) emit(ts beam.EventTime, e event.Event) {
	h.out = append(h.out, emitted{TS: ts.ToTime().UTC(), ID: e.ID, Score: e.Score, Flagged: e.Flagged})
}

func (h *harness) emitDead(ts beam.EventTime, dl event.DeadLetter) {
	h.dead = append(h.dead, emitted{TS: ts.ToTime().UTC(), ID: dl.Source, Reason: dl.Reason})
}

// process feeds e at its event time, after advancing the clock by wait.
func (h *harness) process(ctx context.Context, wait time.Duration, e event.Event) error {
	h.clock = h.clock.Add(wait)
	return h.fn.ProcessElement(ctx, mtime.FromTime(e.Time), e, h.emit, h.emitDead)
}

func (h *harness) finish(ctx context.Context) error {
	return h.fn.FinishBundle(ctx, h.emit, h.emitDead)
}

func post(i int, text string) event.Event {
	return event.Event{ID: "p" + strconv.Itoa(i), Type: event.TypePost, UserID: "u", Text: text,
		Time: t0.Add(time.Duration(i) * time.Minute), Raw: []byte(`{"i":` + strconv.Itoa(i) + `}`)}
}

func TestBatching(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		waits     []time.Duration // before each post
		wantSizes []int           // Predict calls
		wantAfter []int           // outputs after each post (before FinishBundle)
	}{
		{name: "full batches, then the rest at bundle end", cfg: Config{BatchSize: 3},
			waits: make([]time.Duration, 7), wantSizes: []int{3, 3, 1}, wantAfter: []int{0, 0, 3, 3, 3, 6, 6}},
		{name: "batch of one", cfg: Config{BatchSize: 1},
			waits: make([]time.Duration, 3), wantSizes: []int{1, 1, 1}, wantAfter: []int{1, 2, 3}},
		{name: "small bundle flushed only at its end", cfg: Config{BatchSize: 64},
			waits: make([]time.Duration, 5), wantSizes: []int{5}, wantAfter: []int{0, 0, 0, 0, 0}},
		{name: "max delay flushes a partial batch", cfg: Config{BatchSize: 10, MaxDelay: 100 * time.Millisecond},
			waits:     []time.Duration{0, 40 * time.Millisecond, 40 * time.Millisecond, 30 * time.Millisecond, 10 * time.Millisecond, 200 * time.Millisecond},
			wantSizes: []int{4, 2}, wantAfter: []int{0, 0, 0, 4, 4, 6}},
		{name: "negative max delay waits for the batch or the bundle end", cfg: Config{BatchSize: 10, MaxDelay: -1},
			waits: []time.Duration{0, time.Hour, time.Hour}, wantSizes: []int{3}, wantAfter: []int{0, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &fakeModel{}
			h := newHarness(t, tt.cfg, m)
			ctx := context.Background()
			var after []int
			for i, w := range tt.waits {
				if err := h.process(ctx, w, post(i, "hello")); err != nil {
					t.Fatal(err)
				}
				after = append(after, len(h.out))
			}
			if err := h.finish(ctx); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.wantSizes, m.batchSizes()); d != "" {
				t.Errorf("Predict batch sizes (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.wantAfter, after); d != "" {
				t.Errorf("outputs after each post (-want +got):\n%s", d)
			}
			if len(h.out) != len(tt.waits) {
				t.Errorf("%d outputs for %d posts", len(h.out), len(tt.waits))
			}
			for i, o := range h.out {
				if want := post(i, "").Time; o.ID != "p"+strconv.Itoa(i) || !o.TS.Equal(want) {
					t.Errorf("output %d: %s at %s, want p%d at its event time %s", i, o.ID, o.TS, i, want)
				}
			}
		})
	}
}

func TestScoresAndPassThrough(t *testing.T) {
	m := &fakeModel{}
	h := newHarness(t, Config{BatchSize: 2, Threshold: 0.5}, m)
	ctx := context.Background()
	click := event.Event{ID: "c", Type: event.TypeClick, Time: t0.Add(time.Second), Text: "spam"}
	for _, e := range []event.Event{post(1, "buy spam"), click, post(2, "hi"), post(3, "spam again")} {
		if err := h.process(ctx, 0, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.finish(ctx); err != nil {
		t.Fatal(err)
	}
	want := []emitted{
		{TS: click.Time, ID: "c"}, // not a post: passes at once, unscored
		{TS: post(1, "").Time, ID: "p1", Score: 0.9, Flagged: true},
		{TS: post(2, "").Time, ID: "p2", Score: 0.1},
		{TS: post(3, "").Time, ID: "p3", Score: 0.9, Flagged: true},
	}
	if d := cmp.Diff(want, h.out); d != "" {
		t.Errorf("outputs (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]int{2, 1}, m.batchSizes()); d != "" {
		t.Errorf("batch sizes (-want +got):\n%s", d)
	}
}

func TestThreshold(t *testing.T) {
	for _, tt := range []struct {
		threshold float64
		want      bool
	}{{0.05, true}, {0.1, true}, {0.11, false}, {0, false}} { // 0 is the default, 0.5
		h := newHarness(t, Config{Threshold: tt.threshold}, &fakeModel{})
		if err := h.process(context.Background(), 0, post(1, "hi")); err != nil {
			t.Fatal(err)
		}
		if err := h.finish(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := h.out[0].Flagged; got != tt.want {
			t.Errorf("threshold %v, score 0.1: flagged %v, want %v", tt.threshold, got, tt.want)
		}
	}
}

func TestFailuresAreDeadLettered(t *testing.T) {
	tests := []struct {
		name  string
		model *fakeModel
		texts []string
		want  []string // dead-lettered IDs
	}{
		{"model error fails the whole batch", &fakeModel{predictErr: errFake}, []string{"a", "b", "c"}, []string{"event_id=p0", "event_id=p1", "event_id=p2"}},
		{"wrong number of scores", &fakeModel{short: true}, []string{"a", "b"}, []string{"event_id=p0", "event_id=p1"}},
		{"a NaN score fails only its event", &fakeModel{}, []string{"a", "nan", "c"}, []string{"event_id=p1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, Config{BatchSize: 8}, tt.model)
			for i, text := range tt.texts {
				if err := h.process(context.Background(), 0, post(i, text)); err != nil {
					t.Fatal(err)
				}
			}
			if err := h.finish(context.Background()); err != nil {
				t.Fatalf("FinishBundle: %v; want failures dead-lettered, not a failed bundle", err)
			}
			var got []string
			for i, d := range h.dead {
				got = append(got, d.ID)
				if d.Reason != string(event.ScoreFailed) {
					t.Errorf("dead letter %d: reason %q", i, d.Reason)
				}
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("dead-lettered (-want +got):\n%s", d)
			}
			if len(h.out)+len(h.dead) != len(tt.texts) {
				t.Errorf("%d scored + %d dead-lettered, want %d in all", len(h.out), len(h.dead), len(tt.texts))
			}
			for _, d := range h.dead {
				n, _ := strconv.Atoi(d.ID[len("event_id=p"):])
				if !d.TS.Equal(post(n, "").Time) {
					t.Errorf("dead letter %s at %s, want its event time", d.ID, d.TS)
				}
			}
		})
	}
}

func TestCancelledBundleFails(t *testing.T) {
	h := newHarness(t, Config{}, &fakeModel{})
	ctx, cancel := context.WithCancel(context.Background())
	if err := h.process(ctx, 0, post(1, "a")); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := h.finish(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("FinishBundle with a cancelled context = %v, want context.Canceled", err)
	}
	if len(h.dead) != 0 {
		t.Errorf("%d dead letters for a cancelled bundle, want none (the runner retries it)", len(h.dead))
	}
}
