// Package pubsubsource is the source driver for pubsub:// URLs: a native Pub/Sub reader, an
// unbounded splittable DoFn built on cloud.google.com/go/pubsub/v2, that runs on every runner
// (Prism, Flink, Dataflow). Beam's own pubsubio works only on Dataflow.
//
//	pubsub://projects/P/subscriptions/S[?timestamp_attribute=A&call=1s&idle=10s&delay=0s]
//
// Like every Google client it honours PUBSUB_EMULATOR_HOST (pstest, the emulator).
//
// # Reading
//
// Each call of the reader pulls for a bounded time (call, default 1 s, plus the last pull's
// wait: a pull is never cancelled, since a cancelled pull loses the messages the server handed
// out until their deadline expires) or count (max, default 20,000 messages), stops at the first
// empty pull, emits what it pulled and checkpoints itself (sdf.ResumeProcessingIn): a
// reader that kept pulling inside one call would emit nothing until traffic stopped, since a
// runner commits a bundle's output when the bundle ends (docs/design-notes.md). It refuses
// runner splits, so one reader serves the subscription per job; run more jobs or more
// subscriptions to scale out.
//
// # Event time and watermark
//
// A message is timestamped with its event's ts field (or, with timestamp_attribute, that
// attribute, as RFC 3339 or Unix milliseconds); a record without a usable one (garbage) with
// its publish time. The watermark is the largest event time read, minus delay (default 0),
// and it advances only after a pull that did not fill up (the backlog was drained: Pub/Sub
// delivers a backlog in no particular order, so the watermark holds while one is read). A
// subscription idle for idle (default 10 s) moves the watermark to now - delay, so windows close
// with no traffic. Events behind the watermark are late data (see the streaming job's allowed
// lateness). After a crash, the messages the dead job held come back once their ack deadline
// expires: they are late by up to the deadline plus the restart time.
//
// # Acknowledgement
//
// In source.AckAfterArchive mode (the default) messages carry their ack IDs to the archive
// writer, which acknowledges them once the file holding them is closed; until then the reader
// keeps their ack deadlines extended (for at most ten minutes). In source.AckAfterCommit mode
// the reader acknowledges the messages of a call at the start of the next one: the ack IDs
// travel in the checkpoint's residual, which the runner saves with the bundle's output, so a
// message is acknowledged once its bundle has been committed. That is durable only where a
// commit is (Dataflow); on Prism (in memory) or Flink (durable at checkpoints) a crash after
// such an ack loses messages (docs/design-notes.md).
package pubsubsource

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/beamline/beamline/io/source"
	"github.com/beamline/beamline/io/source/internal/queueurl"
)

// Scheme is the URL scheme of this driver.
const Scheme = "pubsub"

func init() {
	source.Register(Scheme, queueurl.Driver(ParseURL, Read, openAcker))
}

// Params are a pubsub URL's parameters.
type Params struct {
	// Project and Subscription name the subscription.
	Project, Subscription string
	// TimestampAttribute, when set, names the attribute that carries the event time.
	TimestampAttribute string
	// Reader are the reader's parameters (call, max, idle, delay).
	queueurl.Reader
}

// Path returns the subscription's resource name.
func (p Params) Path() string {
	return "projects/" + p.Project + "/subscriptions/" + p.Subscription
}

var validName = regexp.MustCompile(`^[A-Za-z0-9._~%+-]+$`)

// ParseURL parses a pubsub:// URL.
func ParseURL(u *url.URL) (Params, error) {
	if u.Scheme != Scheme {
		return Params{}, fmt.Errorf("pubsub source: scheme %q, want %q", u.Scheme, Scheme)
	}
	parts := strings.Split(strings.Trim(u.Host+u.Path, "/"), "/")
	if len(parts) != 4 || parts[0] != "projects" || parts[2] != "subscriptions" || !validName.MatchString(parts[1]) || !validName.MatchString(parts[3]) {
		return Params{}, fmt.Errorf("pubsub source: %q is not pubsub://projects/P/subscriptions/S", u.Redacted())
	}
	p := Params{Project: parts[1], Subscription: parts[3], Reader: queueurl.Defaults()}
	err := queueurl.Parse("pubsub", u.Query(), &p.Reader, []string{"timestamp_attribute"}, func(_, v string) error {
		p.TimestampAttribute = v
		return nil
	})
	if err != nil {
		return Params{}, err
	}
	return p, nil
}

func openAcker(ctx context.Context, p Params) (source.Acker, error) {
	c, err := open(ctx, p.Project)
	if err != nil {
		return nil, err
	}
	return &acker{conn: c, sub: p.Path()}, nil
}

// acker acknowledges messages of one subscription and ends their leases.
type acker struct {
	conn *conn
	sub  string
}

func (a *acker) Ack(ctx context.Context, ids []string) error {
	if err := a.conn.ack(ctx, a.sub, ids); err != nil {
		return err
	}
	a.conn.leases.Release(a.sub, ids)
	return nil
}

func (a *acker) Close() error {
	a.conn.close()
	return nil
}
