// Package kafkatopic is the topic driver for kafka:// URLs: it produces to a Kafka topic with
// github.com/twmb/franz-go, from any runner, so the stages of the split streaming job can be
// connected by Kafka topics as they are by Pub/Sub ones.
//
//	kafka://HOST:PORT[,HOST:PORT...]/TOPIC
//
// Each message is one record: its data the record's value, its event ID attribute the record's
// key (so an event's copies land in one partition), every attribute a header. Publish waits
// until the brokers have acknowledged every record (acks from all in-sync replicas, idempotent
// producer). A process shares one client per broker list between its DoFn instances; the
// client picks partitions by key.
//
// Read the topic back with the kafka source driver (io/source/kafkasource):
// kafka://HOST:PORT/TOPIC?group=G. The source takes event time from the data's ts field.
package kafkatopic

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/beamline/beamline/io/internal/shared"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beamline/beamline/io/source/kafkasource"
	"github.com/beamline/beamline/io/topic"
)

// Scheme is the URL scheme of this driver.
const Scheme = "kafka"

func init() {
	topic.Register(Scheme, driver{})
}

// publishTimeout bounds how long Publish waits for the brokers.
const publishTimeout = 2 * time.Minute

// Params are a kafka topic URL's parts.
type Params struct {
	// Brokers are the seed brokers, HOST:PORT.
	Brokers []string
	// Topic is the topic produced to.
	Topic string
}

// ParseURL parses a kafka:// topic URL.
func ParseURL(u *url.URL) (Params, error) {
	if u.Scheme != Scheme {
		return Params{}, fmt.Errorf("kafka topic: scheme %q, want %q", u.Scheme, Scheme)
	}
	brokers, t, err := kafkasource.ParseAddress(u)
	if err != nil {
		return Params{}, fmt.Errorf("kafka topic: %w", err)
	}
	if u.RawQuery != "" {
		return Params{}, fmt.Errorf("kafka topic: %q: a topic URL takes no parameters (a group is for reading it)", u.Redacted())
	}
	return Params{Brokers: brokers, Topic: t}, nil
}

type driver struct{}

func (driver) Validate(u *url.URL) error {
	_, err := ParseURL(u)
	return err
}

func (driver) OpenPublisher(_ context.Context, u *url.URL) (topic.Publisher, error) {
	p, err := ParseURL(u)
	if err != nil {
		return nil, err
	}
	return open(p)
}

// client is the process's producer to one broker list.
type client struct {
	key string
	cl  *kgo.Client
}

// clients are the process's producers, by broker list.
var clients shared.Pool[*client]

// publisher produces to one topic through the process's shared client.
type publisher struct {
	client *client
	p      Params
}

func open(p Params) (*publisher, error) {
	key := strings.Join(p.Brokers, ",")
	c, err := clients.Get(key, func() (*client, error) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(p.Brokers...), kgo.ClientID("beamline"),
			kgo.DialTimeout(5*time.Second), kgo.ProducerLinger(5*time.Millisecond),
			kgo.RecordDeliveryTimeout(publishTimeout), kgo.ProducerBatchMaxBytes(1<<20))
		if err != nil {
			return nil, fmt.Errorf("kafka brokers %s: %w", key, err)
		}
		return &client{key: key, cl: cl}, nil
	})
	if err != nil {
		return nil, err
	}
	return &publisher{client: c, p: p}, nil
}

// Publish produces msgs and waits until every record is acknowledged.
func (p *publisher) Publish(ctx context.Context, msgs []topic.Message) error {
	recs := make([]*kgo.Record, len(msgs))
	for i, m := range msgs {
		r := &kgo.Record{Topic: p.p.Topic, Value: m.Data}
		if id, ok := m.Attributes[topic.AttrEventID]; ok {
			r.Key = []byte(id)
		}
		for k, v := range m.Attributes {
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
		}
		recs[i] = r
	}
	ctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	results := p.client.cl.ProduceSync(ctx, recs...)
	errs := make([]error, len(results))
	for i, r := range results {
		errs[i] = r.Err
	}
	if failed, first := topic.Failed(errs); failed > 0 {
		return fmt.Errorf("kafka produce to %s (brokers %s): %d of %d records failed: %w", p.p.Topic, p.client.key, failed, len(msgs), first)
	}
	return nil
}

// Close releases the publisher; the last one of the process flushes and closes the client.
func (p *publisher) Close() error {
	clients.Release(p.client.key, func(c *client) { c.cl.Close() })
	return nil
}
