package sqssource

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/beamline/beamline/io/internal/shared"
	"github.com/beamline/beamline/io/source/internal/lease"
	"golang.org/x/sync/errgroup"
)

// Limits of the calls to SQS.
const (
	// callTimeout bounds a call, on top of a receive's long poll.
	callTimeout = 30 * time.Second
	// batchSize is the most entries of a batch request and messages of a receive (SQS's limit).
	batchSize = 10
	// parallelBatches is how many batch requests of one delete or extension run at once.
	parallelBatches = 8
	// maxWait is SQS's longest long poll.
	maxWait = 20 * time.Second
)

// conn is the SQS client of one region and endpoint, shared by the readers and ackers of
// this process.
type conn struct {
	key    string // the key of conns
	client *sqs.Client
	leases *lease.Leases
}

// conns are the process's clients, by region and endpoint.
var conns shared.Pool[*conn]

// open returns the process's client of region, creating it on first use. Clients are kept by
// region and endpoint (AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL): a test process that starts a
// server per test must not reuse the client of a server that is gone.
func open(ctx context.Context, region string) (*conn, error) {
	key := region + "@" + os.Getenv("AWS_ENDPOINT_URL_SQS") + "@" + os.Getenv("AWS_ENDPOINT_URL")
	return conns.Get(key, func() (*conn, error) {
		cfg, err := config.LoadDefaultConfig(context.WithoutCancel(ctx), config.WithRegion(region))
		if err != nil {
			return nil, fmt.Errorf("sqs region %s: aws configuration: %w", region, err)
		}
		c := &conn{key: key, client: sqs.NewFromConfig(cfg)}
		c.leases = lease.Start("sqs", c.extend)
		return c, nil
	})
}

// close releases one reference; the last one stops the leases.
func (c *conn) close() {
	conns.Release(c.key, func(c *conn) { c.leases.Stop() })
}

// check fails unless the queue answers, naming the queue: a missing queue, bad credentials
// or an unreachable endpoint fail the reader's setup instead of every call.
func (c *conn) check(ctx context.Context, queueURL string) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	_, err := c.client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(queueURL),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameVisibilityTimeout}})
	if err != nil {
		return fmt.Errorf("sqs queue %s: %w", queueURL, err)
	}
	return nil
}

// errTransient marks a receive error that the next call may not have.
var errTransient = errors.New("transient")

// receive receives up to batchSize messages of queueURL, waiting up to wait for one, and
// hides them for visibility. The call is bounded by wait plus callTimeout only: a receive
// cancelled after SQS handed out messages loses them until their visibility expires. An
// error the SDK would retry (throttling, a server error, the network) wraps errTransient.
func (c *conn) receive(ctx context.Context, queueURL string, wait, visibility time.Duration) ([]types.Message, error) {
	rctx, cancel := context.WithTimeout(ctx, wait+callTimeout)
	defer cancel()
	out, err := c.client.ReceiveMessage(rctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(queueURL),
		MaxNumberOfMessages:         batchSize,
		WaitTimeSeconds:             int32(wait / time.Second),
		VisibilityTimeout:           int32(visibility / time.Second),
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameSentTimestamp},
	})
	switch {
	case err == nil:
		return out.Messages, nil
	case ctx.Err() != nil:
		return nil, fmt.Errorf("sqs receive %s: %w", queueURL, ctx.Err())
	case rctx.Err() != nil || retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary:
		return nil, fmt.Errorf("sqs receive %s: %w: %w", queueURL, errTransient, err)
	}
	return nil, fmt.Errorf("sqs receive %s: %w", queueURL, err)
}

// delete deletes the messages of receipt handles of queueURL, in batches. An entry that SQS
// does not report deleted is an error.
func (c *conn) delete(ctx context.Context, queueURL string, handles []string) error {
	return inBatches(ctx, handles, func(ctx context.Context, batch []string) error {
		entries := make([]types.DeleteMessageBatchRequestEntry, len(batch))
		for i, h := range batch {
			entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(h)}
		}
		out, err := c.client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(queueURL), Entries: entries})
		if err != nil {
			return fmt.Errorf("sqs delete %d messages of %s: %w", len(batch), queueURL, err)
		}
		if err := batchResult(len(batch), out.Successful, out.Failed, func(e types.DeleteMessageBatchResultEntry) *string { return e.Id }); err != nil {
			return fmt.Errorf("sqs delete %d messages of %s: %w", len(batch), queueURL, err)
		}
		return nil
	})
}

// extend sets the visibility timeout of the messages of receipt handles of queueURL to
// visibility from now, in batches. It returns the handles of the entries that failed, and
// the first error of a request that failed as a whole.
func (c *conn) extend(ctx context.Context, queueURL string, handles []string, visibility time.Duration) (failed []string, err error) {
	var mu sync.Mutex
	err = inBatches(ctx, handles, func(ctx context.Context, batch []string) error {
		entries := make([]types.ChangeMessageVisibilityBatchRequestEntry, len(batch))
		for i, h := range batch {
			entries[i] = types.ChangeMessageVisibilityBatchRequestEntry{Id: aws.String(strconv.Itoa(i)),
				ReceiptHandle: aws.String(h), VisibilityTimeout: int32(visibility / time.Second)}
		}
		out, err := c.client.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(queueURL), Entries: entries})
		if err != nil {
			return fmt.Errorf("sqs extend the visibility of %d messages of %s: %w", len(batch), queueURL, err)
		}
		bad := notDone(len(batch), out.Successful, func(e types.ChangeMessageVisibilityBatchResultEntry) *string { return e.Id })
		mu.Lock()
		defer mu.Unlock()
		for _, i := range bad {
			failed = append(failed, batch[i])
		}
		return nil
	})
	return failed, err
}

// inBatches calls do with the handles in batches of batchSize, parallelBatches at a time,
// each with its own timeout, and returns the first error.
func inBatches(ctx context.Context, handles []string, do func(context.Context, []string) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(parallelBatches)
	for len(handles) > 0 {
		batch := handles[:min(len(handles), batchSize)]
		handles = handles[len(batch):]
		g.Go(func() error {
			bctx, cancel := context.WithTimeout(ctx, callTimeout)
			defer cancel()
			return do(bctx, batch)
		})
	}
	return g.Wait()
}

// batchResult checks the response of a batch request of n entries with IDs "0".."n-1": every
// entry must be reported successful; a failed entry, or one reported neither way, is an error.
func batchResult[S any](n int, ok []S, failed []types.BatchResultErrorEntry, id func(S) *string) error {
	bad := notDone(n, ok, id)
	if len(bad) == 0 {
		return nil
	}
	var errs []error
	for _, f := range failed {
		errs = append(errs, fmt.Errorf("entry %s: %s: %s", aws.ToString(f.Id), aws.ToString(f.Code), aws.ToString(f.Message)))
	}
	if len(bad) > len(failed) {
		errs = append(errs, fmt.Errorf("%d entries reported neither successful nor failed", len(bad)-len(failed)))
	}
	return fmt.Errorf("%d of %d entries failed: %w", len(bad), n, errors.Join(errs...))
}

// notDone returns the indexes of the entries "0".."n-1" of a batch request that its
// response does not report successful.
func notDone[S any](n int, ok []S, id func(S) *string) []int {
	done := make([]bool, n)
	for _, s := range ok {
		if i, err := strconv.Atoi(aws.ToString(id(s))); err == nil && i >= 0 && i < n {
			done[i] = true
		}
	}
	var bad []int
	for i, d := range done {
		if !d {
			bad = append(bad, i)
		}
	}
	return bad
}
