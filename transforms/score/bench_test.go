package score_test

import (
	"context"
	"fmt"
	"hash/fnv"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/teststream"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/batch"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/stats"

	"github.com/beamline/beamline/io/event"
	"github.com/beamline/beamline/io/generator"
	"github.com/beamline/beamline/transforms/score"
	"github.com/beamline/beamline/transforms/score/kserve"
	"github.com/beamline/beamline/transforms/score/logreg"
)

const modelPath = "../../testdata/model/spam.json"

var modelURL = "logreg://" + modelPath

// posts returns n labelled posts as events, from a seed the model was not trained on.
func posts(tb testing.TB, n int) []event.Event {
	tb.Helper()
	g := generator.NewPosts(generator.PostsConfig{Seed: 99, Start: time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), EventsPerSecond: 2})
	out := make([]event.Event, n)
	for i := range out {
		e, err := event.Parse(g.Next().Raw)
		if err != nil {
			tb.Fatal(err)
		}
		out[i] = e
	}
	return out
}

func features(events []event.Event) []score.Features {
	out := make([]score.Features, len(events))
	for i, e := range events {
		out[i] = score.Features{Text: e.Text, UserAgent: e.UserAgent, URL: e.URL}
	}
	return out
}

func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkEmbedded measures scoring throughput with the embedded model, one event per
// iteration (run with -cpu=1 for events/s per core): the bare model (Predict on batches of 512,
// the baseline; and Score one event at a time), and the DoFn at batch sizes 1, 64 and 512
// (bundles of 4096 events).
func BenchmarkEmbedded(b *testing.B) {
	ctx := context.Background()
	evs := posts(b, 4096)
	feats := features(evs)
	m, err := logreg.Read(ctx, modelPath)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("model-predict-512", func(b *testing.B) {
		for i := 0; i < b.N; i += 512 {
			start := i % len(feats)
			if _, err := m.Predict(ctx, feats[start:start+min(512, b.N-i)]); err != nil {
				b.Fatal(err)
			}
		}
		reportRate(b)
	})
	b.Run("model-score-each", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			m.Score(feats[i%len(feats)])
		}
		reportRate(b)
	})
	for _, size := range []int{1, 64, 512} {
		b.Run(fmt.Sprintf("dofn-batch-%d", size), func(b *testing.B) {
			benchDoFn(b, score.Config{Model: modelURL, BatchSize: size, MaxDelay: -1}, evs)
		})
	}
}

// BenchmarkRemote measures the DoFn with the KServe driver against an in-process server that
// serves the embedded model (client and server share the CPUs), at batch sizes 1, 64 and 512.
func BenchmarkRemote(b *testing.B) {
	m, err := logreg.Read(context.Background(), modelPath)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(kserve.Handler("spam", m))
	b.Cleanup(srv.Close)
	evs := posts(b, 4096)
	for _, size := range []int{1, 64, 512} {
		b.Run(fmt.Sprintf("dofn-batch-%d", size), func(b *testing.B) {
			benchDoFn(b, score.Config{Model: "kserve+" + srv.URL + "/v2/models/spam", BatchSize: size, MaxDelay: -1}, evs)
		})
	}
}

func benchDoFn(b *testing.B, cfg score.Config, evs []event.Event) {
	ctx := context.Background()
	bundle, err := score.NewBundle(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e := evs[i%len(evs)]
		if err := bundle.Process(ctx, mtime.FromTime(e.Time), e); err != nil {
			b.Fatal(err)
		}
		if (i+1)%len(evs) == 0 {
			if err := bundle.Finish(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := bundle.Finish(ctx); err != nil {
		b.Fatal(err)
	}
	if bundle.Out != b.N {
		b.Fatalf("%d outputs for %d events", bundle.Out, b.N)
	}
	reportRate(b)
}

func init() {
	register.Function1x2[event.Event, beam.EventTime, event.Event](stampEvent)
	register.Function2x1[beam.EventTime, string, event.Event](postAt)
	register.Function1x2[event.Event, string, event.Event](byShard)
	register.DoFn4x1[context.Context, string, []event.Event, func(event.Event), error](&gibScoreFn{})
	register.DoFn4x1[context.Context, string, []event.Event, func(beam.EventTime, event.Event), error](&gibRestampFn{})
	register.DoFn3x0[context.Context, beam.EventTime, event.Event](&movedFn{})
	register.Function1x2[event.Event, string, int](countKey)
	register.DoFn3x0[context.Context, string, int](&countedFn{})
	register.Emitter1[event.Event]()
}

func stampEvent(e event.Event) (beam.EventTime, event.Event) { return mtime.FromTime(e.Time), e }

func postAt(ts beam.EventTime, text string) event.Event {
	return event.Event{ID: text, Type: event.TypePost, UserID: "u", Text: text, Time: ts.ToTime().UTC()}
}

func byShard(e event.Event) (string, event.Event) {
	h := fnv.New32a()
	h.Write([]byte(e.ID))
	return strconv.Itoa(int(h.Sum32() % 8)), e
}

// gibScoreFn scores a batch from GroupIntoBatches and emits its events with the batch's
// timestamp, as a DoFn after GroupIntoBatches does by default.
type gibScoreFn struct {
	Model string
	model score.Model
}

func (f *gibScoreFn) Setup(ctx context.Context) (err error) {
	f.model, err = score.Load(ctx, f.Model)
	return err
}

func (f *gibScoreFn) ProcessElement(ctx context.Context, _ string, batch []event.Event, emit func(event.Event)) error {
	scores, err := f.model.Predict(ctx, features(batch))
	if err != nil {
		return err
	}
	for i, e := range batch {
		e.Score, e.Flagged = scores[i], scores[i] >= 0.5
		emit(e)
	}
	return nil
}

// gibRestampFn is gibScoreFn that puts each event back at its own event time: the best a
// GroupIntoBatches user can do, but GroupIntoBatches holds no watermark for what it buffers.
type gibRestampFn struct {
	gibScoreFn
}

func (f *gibRestampFn) ProcessElement(ctx context.Context, k string, batch []event.Event, emit func(beam.EventTime, event.Event)) error {
	return f.gibScoreFn.ProcessElement(ctx, k, batch, func(e event.Event) { emit(mtime.FromTime(e.Time), e) })
}

// movedFn counts events whose timestamp is no longer their event time.
type movedFn struct {
	moved, total beam.Counter
}

func (f *movedFn) Setup() {
	f.moved, f.total = beam.NewCounter("bench", "moved"), beam.NewCounter("bench", "total")
}

func (f *movedFn) ProcessElement(ctx context.Context, ts beam.EventTime, e event.Event) {
	f.total.Inc(ctx, 1)
	if !ts.ToTime().Equal(e.Time) {
		f.moved.Inc(ctx, 1)
	}
}

func countKey(event.Event) (string, int) { return "n", 1 }

// countedFn counts the events that windowed sums counted.
type countedFn struct {
	counted beam.Counter
}

func (f *countedFn) Setup() { f.counted = beam.NewCounter("bench", "counted") }

func (f *countedFn) ProcessElement(ctx context.Context, _ string, n int) {
	f.counted.Inc(ctx, int64(n))
}

func benchCounters(b *testing.B, res beam.PipelineResult) map[string]int64 {
	out := map[string]int64{}
	for _, c := range res.Metrics().AllMetrics().Counters() {
		if c.Namespace() == "bench" {
			out[c.Name()] += c.Result()
		}
	}
	return out
}

// BenchmarkMechanism compares the two batching mechanisms on Prism, with the embedded model and
// batches of 64: the DoFn's bundle-scoped buffer, and the SDK's GroupIntoBatches (keyed by 8
// shards). "batch" runs 20,000 posts in a bounded pipeline and reports throughput and the
// fraction of events whose timestamp moved; "stream" runs 2,000 posts over 20 minutes of event
// time through teststream, 1-minute windows (1 s allowed lateness) after scoring, and reports
// the fraction of events the windows counted.
func BenchmarkMechanism(b *testing.B) {
	evs := posts(b, 20000)
	mechanisms := map[string]func(s beam.Scope, in beam.PCollection, restamp bool) beam.PCollection{
		"bundle-buffer": func(s beam.Scope, in beam.PCollection, _ bool) beam.PCollection {
			out, _ := score.Events(s, score.Config{Model: modelURL, BatchSize: 64}, in)
			return out
		},
		"group-into-batches": func(s beam.Scope, in beam.PCollection, restamp bool) beam.PCollection {
			batches := batch.GroupIntoBatches(s, batch.Params{BatchSize: 64}, beam.ParDo(s, byShard, in))
			if restamp {
				return beam.ParDo(s, &gibRestampFn{gibScoreFn{Model: modelURL}}, batches)
			}
			return beam.ParDo(s, &gibScoreFn{Model: modelURL}, batches)
		},
	}
	for _, name := range []string{"bundle-buffer", "group-into-batches"} {
		build := mechanisms[name]
		b.Run(name+"/batch", func(b *testing.B) {
			var c map[string]int64
			for i := 0; i < b.N; i++ {
				p, s := beam.NewPipelineWithRoot()
				in := beam.ParDo(s, stampEvent, beam.CreateList(s, evs))
				beam.ParDo0(s, &movedFn{}, build(s, in, false))
				res, err := ptest.RunWithMetrics(p)
				if err != nil {
					b.Fatal(err)
				}
				c = benchCounters(b, res)
			}
			if c["total"] != int64(len(evs)) {
				b.Fatalf("%d events out of %d", c["total"], len(evs))
			}
			b.ReportMetric(float64(b.N*len(evs))/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(c["moved"])/float64(len(evs)), "moved-frac")
		})
		b.Run(name+"/stream", func(b *testing.B) {
			const n, minutes = 2000, 20
			var counted int64
			for i := 0; i < b.N; i++ {
				cfg := teststream.NewConfig()
				t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
				for k := 0; k < n; k++ {
					ts := t0.Add(time.Duration(k) * minutes * time.Minute / n)
					if err := cfg.AddElements(ts.UnixMilli(), fmt.Sprintf("post %d buy cheap followers", k)); err != nil {
						b.Fatal(err)
					}
					if k%(n/minutes) == n/minutes-1 {
						if err := cfg.AdvanceWatermark(ts.UnixMilli()); err != nil {
							b.Fatal(err)
						}
					}
				}
				cfg.AdvanceWatermarkToInfinity()
				p, s := beam.NewPipelineWithRoot()
				in := beam.ParDo(s, postAt, teststream.Create(s, cfg))
				scored := build(s, in, true)
				windowed := beam.WindowInto(s, window.NewFixedWindows(time.Minute), scored, beam.AllowedLateness(time.Second))
				beam.ParDo0(s, &countedFn{}, stats.SumPerKey(s, beam.ParDo(s, countKey, windowed)))
				res, err := ptest.RunWithMetrics(p)
				if err != nil {
					b.Fatal(err)
				}
				counted = benchCounters(b, res)["counted"]
			}
			b.ReportMetric(float64(counted)/n, "counted-frac")
		})
	}
}
