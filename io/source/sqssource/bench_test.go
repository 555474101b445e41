package sqssource

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/beamline/beamline/io/source"
	"github.com/beamline/beamline/io/source/internal/queueurl"
	"github.com/beamline/beamline/io/source/sqssource/sqstest"
)

// BenchmarkReceive measures how fast one reader drains a backlog of b.N messages from the
// local server, receiving and deleting them, with 1 to 8 receives per round, with no added
// latency and with 20 ms per request (a network round trip to SQS):
//
//	go test ./io/source/sqssource -run x -bench Receive -benchtime 5000x
func BenchmarkReceive(b *testing.B) {
	body := []byte(`{"event_id":"e-000001","type":"pageview","user_id":"u-42","url":"https://shop.example/p/1","country":"DE","ts":"2026-11-20T10:00:00.000Z"}`)
	for _, latency := range []time.Duration{0, 20 * time.Millisecond} {
		for _, receivers := range []int{1, 2, 4, 8} {
			b.Run(fmt.Sprintf("latency=%v/receivers=%d", latency, receivers), func(b *testing.B) {
				benchmarkReceive(b, body, latency, receivers)
			})
		}
	}
}

func benchmarkReceive(b *testing.B, body []byte, latency time.Duration, receivers int) {
	srv := sqstest.Start(b, 60*time.Second)
	records := make([][]byte, b.N)
	for i := range records {
		records[i] = body
	}
	srv.PublishAll(b, records)
	srv.SetLatency(latency)
	f := &readFn{Region: sqstest.Region, QueueURL: srv.QueueURL, Queue: srv.Queue, Call: time.Second,
		MaxMessages: queueurl.DefaultMax, Visibility: 60 * time.Second, Receivers: receivers}
	if err := f.Setup(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer f.Teardown()
	a := &acker{conn: f.conn, queueURL: f.QueueURL}
	b.ResetTimer()
	for n := 0; n < b.N; {
		c, err := f.Pull(context.Background(), func(beam.EventTime, source.Message) {})
		if err != nil {
			b.Fatal(err)
		}
		if err := a.Ack(context.Background(), c.IDs); err != nil {
			b.Fatal(err)
		}
		n += len(c.IDs)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
}
