package graph

import (
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/teststream"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/filter"

	"github.com/beamline/beamline/io/event"
	"github.com/beamline/beamline/transforms/aggregate"
)

// TestStagesDedupeWhatTheTopicRepeats chains Ingest and Aggregate over the teststream of
// TestStreamingDedupesAcrossPanes with every event that Ingest emits delivered twice to
// Aggregate (as a topic may deliver it): the rows and dead letters are those of Streaming.
func TestStagesDedupeWhatTheTopicRepeats(t *testing.T) {
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
	advance(time.Minute + time.Millisecond)
	add(5*time.Second, raw("e1", "pageview", "u1", "DE", 5*time.Second))
	add(30*time.Second, raw("e3", "click", "u1", "de", 30*time.Second))
	add(40*time.Second, event.Raw{Source: "test/garbage", Bytes: []byte("not json")})
	advance(30 * time.Minute)
	add(50*time.Second, raw("e4", "click", "u1", "DE", 50*time.Second))
	if err := cfg.AdvanceWatermarkToInfinity(); err != nil {
		t.Fatal(err)
	}

	p, s := beam.NewPipelineWithRoot()
	scfg := StreamingConfig{Speed: aggregate.SpeedOptions{AllowedLateness: 5 * time.Minute}}
	events, dead := Ingest(s, scfg, teststream.Create(s, cfg))
	rows := Aggregate(s, scfg, beam.Flatten(s, events, events))
	versions := filter.Distinct(s, beam.ParDo(s, finalVersion, rows))
	check(s, []string{
		"country_activity DE 10:00 events=1", "country_activity DE 10:00 events=2",
		"country_activity FR 10:00 events=1",
		"sessions DE 10:00 events=2", "sessions FR 10:00 events=1",
		"dead invalid_json test/garbage",
	}, beam.ParDo(s, keyed, versions), beam.ParDo(s, deadKey, dead))
	if err := ptest.Run(p); err != nil {
		t.Fatal(err)
	}
}

func TestScoreNeedsAModel(t *testing.T) {
	defer func() {
		if r := recover(); r == nil {
			t.Error("graph.Score without a model did not panic")
		}
	}()
	_, s := beam.NewPipelineWithRoot()
	Score(s, StreamingConfig{}.Score, beam.Create(s, event.Event{}))
}
