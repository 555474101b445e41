// Package source is the portable API of event sources: where the streaming job reads its raw
// records from, opened by URL.
//
// Each driver registers its scheme in its init function, as database/sql drivers do, and the
// job imports the drivers it offers:
//
//	import _ "github.com/beamline/beamline/io/source/pubsubsource"
//	msgs := source.Read(s, "pubsub://projects/P/subscriptions/S", source.Options{})
//
// # Messages and acknowledgement
//
// A driver's Read returns a PCollection<Message>, each message timestamped with its event time
// (the ts field of the event, or what the driver documents for records without one), and an
// unbounded PCollection for queues. A message that must be acknowledged carries an AckID. In
// the default mode (AckAfterArchive) the driver never acknowledges by itself: whoever makes the
// message durable (the raw archive writer) acknowledges it with an Acker, opened by the same
// URL, once the file holding it is written and closed. In AckAfterCommit mode the driver
// acknowledges a message once the runner has committed the bundle that emitted it, and the
// messages carry no AckID; that is safe only on a runner whose bundle commit is durable
// (Dataflow). See DESIGN.md "Nothing lost".
package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/beamline/beamline/io/registry"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
)

// Message is one record read from a source.
type Message struct {
	// Data is the record's bytes: one JSON event, or garbage.
	Data []byte
	// Source says where the record came from, for dead letters: for example
	// "projects/P/subscriptions/S/<message id>".
	Source string
	// AckID acknowledges the message with the source's Acker; empty when nothing needs to be
	// acknowledged.
	AckID string
}

// AckMode says when a queue message is acknowledged.
type AckMode string

// The acknowledgement modes.
const (
	// AckAfterArchive leaves acknowledgement to the raw archive writer, which acknowledges a
	// message after the file holding it is closed. The default, safe on every runner.
	AckAfterArchive AckMode = "archive"
	// AckAfterCommit acknowledges a message once the runner has committed the bundle that
	// read it. Safe only where a bundle commit is durable (Dataflow).
	AckAfterCommit AckMode = "commit"
)

// Options configure a read. The zero value means defaults.
type Options struct {
	// AckMode says who acknowledges messages; empty means AckAfterArchive.
	AckMode AckMode
}

// Mode returns the acknowledgement mode, with the default filled in.
func (o Options) Mode() AckMode {
	if o.AckMode == "" {
		return AckAfterArchive
	}
	return o.AckMode
}

// Validate reports options that cannot be right.
func (o Options) Validate() error {
	switch o.Mode() {
	case AckAfterArchive, AckAfterCommit:
		return nil
	}
	return fmt.Errorf("source: unknown ack mode %q (want %q or %q)", o.AckMode, AckAfterArchive, AckAfterCommit)
}

// Acker acknowledges messages by their AckID. Implementations are safe for concurrent use.
type Acker interface {
	// Ack acknowledges the messages; acknowledging a message twice is not an error.
	Ack(ctx context.Context, ackIDs []string) error
	// Close releases the acker's resources.
	Close() error
}

// Driver reads one kind of source.
type Driver interface {
	// Validate checks u without touching any system.
	Validate(u *url.URL) error
	// Read adds a reader of u to s and returns a PCollection<Message> (see the package doc).
	// It is called only with a URL that Validate accepted.
	Read(s beam.Scope, u *url.URL, opts Options) beam.PCollection
	// OpenAcker opens an acker for the messages read from u.
	OpenAcker(ctx context.Context, u *url.URL) (Acker, error)
}

// ErrUnknownScheme is returned for a URL whose scheme no driver registered.
var ErrUnknownScheme = errors.New("unknown source scheme")

var drivers = registry.New[Driver]("source", ErrUnknownScheme)

// Register makes a driver available under scheme. It panics if scheme is registered twice.
func Register(scheme string, d Driver) { drivers.Register(scheme, d) }

// Schemes returns the registered schemes, sorted.
func Schemes() []string { return drivers.Schemes() }

// lookup parses rawURL and finds its driver.
func lookup(rawURL string) (Driver, *url.URL, error) { return drivers.Lookup(rawURL) }

// Validate checks rawURL and opts without touching any system.
func Validate(rawURL string, opts Options) error {
	d, u, err := lookup(rawURL)
	if err != nil {
		return err
	}
	if err := opts.Validate(); err != nil {
		return err
	}
	if err := d.Validate(u); err != nil {
		return fmt.Errorf("source %q: %w", rawURL, err)
	}
	return nil
}

// Read adds a reader of rawURL to s and returns a PCollection<Message> timestamped with event
// time. It panics on a URL or options that Validate rejects: check them first.
func Read(s beam.Scope, rawURL string, opts Options) beam.PCollection {
	s = s.Scope("source.Read")
	if err := Validate(rawURL, opts); err != nil {
		panic(fmt.Sprintf("source.Read: %v", err))
	}
	d, u, _ := lookup(rawURL)
	return d.Read(s, u, opts)
}

// OpenAcker opens an acker for the messages read from rawURL.
func OpenAcker(ctx context.Context, rawURL string) (Acker, error) {
	d, u, err := lookup(rawURL)
	if err != nil {
		return nil, err
	}
	a, err := d.OpenAcker(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("source %q: open acker: %w", u.Redacted(), err)
	}
	return a, nil
}

// NopAcker is the acker of sources whose messages need no acknowledgement.
type NopAcker struct{}

// Ack does nothing.
func (NopAcker) Ack(context.Context, []string) error { return nil }

// Close does nothing.
func (NopAcker) Close() error { return nil }

// OneLine returns b with line breaks replaced by spaces, which keeps a JSON value valid: the
// archive is JSON lines, and the speed layer must see the same bytes as the batch layer reads
// back. Every queue driver passes its records through it.
func OneLine(b []byte) []byte {
	if !bytes.ContainsAny(b, "\r\n") {
		return b
	}
	out := bytes.ReplaceAll(b, []byte{'\n'}, []byte{' '})
	return bytes.ReplaceAll(out, []byte{'\r'}, []byte{' '})
}
