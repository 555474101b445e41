// Package kafkasource is the source driver for kafka:// URLs: a native Kafka reader, a
// splittable DoFn over github.com/twmb/franz-go, that runs on every runner (Prism, Flink,
// Dataflow) without a Java expansion service.
//
//	kafka://HOST:PORT[,HOST:PORT...]/TOPIC?group=G[&start=earliest&call=1s&idle=10s&delay=0s&max=20000]
//
// # Reading
//
// The job lists the topic's partitions when it starts and reads each through its own
// restriction, the offsets [committed, ∞) of that partition, so a runner can spread partitions
// over workers. Partitions added to the topic later are not read until the job restarts. A
// partition the group has no committed offset for starts at its first offset (start=earliest,
// the default) or its end (start=latest), and that offset is committed at once, so every later
// commit follows from it. Like the Pub/Sub reader, each call reads for a bounded time (call) or
// count (max), emits what it read and checkpoints itself.
//
// # Event time and watermark
//
// A record is timestamped with its event's ts field; a record without one (garbage) with the
// record's Kafka timestamp. Each partition has its own watermark (io/source/internal/watermark):
// the largest event time read minus delay, moved once the reader has caught up with the
// partition's end; a partition with nothing new for idle moves it to now - delay, so an idle
// partition never holds the job's watermark (the minimum over partitions) back for ever.
//
// # Offsets: committed only up to durable records
//
// The group's offsets are the job's position. In source.AckAfterArchive mode (the default) each
// message's AckID names its partition and the offsets it covers (from the offset after the
// previous record read to its own, so gaps in a partition's offsets are covered too). The
// archive writer acknowledges a message once the file holding it is closed; the acker merges
// the acknowledged spans per partition and commits the largest offset below which every span is
// acknowledged. A restart resumes from the committed offsets, so nothing is lost, and what the
// killed job read past them comes again (dedupe removes it). Commits are made without joining
// the group (as Beam's KafkaIO does): the group must have no other active members. Ackers in
// several processes (several workers) learn each other's progress by reading the group's
// offsets when their own spans do not join the committed offset. In source.AckAfterCommit mode
// the reader commits the offsets of a call at the start of the next one (see source.AckMode).
package kafkasource

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/beamline/beamline/io/source"
	"github.com/beamline/beamline/io/source/internal/queueurl"
)

// Scheme is the URL scheme of this driver.
const Scheme = "kafka"

func init() {
	source.Register(Scheme, queueurl.Driver(ParseURL, Read, func(_ context.Context, p Params) (source.Acker, error) {
		return openAcker(p)
	}))
}

// Where a partition without a committed offset starts.
const (
	StartEarliest = "earliest"
	StartLatest   = "latest"
)

// Params are a kafka URL's parameters.
type Params struct {
	// Brokers are the seed brokers, HOST:PORT.
	Brokers []string
	// Topic is the topic read.
	Topic string
	// Group is the consumer group whose committed offsets are the job's position.
	Group string
	// Start says where a partition without a committed offset starts: StartEarliest or
	// StartLatest.
	Start string
	// Reader are the reader's parameters (call, max, idle, delay).
	queueurl.Reader
}

// String names the topic and its brokers, for errors and logs.
func (p Params) String() string {
	return "kafka topic " + p.Topic + " (brokers " + strings.Join(p.Brokers, ",") + ")"
}

// validTopic is Kafka's rule for topic names.
var validTopic = regexp.MustCompile(`^[A-Za-z0-9._-]{1,249}$`)

// ParseURL parses a kafka:// URL.
func ParseURL(u *url.URL) (Params, error) {
	if u.Scheme != Scheme {
		return Params{}, fmt.Errorf("kafka source: scheme %q, want %q", u.Scheme, Scheme)
	}
	p := Params{Start: StartEarliest, Reader: queueurl.Defaults()}
	var err error
	if p.Brokers, p.Topic, err = ParseAddress(u); err != nil {
		return Params{}, fmt.Errorf("kafka source: %w", err)
	}
	if err := queueurl.Parse("kafka", u.Query(), &p.Reader, []string{"group", "start"}, p.set); err != nil {
		return Params{}, err
	}
	if p.Group == "" {
		return Params{}, fmt.Errorf("kafka source: %q has no group: add ?group=G, the consumer group whose offsets the job commits", u.Redacted())
	}
	return p, nil
}

// ParseAddress returns the brokers and the topic of a kafka://HOST:PORT[,HOST:PORT...]/TOPIC
// URL (the source's and the topic driver's), whatever its query.
func ParseAddress(u *url.URL) (brokers []string, topic string, err error) {
	if u.User != nil || u.Fragment != "" || u.Opaque != "" {
		return nil, "", fmt.Errorf("%q is not kafka://HOST:PORT[,HOST:PORT...]/TOPIC", u.Redacted())
	}
	for _, b := range strings.Split(u.Host, ",") {
		host, port, err := net.SplitHostPort(b)
		if n, perr := strconv.Atoi(port); err != nil || perr != nil || host == "" || n <= 0 || n > 65535 {
			return nil, "", fmt.Errorf("broker %q in %q is not HOST:PORT", b, u.Redacted())
		}
		brokers = append(brokers, b)
	}
	topic = strings.TrimPrefix(u.Path, "/")
	if !validTopic.MatchString(topic) {
		return nil, "", fmt.Errorf("%q names no valid topic: want kafka://HOST:PORT[,HOST:PORT...]/TOPIC (letters, digits, '.', '_', '-')", u.Redacted())
	}
	return brokers, topic, nil
}

// set sets one of the driver's own URL parameters.
func (p *Params) set(name, v string) error {
	switch name {
	case "group":
		if p.Group = v; v == "" {
			return fmt.Errorf("empty")
		}
	case "start":
		if p.Start = v; v != StartEarliest && v != StartLatest {
			return fmt.Errorf("want %s or %s", StartEarliest, StartLatest)
		}
	}
	return nil
}
