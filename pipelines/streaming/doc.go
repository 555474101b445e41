// Command streaming is the speed layer: it reads events from a source (Kafka, Pub/Sub, SQS, or
// the built-in generator), archives every record it reads to the data lake, and keeps the speed views in
// the view store up to date, window by window, with early, on-time and late panes.
//
//	go run ./pipelines/streaming --source='generator://?rate=200&dup=0.02&late=0.05&bad=0.01' \
//	    --store=sqlite://out/views.db --archive=out/lake --deadletter=out/deadletter \
//	    --reference=testdata/reference/categories.csv --run_for=5m
//
// It runs on Prism (embedded) unless --runner says otherwise. --run_for, or Ctrl-C, cancels
// the job cleanly through the job service; windows still open are not flushed (the next run's
// warm restart, or the nightly backfill, completes them). At the end it prints the job's
// counters.
//
// # Stages
//
// --stage=all (the default, and what local runs use) runs every step in one job. In the Go SDK
// resource hints apply to a whole job, so the job also runs as three jobs, chained by topics
// (package topic), so that only the score stage asks for GPU workers:
//
//	--stage=ingest     --source=<raw queue or generator> --archive=... --output_topic=pubsub://projects/P/topics/ingested
//	                   (or kafka://HOST:PORT/ingested, read back with kafka://HOST:PORT/ingested?group=score)
//	                   parse (dead letters), filter, dedupe, enrich; archive; publish
//	--stage=score      --source=pubsub://projects/P/subscriptions/<of ingested>?timestamp_attribute=ts
//	                   --model=... --output_topic=pubsub://projects/P/topics/scored
//	                   score (dead letters of failures); publish
//	--stage=aggregate  --source=pubsub://projects/P/subscriptions/<of scored>?timestamp_attribute=ts --store=...
//	                   dedupe by event ID, 1-minute windows and sessions; upsert the speed views
//
// Without a model, aggregate reads the ingest stage's topic directly. Every stage writes its
// own dead letters under --deadletter (<stage>-<start time>/) and prints its own counters. The
// transforms are those of --stage=all; a stage boundary is a topic write and read that keeps
// each event's ID, event time and every field (one JSON message per event; see package topic).
//
// Acknowledgement and what a crash costs:
//   - ingest acknowledges the raw queue after the archive file holding a message is closed (or
//     after commit with --ack=commit, on Dataflow), as --stage=all does. On restart, given
//     --store (the aggregate stage's), it replays the archive's tail into its topic as
//     --stage=all replays it into its views; what a crash lost between the archive and the topic
//     is published again, and the aggregate stage drops what it had already counted. On Prism
//     without --store, a crash loses the events archived but not yet published from the speed
//     views until the nightly backfill; on Dataflow (durable state) it loses nothing.
//   - score acknowledges its input after the runner commits the bundle that read it, and that
//     bundle publishes its output and writes its dead letters before it finishes (the reader,
//     the scoring and the writers run fused in one stage; nothing else sits in between), so a
//     message is acknowledged only once its event is published: a crash, on any runner, loses
//     nothing and publishes again what was not acknowledged.
//   - aggregate acknowledges after commit and dedupes by event ID for --dedupe_ttl, so an event
//     the topic delivers again never counts twice. On Dataflow its commits and state are durable:
//     a crash loses nothing. On Prism (and Flink between checkpoints) state lives in memory: a
//     crash loses the windows and sessions still open, which the nightly backfill corrects; it
//     has no archive to replay (use --stage=all where that matters, as local runs do).
//
// The watermark of a stage that reads a topic is the largest event time it has read (see
// io/source/internal/watermark); when its subscription (or partition) is idle for the idle parameter (default 10 s)
// it moves to the wall clock. Give the subscriptions of the score and aggregate stages an idle
// longer than the upstream stage's plus its latency (the tests use 2 s for the raw queue and
// 10 s for the aggregate stage's): otherwise, in a replay of old events, the last events the
// upstream holds back in dedupe arrive after the downstream watermark has moved on, as late data.
package main
