package pubsubtest

import (
	"context"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
)

// CreateTopic creates the topic called name and returns its URL, pubsub://projects/P/topics/T
// (the URL of the topic driver, io/topic/pubsubtopic).
func (s *Server) CreateTopic(t testing.TB, name string) string {
	t.Helper()
	s.admin(t, func(ctx context.Context, c *pubsub.Client) error {
		_, err := c.TopicAdminClient.CreateTopic(ctx, &pb.Topic{Name: "projects/" + Project + "/topics/" + name})
		return err
	})
	return "pubsub://projects/" + Project + "/topics/" + name
}

// CreateSubscription creates the subscription called name to the topic called topic, with ack
// deadline ackDeadline (pstest's minimum is 10 s), and returns its source URL,
// pubsub://projects/P/subscriptions/S.
func (s *Server) CreateSubscription(t testing.TB, topic, name string, ackDeadline time.Duration) string {
	t.Helper()
	sub := &pb.Subscription{Name: "projects/" + Project + "/subscriptions/" + name,
		Topic: "projects/" + Project + "/topics/" + topic, AckDeadlineSeconds: int32(ackDeadline / time.Second)}
	s.admin(t, func(ctx context.Context, c *pubsub.Client) error {
		_, err := c.SubscriptionAdminClient.CreateSubscription(ctx, sub)
		return err
	})
	return "pubsub://" + sub.Name
}

// admin runs f with a client of the server's project.
func (s *Server) admin(t testing.TB, f func(context.Context, *pubsub.Client) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pubsub.NewClient(ctx, Project)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := f(ctx, c); err != nil {
		t.Fatal(err)
	}
}

// TopicStats summarises the messages published to the topic called topic, whose subscriptions
// number subs: each message should be acknowledged once per subscription.
func (s *Server) TopicStats(topic string, subs int) Stats {
	var st Stats
	name := "projects/" + Project + "/topics/" + topic
	for _, m := range s.Messages() {
		if m.Topic != name {
			continue
		}
		st.Messages++
		st.Deliveries += m.Deliveries
		if m.Acks < subs {
			st.Unacked++
		}
		if m.Deliveries > subs {
			st.Redelivered++
		}
	}
	return st
}
