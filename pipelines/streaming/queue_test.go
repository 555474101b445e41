package main

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/beamline/beamline/io/source/pubsubsource/pubsubtest"
)

// queue is a real queue server, started by the test, that a test publishes a stream to and the
// job reads from: the crash tests run against each source driver through it.
type queue interface {
	// URL returns the job's source URL, with reader parameters for tests (short calls, a few
	// seconds of idleness before the watermark moves to now).
	URL() string
	// PublishAll publishes records, in order.
	PublishAll(t testing.TB, records [][]byte)
	// Unacked returns how many published records are not yet acknowledged (Pub/Sub), committed
	// (Kafka) or deleted (SQS).
	Unacked(t testing.TB) int
	// Redelivery is how long the records that a killed job held take to come back.
	Redelivery() time.Duration
	// State describes the queue for the test log.
	State(t testing.TB) string
	// Carries reports whether the queue can carry record at all (SQS refuses empty and
	// binary bodies at the producer).
	Carries(record []byte) bool
}

// pubsubQueue is a pstest server as a queue.
type pubsubQueue struct {
	srv *pubsubtest.Server
}

// crashAckDeadline is the subscription's ack deadline: what a killed job held comes back after it.
const crashAckDeadline = 10 * time.Second

func newPubsubQueue(t testing.TB) pubsubQueue {
	return pubsubQueue{srv: pubsubtest.Start(t, crashAckDeadline)}
}

func (q pubsubQueue) URL() string                               { return q.srv.URL + "?idle=3s&call=500ms" }
func (q pubsubQueue) PublishAll(_ testing.TB, records [][]byte) { q.srv.PublishAll(records) }
func (q pubsubQueue) Unacked(testing.TB) int                    { return q.srv.Stats().Unacked }
func (q pubsubQueue) Redelivery() time.Duration                 { return crashAckDeadline + time.Second }
func (q pubsubQueue) State(testing.TB) string                   { return fmt.Sprintf("%+v", q.srv.Stats()) }
func (q pubsubQueue) Carries([]byte) bool                       { return true }

// publisher publishes records in batches in the background.
type publisher struct {
	wg sync.WaitGroup
}

func publish(t testing.TB, q queue, records [][]byte, batch int, every time.Duration) *publisher {
	p := &publisher{}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for i := 0; i < len(records); i += batch {
			q.PublishAll(t, records[i:min(i+batch, len(records))])
			time.Sleep(every)
		}
	}()
	return p
}

// carried returns the records q can carry, and logs how many it cannot.
func carried(t testing.TB, q queue, records [][]byte) [][]byte {
	var out [][]byte
	for _, r := range records {
		if q.Carries(r) {
			out = append(out, r)
		}
	}
	if n := len(records) - len(out); n > 0 {
		t.Logf("%d of %d records cannot travel through the queue (binary or empty garbage); the test leaves them out", n, len(records))
	}
	return out
}
