// Package pubsubtest runs a real Pub/Sub server (cloud.google.com/go/pubsub/v2/pstest) in the
// test process, on a TCP port, with one topic and one subscription, for the tests of the
// Pub/Sub source and of the jobs that read it (a job run as a subprocess reaches it through
// PUBSUB_EMULATOR_HOST).
package pubsubtest

import (
	"context"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
)

// Project is the project of the test topic and subscription.
const Project = "beamline-test"

// Server is a pstest server with a topic and a subscription to it.
type Server struct {
	*pstest.Server
	// Topic and Subscription are resource names.
	Topic, Subscription string
	// URL is the subscription's source URL, pubsub://projects/P/subscriptions/S.
	URL string
}

// Start starts a server, points PUBSUB_EMULATOR_HOST at it for the rest of the test, and
// creates a topic and a subscription whose ack deadline is ackDeadline (pstest's minimum is
// 10 s). The server stops when the test ends.
func Start(t testing.TB, ackDeadline time.Duration) *Server {
	t.Helper()
	srv := pstest.NewServer()
	t.Cleanup(func() { srv.Close() })
	t.Setenv("PUBSUB_EMULATOR_HOST", srv.Addr)
	s := &Server{Server: srv, Topic: "projects/" + Project + "/topics/events",
		Subscription: "projects/" + Project + "/subscriptions/speed"}
	s.URL = "pubsub://" + s.Subscription
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, err := pubsub.NewClient(ctx, Project)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if _, err := client.TopicAdminClient.CreateTopic(ctx, &pb.Topic{Name: s.Topic}); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	sub := &pb.Subscription{Name: s.Subscription, Topic: s.Topic, AckDeadlineSeconds: int32(ackDeadline / time.Second)}
	if _, err := client.SubscriptionAdminClient.CreateSubscription(ctx, sub); err != nil {
		t.Fatalf("create subscription: %v", err)
	}
	return s
}

// PublishAll publishes each record as one message and returns the message IDs.
func (s *Server) PublishAll(records [][]byte) []string {
	ids := make([]string, len(records))
	for i, r := range records {
		ids[i] = s.Publish(s.Topic, r, nil)
	}
	return ids
}

// Stats summarises the server's messages.
type Stats struct {
	// Messages is how many were published.
	Messages int
	// Unacked is how many were never acknowledged.
	Unacked int
	// Redelivered is how many were delivered more than once.
	Redelivered int
	// Deliveries is the number of deliveries of all messages.
	Deliveries int
}

// Stats returns the server's statistics.
func (s *Server) Stats() Stats {
	var st Stats
	for _, m := range s.Messages() {
		st.Messages++
		st.Deliveries += m.Deliveries
		if m.Acks == 0 {
			st.Unacked++
		}
		if m.Deliveries > 1 {
			st.Redelivered++
		}
	}
	return st
}
