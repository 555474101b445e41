// Package topic is the portable API of the topics that connect the stages of the streaming job
// (DESIGN.md "Runners, scaling, GPUs"): a stage publishes the events it produced to a topic,
// opened by URL, and the next stage reads them back from a subscription of that topic with an
// event source (package source).
//
// Each driver registers its scheme in its init function, as database/sql drivers do, and the
// job imports the drivers it offers:
//
//	import _ "github.com/beamline/beamline/io/topic/pubsubtopic"
//	counts := topic.Write(s, "pubsub://projects/P/topics/T", events)
//	msgs := source.Read(s, "pubsub://projects/P/subscriptions/S?timestamp_attribute=ts", opts)
//	events, dead := topic.Events(s, msgs)
//
// # Wire format
//
// One message per event (Marshal, Unmarshal). Its data is a JSON object with the fields of an
// input event (DESIGN.md "Events": event_id, type, user_id, url, country, user_agent, text, ts)
// as the stage normalised them (country upper-cased, ts in UTC to the millisecond), plus what
// the stages derived: "category" (enrichment), "score" and "flagged" (ML scoring; 0 and false
// before it) and "raw", the record the event was parsed from (base64), which dead letters and
// dedupe's tie-break need. Attributes repeat the event ID ("event_id") and the event time
// ("ts", RFC 3339 in UTC), so a subscription can be read with timestamp_attribute=ts and a
// message inspected without decoding it.
//
// Since the data is a superset of an input event, a source that takes event time from the ts
// field stamps a message with its event time even without the attribute; either way event
// time and IDs are preserved across stages. A message that is not of this format (garbage,
// or a raw event on the wrong topic: it has no category) becomes a dead letter.
//
// # Delivery
//
// Write publishes a bundle's events and returns from the bundle only once the service has
// accepted every one of them (the driver waits for the publish results); a failure fails the
// bundle, which the runner retries. A topic is therefore at-least-once: a retried bundle, or a
// stage that crashed after publishing and before acknowledging its input, publishes events
// again, and the consuming stage must dedupe by event ID (dedupe.Stateful).
package topic

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/beamline/beamline/io/registry"
)

// Message is one message to publish.
type Message struct {
	// Data is the message's payload.
	Data []byte
	// Attributes are the message's attributes.
	Attributes map[string]string
}

// Publisher publishes messages to one topic. Implementations are safe for concurrent use.
type Publisher interface {
	// Publish publishes msgs and returns once the service has accepted every one of them, or
	// with an error, in which case some of them may have been published.
	Publish(ctx context.Context, msgs []Message) error
	// Close flushes and releases the publisher's resources.
	Close() error
}

// Driver publishes to one kind of topic.
type Driver interface {
	// Validate checks u without touching any system.
	Validate(u *url.URL) error
	// OpenPublisher opens a publisher to the topic u. It is called only with a URL that
	// Validate accepted.
	OpenPublisher(ctx context.Context, u *url.URL) (Publisher, error)
}

// ErrUnknownScheme is returned for a URL whose scheme no driver registered.
var ErrUnknownScheme = errors.New("unknown topic scheme")

var drivers = registry.New[Driver]("topic", ErrUnknownScheme)

// Register makes a driver available under scheme. It panics if scheme is registered twice.
func Register(scheme string, d Driver) { drivers.Register(scheme, d) }

// Schemes returns the registered schemes, sorted.
func Schemes() []string { return drivers.Schemes() }

// lookup parses rawURL and finds its driver.
func lookup(rawURL string) (Driver, *url.URL, error) { return drivers.Lookup(rawURL) }

// Validate checks rawURL without touching any system.
func Validate(rawURL string) error {
	d, u, err := lookup(rawURL)
	if err != nil {
		return err
	}
	if err := d.Validate(u); err != nil {
		return fmt.Errorf("topic %q: %w", u.Redacted(), err)
	}
	return nil
}

// OpenPublisher opens a publisher to the topic at rawURL.
func OpenPublisher(ctx context.Context, rawURL string) (Publisher, error) {
	if err := Validate(rawURL); err != nil {
		return nil, err
	}
	d, u, _ := lookup(rawURL)
	p, err := d.OpenPublisher(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("topic %q: open publisher: %w", u.Redacted(), err)
	}
	return p, nil
}

// Failed returns how many of errs (one per message of a publish) are not nil, and the first
// of them: a driver's Publish reports every failed message, never only the first.
func Failed(errs []error) (failed int, first error) {
	for _, err := range errs {
		if err == nil {
			continue
		}
		if failed == 0 {
			first = err
		}
		failed++
	}
	return failed, first
}
