// Package sqssource is the source driver for sqs:// URLs: a native Amazon SQS reader, an
// unbounded splittable DoFn built on aws-sdk-go-v2, that runs on every runner (Prism, Flink,
// Dataflow).
//
//	sqs://sqs.REGION.amazonaws.com/ACCOUNT/QUEUE[?call=1s&idle=10s&delay=0s&max=20000&visibility=60s&receivers=8]
//
// The URL is the queue URL as go-cloud writes it; the reader calls the queue
// https://sqs.REGION.amazonaws.com/ACCOUNT/QUEUE. The client takes the AWS SDK's usual
// configuration: the credentials chain, the region of the URL, and AWS_ENDPOINT_URL_SQS (or
// AWS_ENDPOINT_URL) for a local server.
//
// # Reading
//
// Each call of the reader receives for a bounded time (call, default 1 s) or count (max): a
// long poll first (of what is left of the call, at least 1 s, so an idle queue costs one
// request a call), then, while messages come, rounds of receivers concurrent receives
// (default 8) of up to 10 messages each; it stops at the first round that returns nothing,
// emits what it received and checkpoints itself (sdf.ResumeProcessingIn): a runner commits
// a bundle's output when the bundle ends, so a reader that kept receiving inside one call
// would emit nothing until traffic stopped. A receive in flight is never cancelled to keep
// a call short: SQS hides what it hands out until the visibility timeout expires. The reader
// refuses runner splits, so one reader serves the queue per job.
//
// A body that is an SNS notification (an SNS topic delivering to the queue without raw
// message delivery: JSON with "Type":"Notification", "TopicArn" and "Message") is unwrapped
// to its Message. Line breaks become spaces (source.OneLine). Each message's Source is the
// queue name, "/", and its message ID.
//
// # Event time and watermark
//
// A message is timestamped with its event's ts field; a record without a usable one
// (garbage) with its SentTimestamp. The watermark (package watermark) is the largest event
// time read, minus delay, and it advances only after a call whose last round had a receive
// that was not full: a standard queue delivers in no particular order, so the watermark
// holds while a backlog is read. A queue idle for idle (default 10 s) moves the watermark to
// now - delay. Events behind the watermark are late data (see the streaming job's allowed
// lateness): SQS can return fewer than 10 messages while more wait, so give delay a few
// seconds where ordering matters. After a crash, the messages the dead job held come back
// once their visibility timeout expires.
//
// # Acknowledgement
//
// A message is acknowledged by deleting it. In source.AckAfterArchive mode (the default)
// each message carries its receipt handle as AckID to the archive writer, which deletes it
// (DeleteMessageBatch) once the file holding it is closed; until then the reader keeps the
// message hidden, extending its visibility timeout (visibility, default 60 s) every third of
// it, for at most ten minutes. A batch entry that SQS does not report deleted is an error. In
// source.AckAfterCommit mode the reader deletes the messages of a call at the start of the
// next one: the receipt handles travel in the checkpoint's residual, which the runner saves
// with the bundle's output. That is durable only where a commit is (Dataflow).
package sqssource

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/beamline/beamline/io/source"
	"github.com/beamline/beamline/io/source/internal/queueurl"
)

// Scheme is the URL scheme of this driver.
const Scheme = "sqs"

func init() {
	source.Register(Scheme, queueurl.Driver(ParseURL, Read, openAcker))
}

// Defaults of the URL parameters of this driver (see queueurl for the others).
const (
	DefaultVisibility = 60 * time.Second
	DefaultReceivers  = 8
)

// Bounds of the URL parameters that SQS limits.
const (
	// MinVisibility leaves the reader time to extend a visibility timeout (every third of
	// it, checked every second).
	MinVisibility = 5 * time.Second
	// MaxVisibility is SQS's limit: 12 hours.
	MaxVisibility = 12 * time.Hour
	// MaxReceivers bounds the concurrent receives of one round.
	MaxReceivers = 16
)

// Params are an sqs URL's parameters.
type Params struct {
	// Region, Account and Queue name the queue.
	Region, Account, Queue string
	// Host is the queue URL's host, sqs.REGION.amazonaws.com (or .amazonaws.com.cn).
	Host string
	// Reader are the reader's parameters (call, max, idle, delay).
	queueurl.Reader
	// Visibility is the visibility timeout the reader holds messages with (whole seconds).
	Visibility time.Duration
	// Receivers is how many receives run at once in one round.
	Receivers int
}

// QueueURL returns the queue's URL, https://sqs.REGION.amazonaws.com/ACCOUNT/QUEUE.
func (p Params) QueueURL() string {
	return "https://" + p.Host + "/" + p.Account + "/" + p.Queue
}

var (
	validHost    = regexp.MustCompile(`^sqs\.([a-z]{2}(?:-[a-z]+)+-[0-9]+)\.amazonaws\.com(?:\.cn)?$`)
	validAccount = regexp.MustCompile(`^[0-9]{12}$`)
	validQueue   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,75}(?:\.fifo)?$|^[A-Za-z0-9_-]{1,80}$`)
)

// ParseURL parses an sqs:// URL.
func ParseURL(u *url.URL) (Params, error) {
	const form = "sqs://sqs.REGION.amazonaws.com/ACCOUNT/QUEUE"
	if u.Scheme != Scheme {
		return Params{}, fmt.Errorf("sqs source: scheme %q, want %q", u.Scheme, Scheme)
	}
	m := validHost.FindStringSubmatch(u.Host)
	if m == nil {
		return Params{}, fmt.Errorf("sqs source: host %q is not sqs.REGION.amazonaws.com (for example sqs.eu-west-1.amazonaws.com; for a local server keep the host and set AWS_ENDPOINT_URL_SQS)", u.Host)
	}
	account, queue, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	switch {
	case !validAccount.MatchString(account):
		return Params{}, fmt.Errorf("sqs source: %q has no 12-digit account ID after the host: want %s", u.Redacted(), form)
	case !validQueue.MatchString(queue):
		return Params{}, fmt.Errorf("sqs source: %q has no valid queue name after the account (1-80 letters, digits, - or _, optionally .fifo): want %s", u.Redacted(), form)
	}
	p := Params{Region: m[1], Host: u.Host, Account: account, Queue: queue, Reader: queueurl.Defaults(),
		Visibility: DefaultVisibility, Receivers: DefaultReceivers}
	if err := queueurl.Parse("sqs", u.Query(), &p.Reader, []string{"visibility", "receivers"}, p.set); err != nil {
		return Params{}, err
	}
	return p, nil
}

// set sets one of the driver's own URL parameters.
func (p *Params) set(name, v string) error {
	var err error
	if name == "receivers" {
		if p.Receivers, err = strconv.Atoi(v); err == nil && (p.Receivers <= 0 || p.Receivers > MaxReceivers) {
			err = fmt.Errorf("want 1 to %d", MaxReceivers)
		}
		return err
	}
	p.Visibility, err = visibility(v)
	return err
}

func visibility(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	switch {
	case err != nil:
	case d%time.Second != 0:
		err = fmt.Errorf("SQS takes whole seconds")
	case d < MinVisibility || d > MaxVisibility:
		err = fmt.Errorf("want %v to %v", MinVisibility, MaxVisibility)
	}
	return d, err
}

func openAcker(ctx context.Context, p Params) (source.Acker, error) {
	c, err := open(ctx, p.Region)
	if err != nil {
		return nil, err
	}
	return &acker{conn: c, queueURL: p.QueueURL()}, nil
}

// acker deletes the messages of one queue and ends their leases.
type acker struct {
	conn     *conn
	queueURL string
}

func (a *acker) Ack(ctx context.Context, handles []string) error {
	if err := a.conn.delete(ctx, a.queueURL, handles); err != nil {
		return err
	}
	a.conn.leases.Release(a.queueURL, handles)
	return nil
}

func (a *acker) Close() error {
	a.conn.close()
	return nil
}
