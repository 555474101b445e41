package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/io/generator"
	"github.com/beamline/beamline/io/source/pubsubsource/pubsubtest"
	"github.com/beamline/beamline/io/views"
	"github.com/beamline/beamline/io/views/reference"
)

// modelFile is the embedded model that the tests score with (logreg://).
const modelFile = "../../testdata/model/spam.json"

// flaggedBy returns the reference's reading of cfg's model (modelFile at the default
// threshold), or nil when cfg scores nothing.
func flaggedBy(t *testing.T, cfg Config) func(text, userAgent, url string) bool {
	t.Helper()
	if cfg.Model == "" {
		return nil
	}
	if cfg.Model != "logreg://"+modelFile || cfg.ScoreThreshold != 0 {
		t.Fatalf("the reference knows only %s at the default threshold, not %s at %v", modelFile, cfg.Model, cfg.ScoreThreshold)
	}
	m, err := reference.ReadModel(modelFile)
	if err != nil {
		t.Fatal(err)
	}
	return m.Flagged(0.5)
}

// clickstreamWithPosts returns clickstream(n, seed, start) with a labelled post (spam, abuse or
// normal) after every 15th record, at the same pace of event time, so that the model flags
// some of them.
func clickstreamWithPosts(n int, seed uint64, start time.Time) [][]byte {
	posts := generator.NewPosts(generator.PostsConfig{Seed: seed + 1, Start: start, EventsPerSecond: 10.0 / 15, Users: 200})
	var out [][]byte
	for i, r := range clickstream(n, seed, start) {
		out = append(out, r)
		if i%15 == 14 {
			out = append(out, posts.Next().Raw)
		}
	}
	return out
}

func TestValidateStages(t *testing.T) {
	base := Config{Source: "pubsub://projects/p/subscriptions/s", DeadLetter: "/tmp/dead"}
	with := func(f func(*Config)) Config {
		c := base
		f(&c)
		return c
	}
	const topicURL = "pubsub://projects/p/topics/t"
	tests := []struct {
		name string
		cfg  Config
		want []string // substrings of the error; none: valid
	}{
		{"all", with(func(c *Config) { c.Store, c.Archive = "sqlite:///tmp/v.db", "/tmp/lake" }), nil},
		{"all with an output topic", with(func(c *Config) { c.Store, c.Archive, c.OutputTopic = "sqlite:///tmp/v.db", "/tmp/lake", topicURL }),
			[]string{"--output_topic is not used by --stage=all", "drop it"}},
		{"ingest", with(func(c *Config) { c.Stage, c.Archive, c.OutputTopic = StageIngest, "/tmp/lake", topicURL }), nil},
		{"ingest without a topic", with(func(c *Config) { c.Stage, c.Archive = StageIngest, "/tmp/lake" }),
			[]string{"--output_topic is required for --stage=ingest", "pubsub://projects/P/topics/T"}},
		{"ingest with a model", with(func(c *Config) {
			c.Stage, c.Archive, c.OutputTopic, c.Model = StageIngest, "/tmp/lake", topicURL, "logreg://"+modelFile
		}), []string{"--model is not used by --stage=ingest", "run --stage=score"}},
		{"ingest with a subscription as topic", with(func(c *Config) {
			c.Stage, c.Archive, c.OutputTopic = StageIngest, "/tmp/lake", "pubsub://projects/p/subscriptions/s"
		}), []string{"--output_topic", "is not pubsub://projects/P/topics/T"}},
		{"score", with(func(c *Config) { c.Stage, c.OutputTopic, c.Model = StageScore, topicURL, "logreg://"+modelFile }), nil},
		{"score without model and topic", with(func(c *Config) { c.Stage = StageScore }),
			[]string{"--output_topic is required for --stage=score", "--model is required for --stage=score"}},
		{"score with ingest's settings", with(func(c *Config) {
			c.Stage, c.OutputTopic, c.Model, c.Archive, c.Reference, c.Store = StageScore, topicURL, "logreg://"+modelFile, "/tmp/lake", categories, "sqlite:///v.db"
		}), []string{"--archive is not used by --stage=score", "--reference is not used", "--store is not used"}},
		{"score with --ack=archive", with(func(c *Config) {
			c.Stage, c.OutputTopic, c.Model, c.AckMode = StageScore, topicURL, "logreg://"+modelFile, "archive"
		}), []string{"--ack=archive: --stage=score archives nothing", "leave --ack unset"}},
		{"aggregate", with(func(c *Config) { c.Stage, c.Store = StageAggregate, "sqlite:///tmp/v.db" }), nil},
		{"aggregate with an output topic", with(func(c *Config) { c.Stage, c.Store, c.OutputTopic = StageAggregate, "sqlite:///tmp/v.db", topicURL }),
			[]string{"--output_topic is not used by --stage=aggregate", "writes the views to --store"}},
		{"aggregate without a store", with(func(c *Config) { c.Stage = StageAggregate }), []string{"--store is required for --stage=aggregate"}},
		{"unknown stage", with(func(c *Config) { c.Stage = "enrich" }), []string{"--stage=enrich: want all, ingest, score or aggregate"}},
		{"dedupe TTL under 1ms", with(func(c *Config) { c.Store, c.Archive, c.DedupeTTL = "sqlite:///tmp/v.db", "/tmp/lake", time.Microsecond }),
			[]string{"--dedupe_ttl=1µs: must be at least 1ms"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Errorf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate accepted %+v", tc.cfg)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// reportOf returns the printed report of a run.
func reportOf(r Report) string {
	var b strings.Builder
	r.Print(&b)
	return b.String()
}

// stageArgs are the flags of the jobs of TestStagesMatchAllAndReference, beyond jobArgs.
func stageArgs(stage string, extra ...string) []string {
	return append([]string{"--stage=" + stage, "--early_firing=1s"}, extra...)
}

// TestStagesMatchAllAndReference runs the streaming job as its three stages (subprocesses, each
// on its own Prism) chained by topics of one pstest server over TCP, and beside them the
// single --stage=all job on a second subscription of the same raw topic, on a clickstream
// with duplicates, late events, bots, garbage and posts that the model flags. Once the raw
// queue is drained and every watermark has passed the stream, the stages' speed views equal
// the --stage=all job's and the independent reference's, exactly; every message of every
// topic is acknowledged; the ingest stage published each kept event once; and the garbage is
// in the dead letters of both shapes.
func TestStagesMatchAllAndReference(t *testing.T) {
	bin := buildJob(t)
	dir := t.TempDir()
	srv := pubsubtest.Start(t, 10*time.Second) // topic "events", subscription "speed": the ingest stage's
	allSub := srv.CreateSubscription(t, "events", "all", 10*time.Second)
	ingested := srv.CreateTopic(t, "ingested")
	scoreSub := srv.CreateSubscription(t, "ingested", "score", 10*time.Second)
	scored := srv.CreateTopic(t, "scored")
	aggregateSub := srv.CreateSubscription(t, "scored", "aggregate", 10*time.Second)

	start := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	day := start.Truncate(24 * time.Hour)
	records := clickstreamWithPosts(6000, 41, start)
	model := "--model=logreg://" + modelFile
	all := testConfig(t, allSub+"?idle=2s&call=500ms")
	all.Model = "logreg://" + modelFile
	st := testConfig(t, srv.URL+"?idle=2s&call=500ms") // the store, archive and dead letters of the stages
	want := referenceOf(t, all, records, day)
	if n := metricSum(want.Rows, views.MetricFlagged); n == 0 {
		t.Fatal("the reference flags no event: the test stream does not exercise scoring")
	}

	allJob := startProcess(t, bin, filepath.Join(dir, "all.log"), append(jobArgs(all), model))
	ingest := startProcess(t, bin, filepath.Join(dir, "ingest.log"), stageArgs(StageIngest, "--source="+st.Source,
		"--archive="+st.Archive, "--deadletter="+st.DeadLetter, "--reference="+categories, "--blocked_users=u-blocked",
		"--store="+st.Store, "--output_topic="+ingested))
	score := startProcess(t, bin, filepath.Join(dir, "score.log"), stageArgs(StageScore,
		"--source="+scoreSub+"?timestamp_attribute=ts&idle=2s&call=500ms", model, "--deadletter="+st.DeadLetter,
		"--output_topic="+scored))
	pub := publish(t, pubsubQueue{srv: srv}, records, 500, 300*time.Millisecond)
	// The aggregate stage starts once its topic has traffic: an idle subscription moves its
	// watermark to the wall clock (days after this stream) after its idle time.
	if !waitUntil(2*time.Minute, func() bool { return srv.TopicStats("scored", 1).Messages > 0 || score.exited() || ingest.exited() }) ||
		score.exited() || ingest.exited() {
		t.Fatalf("nothing reached the scored topic:\ningest:\n%s\nscore:\n%s", ingest.tail(), score.tail())
	}
	agg := startProcess(t, bin, filepath.Join(dir, "aggregate.log"), stageArgs(StageAggregate,
		"--source="+aggregateSub+"?timestamp_attribute=ts&idle=10s&call=500ms", "--store="+st.Store, "--deadletter="+st.DeadLetter))
	procs := map[string]*process{"all": allJob, "ingest": ingest, "score": score, "aggregate": agg}
	pub.wg.Wait()

	speed := func(cfg Config) []views.Row { return rowsOf(t, cfg.Store, views.Speed, day, day.AddDate(0, 0, 1)) }
	acked := func() bool {
		return srv.TopicStats("events", 2).Unacked == 0 && srv.TopicStats("ingested", 1).Unacked == 0 && srv.TopicStats("scored", 1).Unacked == 0
	}
	settled := waitUntil(3*time.Minute, func() bool {
		for _, p := range procs {
			if p.exited() {
				return true
			}
		}
		return acked() && cmp.Equal(withoutLayer(want.Rows), withoutLayer(speed(all))) && cmp.Equal(withoutLayer(want.Rows), withoutLayer(speed(st)))
	})
	for name, p := range procs {
		if err := p.cmd.Process.Signal(os.Interrupt); err != nil && !p.exited() {
			t.Errorf("interrupt %s: %v", name, err)
		}
	}
	for name, p := range procs {
		if err := p.wait(); err != nil || !settled {
			t.Errorf("%s job: settled %v, exit %v:\n%s", name, settled, err, p.tail())
		}
		t.Logf("%s job:\n%s", name, stageReport(p.tail()))
	}
	diffRows(t, "--stage=all views differ from the reference", want.Rows, speed(all))
	diffRows(t, "the stages' views differ from the --stage=all job's", speed(all), speed(st))
	events, in, out := srv.TopicStats("events", 2), srv.TopicStats("ingested", 1), srv.TopicStats("scored", 1)
	t.Logf("raw topic %+v (2 subscriptions), ingested %+v, scored %+v", events, in, out)
	if events.Messages != len(records) || !acked() || events.Redelivered != 0 {
		t.Errorf("raw topic %+v for %d records, ingested %+v, scored %+v: want every message acknowledged by every subscription, none of the raw ones delivered twice",
			events, len(records), in, out)
	}
	if int64(in.Messages) != want.Counts.Processed || out.Messages < in.Messages {
		t.Errorf("the ingest stage published %d events and the score stage %d; want each of the %d kept events once, then all of them",
			in.Messages, out.Messages, want.Counts.Processed)
	}
	checkDeadLetters(t, all.DeadLetter, records)
	checkDeadLetters(t, st.DeadLetter, records)
	if got, garbage := len(deadLetters(t, st.DeadLetter)), sumOf(want.Counts.DeadLettered); int64(got) != garbage {
		t.Errorf("the stages wrote %d dead letters, want one per garbage record (%d)", got, garbage)
	}
}

// metricSum sums a metric over rows of country_activity.
func metricSum(rows []views.Row, metric string) int64 {
	var n int64
	for _, r := range rows {
		if r.View == views.CountryActivity {
			n += r.Metrics[metric]
		}
	}
	return n
}

// stageReport returns the report lines of a job's log: the stage's counts and its counters.
func stageReport(log string) string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		for _, p := range []string{"job ", "read ", "received ", "archived ", "rows ", "counters: "} {
			if strings.HasPrefix(line, p) {
				out = append(out, line)
			}
		}
	}
	return strings.Join(out, "\n")
}
