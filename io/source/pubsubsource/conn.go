package pubsubsource

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"cloud.google.com/go/pubsub/v2"
	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/beamline/beamline/io/internal/shared"
	"github.com/beamline/beamline/io/source/internal/lease"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Timeouts of the calls to Pub/Sub.
const (
	callTimeout = 30 * time.Second
	// ackChunk is how many ack IDs one request carries (requests are limited to 512 KB).
	ackChunk = 1000
	// defaultDeadline is the ack deadline assumed when the subscription's cannot be read.
	defaultDeadline = 60 * time.Second
)

// conn is the client of one project, shared by the readers and ackers of this process.
type conn struct {
	key     string // the key of conns
	project string
	client  *pubsub.Client
	leases  *lease.Leases
}

// conns are the process's connections, by project and emulator.
var conns shared.Pool[*conn]

// open returns the process's connection to project, opening it on first use. Connections are
// kept by project and emulator (PUBSUB_EMULATOR_HOST): a test process that starts a server
// per test must not reuse the connection to a server that is gone.
func open(ctx context.Context, project string) (*conn, error) {
	key := project + "@" + os.Getenv("PUBSUB_EMULATOR_HOST")
	return conns.Get(key, func() (*conn, error) {
		client, err := pubsub.NewClient(context.WithoutCancel(ctx), project)
		if err != nil {
			return nil, fmt.Errorf("pubsub project %s: %w", project, err)
		}
		c := &conn{key: key, project: project, client: client}
		c.leases = lease.Start("pubsub", c.extendAll)
		return c, nil
	})
}

// close releases one reference; the last one closes the client.
func (c *conn) close() {
	conns.Release(c.key, func(c *conn) {
		c.leases.Stop()
		c.client.Close()
	})
}

// deadline returns the ack deadline of sub.
func (c *conn) deadline(ctx context.Context, sub string) time.Duration {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	s, err := c.client.SubscriptionAdminClient.GetSubscription(ctx, &pb.GetSubscriptionRequest{Subscription: sub})
	if err != nil || s.GetAckDeadlineSeconds() <= 0 {
		slog.Warn("pubsub: cannot read the subscription's ack deadline; assuming the default", "subscription", sub, "default", defaultDeadline, "err", err)
		return defaultDeadline
	}
	return time.Duration(s.GetAckDeadlineSeconds()) * time.Second
}

// errTransient marks a pull error that the next pull may not have.
var errTransient = errors.New("transient")

// pull pulls at most max messages of sub. It lets the server decide how long to wait for
// messages (pstest waits 500 ms, Pub/Sub a few seconds): a pull cancelled after the server
// has handed out messages loses them until their ack deadline expires, when they come back
// as late data, so the reader never cancels a pull to keep its call short (measured with
// pstest: a call-long pull timeout lost 1,000 of 6,000 messages that way, delivered again
// 10 s later and dropped as too late). An empty result is not an error; an error that may
// pass (the server unavailable, overloaded, slow) wraps errTransient.
func (c *conn) pull(ctx context.Context, sub string, max int) ([]*pb.ReceivedMessage, error) {
	pctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	resp, err := c.client.SubscriptionAdminClient.Pull(pctx, &pb.PullRequest{Subscription: sub, MaxMessages: int32(max)})
	switch {
	case err == nil:
		return resp.GetReceivedMessages(), nil
	case ctx.Err() != nil:
		return nil, fmt.Errorf("pubsub pull %s: %w", sub, ctx.Err())
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.ResourceExhausted, codes.Aborted, codes.Internal, codes.Canceled, codes.DeadlineExceeded:
		return nil, fmt.Errorf("pubsub pull %s: %w: %w", sub, errTransient, err)
	}
	return nil, fmt.Errorf("pubsub pull %s: %w", sub, err)
}

// ack acknowledges ids of sub.
func (c *conn) ack(ctx context.Context, sub string, ids []string) error {
	for len(ids) > 0 {
		n := min(len(ids), ackChunk)
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		err := c.client.SubscriptionAdminClient.Acknowledge(cctx, &pb.AcknowledgeRequest{Subscription: sub, AckIds: ids[:n]})
		cancel()
		if err != nil {
			return fmt.Errorf("pubsub ack %d messages of %s: %w", n, sub, err)
		}
		ids = ids[n:]
	}
	return nil
}

// extendAll is extend as a lease.Extend: Pub/Sub refuses no ID by itself.
func (c *conn) extendAll(ctx context.Context, sub string, ids []string, deadline time.Duration) ([]string, error) {
	return nil, c.extend(ctx, sub, ids, deadline)
}

// extend sets the ack deadline of ids of sub to deadline from now.
func (c *conn) extend(ctx context.Context, sub string, ids []string, deadline time.Duration) error {
	for len(ids) > 0 {
		n := min(len(ids), ackChunk)
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		err := c.client.SubscriptionAdminClient.ModifyAckDeadline(cctx, &pb.ModifyAckDeadlineRequest{
			Subscription: sub, AckIds: ids[:n], AckDeadlineSeconds: int32(deadline / time.Second)})
		cancel()
		if err != nil {
			return fmt.Errorf("pubsub extend %d deadlines of %s: %w", n, sub, err)
		}
		ids = ids[n:]
	}
	return nil
}
