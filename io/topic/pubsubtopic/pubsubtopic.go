// Package pubsubtopic is the topic driver for pubsub:// URLs: it publishes to a Google Cloud
// Pub/Sub topic with cloud.google.com/go/pubsub/v2's publisher, from any runner.
//
//	pubsub://projects/P/topics/T
//
// Like every Google client it honours PUBSUB_EMULATOR_HOST (pstest, the emulator). The
// publisher batches messages (up to 1,000 per request, or 10 ms) and retries transient errors
// for up to a minute; Publish waits for the result of every message it was given. A process
// shares one client per project and one publisher per topic between its DoFn instances.
//
// Read the topic back through a subscription with the pubsub source driver
// (io/source/pubsubsource): pubsub://projects/P/subscriptions/S?timestamp_attribute=ts.
package pubsubtopic

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/beamline/beamline/io/internal/shared"

	"cloud.google.com/go/pubsub/v2"

	"github.com/beamline/beamline/io/topic"
)

// Scheme is the URL scheme of this driver.
const Scheme = "pubsub"

func init() {
	topic.Register(Scheme, driver{})
}

// waitTimeout bounds how long Publish waits for the results of one call; the publisher itself
// gives up retrying a batch after publishTimeout.
const (
	waitTimeout    = 2 * time.Minute
	publishTimeout = time.Minute
)

// Params are a pubsub topic URL's parts.
type Params struct {
	// Project and Topic name the topic.
	Project, Topic string
}

// Path returns the topic's resource name.
func (p Params) Path() string {
	return "projects/" + p.Project + "/topics/" + p.Topic
}

var validName = regexp.MustCompile(`^[A-Za-z0-9._~%+-]+$`)

// ParseURL parses a pubsub:// topic URL.
func ParseURL(u *url.URL) (Params, error) {
	if u.Scheme != Scheme {
		return Params{}, fmt.Errorf("pubsub topic: scheme %q, want %q", u.Scheme, Scheme)
	}
	parts := strings.Split(strings.Trim(u.Host+u.Path, "/"), "/")
	if len(parts) != 4 || parts[0] != "projects" || parts[2] != "topics" || !validName.MatchString(parts[1]) || !validName.MatchString(parts[3]) {
		return Params{}, fmt.Errorf("pubsub topic: %q is not pubsub://projects/P/topics/T", u.Redacted())
	}
	if u.RawQuery != "" {
		return Params{}, fmt.Errorf("pubsub topic: %q: a topic URL takes no parameters", u.Redacted())
	}
	return Params{Project: parts[1], Topic: parts[3]}, nil
}

type driver struct{}

func (driver) Validate(u *url.URL) error {
	_, err := ParseURL(u)
	return err
}

func (driver) OpenPublisher(ctx context.Context, u *url.URL) (topic.Publisher, error) {
	p, err := ParseURL(u)
	if err != nil {
		return nil, err
	}
	return open(ctx, p)
}

// client is the process's client of one project and its publishers, by topic.
type client struct {
	key     string // clientKey
	project string
	c       *pubsub.Client

	mu   sync.Mutex // guards pubs
	pubs map[string]*pubsub.Publisher
}

// clients are the process's clients, by clientKey.
var clients shared.Pool[*client]

// publisher publishes to one topic through the process's shared client.
type publisher struct {
	client *client
	path   string
	pub    *pubsub.Publisher
}

// clientKey names the client of project: the project and the emulator the client talks to,
// if any (tests start one per test).
func clientKey(project string) string {
	return project + "@" + os.Getenv("PUBSUB_EMULATOR_HOST")
}

// open returns a publisher to the topic of p, opening the project's client on first use.
func open(ctx context.Context, p Params) (*publisher, error) {
	key := clientKey(p.Project)
	c, err := clients.Get(key, func() (*client, error) {
		pc, err := pubsub.NewClient(context.WithoutCancel(ctx), p.Project)
		if err != nil {
			return nil, fmt.Errorf("pubsub project %s: %w", p.Project, err)
		}
		return &client{key: key, project: p.Project, c: pc, pubs: map[string]*pubsub.Publisher{}}, nil
	})
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	pub, ok := c.pubs[p.Path()]
	if !ok {
		pub = c.c.Publisher(p.Path())
		pub.PublishSettings.CountThreshold = pubsub.MaxPublishRequestCount
		pub.PublishSettings.Timeout = publishTimeout
		c.pubs[p.Path()] = pub
	}
	return &publisher{client: c, path: p.Path(), pub: pub}, nil
}

// Publish publishes msgs and waits for every result.
func (p *publisher) Publish(ctx context.Context, msgs []topic.Message) error {
	results := make([]*pubsub.PublishResult, len(msgs))
	for i, m := range msgs {
		results[i] = p.pub.Publish(ctx, &pubsub.Message{Data: m.Data, Attributes: m.Attributes})
	}
	ctx, cancel := context.WithTimeout(ctx, waitTimeout)
	defer cancel()
	errs := make([]error, len(results))
	for i, r := range results {
		_, errs[i] = r.Get(ctx)
	}
	if failed, first := topic.Failed(errs); failed > 0 {
		return fmt.Errorf("pubsub publish to %s: %d of %d messages failed: %w", p.path, failed, len(msgs), first)
	}
	return nil
}

// Close releases the publisher; the last one of the process stops the publishers of the
// project (sending what they still hold) and closes its client.
func (p *publisher) Close() error {
	var err error
	clients.Release(p.client.key, func(c *client) {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, pub := range c.pubs {
			pub.Stop()
		}
		if cerr := c.c.Close(); cerr != nil {
			err = fmt.Errorf("pubsub project %s: close: %w", c.project, cerr)
		}
	})
	return err
}
