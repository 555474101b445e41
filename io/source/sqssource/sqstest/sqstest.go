// Package sqstest runs a local SQS server in the test process, on a TCP port, with one queue,
// for the tests of the SQS source and of the jobs that read it (a job run as a subprocess
// reaches it through AWS_ENDPOINT_URL_SQS).
//
// The server is goaws (github.com/Admiral-Piett/goaws) behind an adapter: goaws v0.4.5 speaks
// only SQS's query protocol, and aws-sdk-go-v2 speaks only AWS JSON 1.0, so the adapter
// translates, and makes goaws behave as SQS where the source relies on it (see adapter). goaws
// keeps its queues in process-wide state: each server creates a queue of its own name and
// deletes it when the test ends.
package sqstest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Admiral-Piett/goaws/app"
	"github.com/Admiral-Piett/goaws/app/gosqs"
	"github.com/Admiral-Piett/goaws/app/router"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/sirupsen/logrus"
)

// Region and Account are those of the test queues.
const (
	Region  = "us-east-1"
	Account = "000000000000"
)

// Server is a local SQS server with one queue.
type Server struct {
	// Endpoint is the server's address, http://127.0.0.1:PORT (AWS_ENDPOINT_URL_SQS).
	Endpoint string
	// Queue is the queue's name, QueueURL its URL, https://sqs.REGION.amazonaws.com/ACCOUNT/QUEUE.
	Queue, QueueURL string
	// URL is the queue's source URL, sqs://sqs.REGION.amazonaws.com/ACCOUNT/QUEUE.
	URL string

	client  *sqs.Client
	adapter *adapter
}

var (
	setupOnce sync.Once
	queues    atomic.Int64
)

// Start starts a server, points the AWS SDK at it for the rest of the test
// (AWS_ENDPOINT_URL_SQS, AWS_REGION and test credentials, with t.Setenv, so a job started as a
// subprocess inherits them), and creates a queue whose visibility timeout is visibility (whole
// seconds). The server stops when the test ends.
func Start(t testing.TB, visibility time.Duration) *Server {
	t.Helper()
	setupOnce.Do(func() {
		logrus.SetLevel(logrus.WarnLevel) // goaws logs every message at info level
		app.CurrentEnvironment.Region = Region
		app.CurrentEnvironment.AccountID = Account
		app.CurrentEnvironment.QueueAttributeDefaults.VisibilityTimeout = 30
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Endpoint: "http://" + l.Addr().String(), adapter: newAdapter(router.New())}
	srv := &http.Server{Handler: s.adapter}
	go srv.Serve(l)
	quit := make(chan struct{})
	go gosqs.PeriodicTasks(time.Second, quit) // makes messages whose visibility expired visible again
	t.Cleanup(func() {
		close(quit)
		srv.Close()
	})
	for k, v := range map[string]string{"AWS_ENDPOINT_URL_SQS": s.Endpoint, "AWS_REGION": Region,
		"AWS_ACCESS_KEY_ID": "sqstest", "AWS_SECRET_ACCESS_KEY": "sqstest", "AWS_SESSION_TOKEN": ""} {
		t.Setenv(k, v)
	}
	s.client = newClient(t)
	s.Queue = fmt.Sprintf("events-%d-%d", time.Now().UnixNano()%1e9, queues.Add(1))
	s.QueueURL = "https://sqs." + Region + ".amazonaws.com/" + Account + "/" + s.Queue
	s.URL = "sqs://sqs." + Region + ".amazonaws.com/" + Account + "/" + s.Queue
	s.CreateQueue(t, s.Queue, map[string]string{"VisibilityTimeout": strconv.Itoa(int(visibility / time.Second))})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.client.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(s.QueueURL)})
	})
	return s
}

func newClient(t testing.TB) *sqs.Client {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return sqs.NewFromConfig(cfg)
}

// SetLatency delays every request by d from now on, as a network round trip to SQS would
// (measurements; the tests leave it at 0).
func (s *Server) SetLatency(d time.Duration) { s.adapter.latency.Store(int64(d)) }

// CreateQueue creates another queue on the server, with attributes (for example
// VisibilityTimeout, or a RedrivePolicy naming a dead-letter queue created before).
func (s *Server) CreateQueue(t testing.TB, name string, attributes map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attributes}); err != nil {
		t.Fatalf("create queue %s: %v", name, err)
	}
}

// PublishAll sends each record as one message, in order, in batches of 10, and returns the
// message IDs. A record SQS refuses fails the test (see Sendable).
func (s *Server) PublishAll(t testing.TB, records [][]byte) []string {
	t.Helper()
	ids, err := s.Send(context.Background(), records)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// Send sends each record as one message, in order, in batches of 10, and returns the
// message IDs.
func (s *Server) Send(ctx context.Context, records [][]byte) ([]string, error) {
	var ids []string
	for len(records) > 0 {
		batch := records[:min(len(records), 10)]
		records = records[len(batch):]
		entries := make([]types.SendMessageBatchRequestEntry, len(batch))
		for i, r := range batch {
			entries[i] = types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(string(r))}
		}
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		out, err := s.client.SendMessageBatch(cctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(s.QueueURL), Entries: entries})
		cancel()
		if err != nil {
			return ids, fmt.Errorf("send %d messages to %s: %w", len(batch), s.Queue, err)
		}
		if len(out.Failed) > 0 {
			f := out.Failed[0]
			i, _ := strconv.Atoi(aws.ToString(f.Id))
			return ids, fmt.Errorf("send %q to %s: %s: %s", batch[i], s.Queue, aws.ToString(f.Code), aws.ToString(f.Message))
		}
		byID := map[string]string{}
		for _, e := range out.Successful {
			byID[aws.ToString(e.Id)] = aws.ToString(e.MessageId)
		}
		for i := range batch {
			ids = append(ids, byID[strconv.Itoa(i)])
		}
	}
	return ids, nil
}

// PublishSNS sends each record as an SNS notification of topicArn, as an SNS topic delivers
// to a subscribed queue without raw message delivery, and returns the message IDs.
func (s *Server) PublishSNS(t testing.TB, topicArn string, records [][]byte) []string {
	t.Helper()
	bodies := make([][]byte, len(records))
	for i, r := range records {
		b, err := json.Marshal(map[string]string{"Type": "Notification", "MessageId": fmt.Sprintf("sns-%d", i),
			"TopicArn": topicArn, "Message": string(r), "Timestamp": time.Now().UTC().Format(time.RFC3339Nano),
			"SignatureVersion": "1", "Signature": "sqstest", "SigningCertURL": "https://sns.example/cert.pem",
			"UnsubscribeURL": "https://sns.example/unsubscribe"})
		if err != nil {
			t.Fatal(err)
		}
		bodies[i] = b
	}
	return s.PublishAll(t, bodies)
}

// Sendable reports whether SQS accepts record as a message body: one character or more, all
// of them valid UTF-8 in SQS's set (#x9, #xA, #xD, #x20 to #xD7FF, #xE000 to #xFFFD, #x10000
// to #x10FFFF). Records with other bytes (binary garbage) cannot travel through SQS.
func Sendable(record []byte) bool { return sendable(string(record)) }

// Stats summarises a queue.
type Stats struct {
	// Visible is how many messages wait to be received; InFlight how many were received
	// and are neither deleted nor visible again.
	Visible, InFlight int
	// Sent is how many messages were sent through this server; Redelivered how many of them
	// were received more than once; Deliveries the receives of all of them.
	Sent, Redelivered, Deliveries int
}

// Unacked is how many messages are not deleted.
func (st Stats) Unacked() int { return st.Visible + st.InFlight }

// Stats returns the statistics of the server's queue.
func (s *Server) Stats(t testing.TB) Stats {
	t.Helper()
	st, err := s.QueueStats(context.Background(), s.QueueURL)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// QueueStats returns the statistics of the queue at queueURL (Visible and InFlight; the
// delivery counts are the server's).
func (s *Server) QueueStats(ctx context.Context, queueURL string) (Stats, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := s.client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(queueURL),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
	if err != nil {
		return Stats{}, fmt.Errorf("queue attributes of %s: %w", queueURL, err)
	}
	var st Stats
	var errs []error
	for name, n := range map[string]*int{string(types.QueueAttributeNameApproximateNumberOfMessages): &st.Visible,
		string(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible): &st.InFlight} {
		v, err := strconv.Atoi(out.Attributes[name])
		errs = append(errs, err)
		*n = v
	}
	if err := errors.Join(errs...); err != nil {
		return Stats{}, fmt.Errorf("queue attributes of %s: %w", queueURL, err)
	}
	st.Sent, st.Redelivered, st.Deliveries = s.adapter.counts()
	return st, nil
}

// counts returns how many messages were sent, received more than once, and received.
func (a *adapter) counts() (sent, redelivered, deliveries int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, n := range a.deliveries {
		deliveries += n
		if n > 1 {
			redelivered++
		}
	}
	return len(a.sent), redelivered, deliveries
}
