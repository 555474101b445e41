package sqstest

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

func (s *Server) receive(t *testing.T, wait, visibility int32) []types.Message {
	t.Helper()
	out, err := s.client.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(s.QueueURL),
		MaxNumberOfMessages: 10, WaitTimeSeconds: wait, VisibilityTimeout: visibility,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameSentTimestamp}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Messages
}

// TestLongPoll: a receive on an empty queue waits for its WaitTimeSeconds, and returns as
// soon as a message comes.
func TestLongPoll(t *testing.T) {
	s := Start(t, 30*time.Second)
	start := time.Now()
	if msgs := s.receive(t, 1, 0); len(msgs) != 0 {
		t.Fatalf("received %d messages from an empty queue", len(msgs))
	}
	if d := time.Since(start); d < 900*time.Millisecond || d > 2*time.Second {
		t.Errorf("a 1 s long poll of an empty queue took %v", d)
	}
	go func() {
		time.Sleep(500 * time.Millisecond)
		s.PublishAll(t, [][]byte{[]byte("m")})
	}()
	start = time.Now()
	msgs := s.receive(t, 5, 0)
	if d := time.Since(start); len(msgs) != 1 || d > 2*time.Second {
		t.Errorf("a 5 s long poll returned %d messages after %v, want 1 message after about 0.5 s", len(msgs), d)
	}
}

// TestVisibilityAndSentTimestamp: ReceiveMessage's VisibilityTimeout hides the message for
// that long (goaws would use the queue's), the queue counts it in flight, not visible, and its
// SentTimestamp is when it was sent (goaws would report the receive).
func TestVisibilityAndSentTimestamp(t *testing.T) {
	s := Start(t, 30*time.Second)
	sent := time.Now()
	s.PublishAll(t, [][]byte{[]byte("m")})
	time.Sleep(1100 * time.Millisecond)
	msgs := s.receive(t, 0, 5)
	if len(msgs) != 1 {
		t.Fatalf("received %d messages, want 1", len(msgs))
	}
	ms, _ := strconv.ParseInt(msgs[0].Attributes["SentTimestamp"], 10, 64)
	if at := time.UnixMilli(ms); at.Before(sent.Add(-time.Second)) || at.After(sent.Add(time.Second)) {
		t.Errorf("SentTimestamp %s, want about %s", at, sent)
	}
	if st := s.Stats(t); st.Visible != 0 || st.InFlight != 1 {
		t.Errorf("after the receive: %+v, want 1 in flight", st)
	}
	start := time.Now()
	for len(s.receive(t, 0, 5)) == 0 {
		time.Sleep(200 * time.Millisecond)
	}
	if d := time.Since(start); d < 3*time.Second || d > 8*time.Second {
		t.Errorf("the message came back %v after its receive, want about 5 s", d)
	}
	if st := s.Stats(t); st.Redelivered != 1 || st.Deliveries != 2 {
		t.Errorf("%+v, want 1 message delivered twice", st)
	}
}

// TestBatches: ChangeMessageVisibilityBatch works, and the batch calls report every entry as
// successful or failed.
func TestBatches(t *testing.T) {
	s := Start(t, 30*time.Second)
	s.PublishAll(t, [][]byte{[]byte("a"), []byte("b")})
	msgs := s.receive(t, 0, 30)
	if len(msgs) != 2 {
		t.Fatalf("received %d messages, want 2", len(msgs))
	}
	ctx := context.Background()
	vis, err := s.client.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(s.QueueURL),
		Entries: []types.ChangeMessageVisibilityBatchRequestEntry{
			{Id: aws.String("a"), ReceiptHandle: msgs[0].ReceiptHandle, VisibilityTimeout: 60},
			{Id: aws.String("x"), ReceiptHandle: aws.String("bad"), VisibilityTimeout: 60}}})
	if err != nil || len(vis.Successful) != 1 || len(vis.Failed) != 1 || aws.ToString(vis.Failed[0].Id) != "x" {
		t.Errorf("ChangeMessageVisibilityBatch = %+v, %v; want a successful, x failed", vis, err)
	}
	del, err := s.client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(s.QueueURL),
		Entries: []types.DeleteMessageBatchRequestEntry{{Id: aws.String("a"), ReceiptHandle: msgs[0].ReceiptHandle},
			{Id: aws.String("b"), ReceiptHandle: msgs[1].ReceiptHandle}, {Id: aws.String("x"), ReceiptHandle: aws.String("bad")}}})
	if err != nil || len(del.Successful) != 2 || len(del.Failed) != 1 || aws.ToString(del.Failed[0].Id) != "x" {
		t.Errorf("DeleteMessageBatch = %+v, %v; want a and b successful, x failed", del, err)
	}
	if st := s.Stats(t); st.Unacked() != 0 {
		t.Errorf("after the delete: %+v", st)
	}
}

// TestSendRefusesWhatSQSRefuses: empty bodies and bodies outside SQS's character set are
// refused, as SQS refuses them.
func TestSendRefusesWhatSQSRefuses(t *testing.T) {
	s := Start(t, 30*time.Second)
	for _, body := range []string{"", "nul \x00", "\xff\xfe garbage", "\x1b[0m"} {
		if _, err := s.Send(context.Background(), [][]byte{[]byte(body)}); err == nil {
			t.Errorf("sent %q", body)
		}
		if Sendable([]byte(body)) {
			t.Errorf("Sendable(%q) = true", body)
		}
	}
	if !Sendable([]byte("tab\tnewline\n\u00e9\U0001F600")) {
		t.Error("Sendable refuses valid characters")
	}
}
