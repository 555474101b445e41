// Package kafkatest runs a real Kafka protocol server (github.com/twmb/franz-go/pkg/kfake) in
// the test process, on TCP ports, with one topic, for the tests of the Kafka source and topic
// drivers and of the jobs that read them (a job run as a subprocess reaches it by its address).
package kafkatest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Topic and Group are the test topic and the group that reads it.
const (
	Topic = "events"
	Group = "speed"
)

// Cluster is a kfake cluster with a topic.
type Cluster struct {
	*kfake.Cluster
	// Brokers is the cluster's address list, HOST:PORT,HOST:PORT.
	Brokers string
	// Partitions is the topic's partition count.
	Partitions int32

	t   testing.TB
	cl  *kgo.Client
	adm *kadm.Client
}

// Start starts a cluster of one broker with the topic in partitions partitions (and any other
// topics, of the same count). It stops when the test ends.
func Start(t testing.TB, partitions int32, topics ...string) *Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, append([]string{Topic}, topics...)...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	brokers := strings.Join(c.ListenAddrs(), ",")
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &Cluster{Cluster: c, Brokers: brokers, Partitions: partitions, t: t, cl: cl, adm: kadm.NewClient(cl)}
}

// URL returns the source URL of the test topic and group, with params (for example
// "idle=2s&call=500ms"; none when empty).
func (c *Cluster) URL(params string) string {
	u := "kafka://" + c.Brokers + "/" + Topic + "?group=" + Group
	if params != "" {
		u += "&" + params
	}
	return u
}

// Produce appends each record to partition (as is), and fails the test on an error.
func (c *Cluster) Produce(partition int32, records ...[]byte) {
	c.t.Helper()
	recs := make([]*kgo.Record, len(records))
	for i, r := range records {
		recs[i] = &kgo.Record{Topic: Topic, Partition: partition, Value: r}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		c.t.Fatalf("kafka produce: %v", err)
	}
}

// ProduceAll spreads records over the partitions, round robin, in order.
func (c *Cluster) ProduceAll(records [][]byte) {
	c.t.Helper()
	parts := make([][][]byte, c.Partitions)
	for i, r := range records {
		parts[int32(i)%c.Partitions] = append(parts[int32(i)%c.Partitions], r)
	}
	for p, rs := range parts {
		if len(rs) > 0 {
			c.Produce(int32(p), rs...)
		}
	}
}

// Lag returns, per partition of the test topic, how many records lie between the test group's
// committed offset (0 when it has none) and the partition's end.
func (c *Cluster) Lag() map[int32]int64 { return c.LagOf(Topic, Group) }

// LagOf returns, per partition of topic, how many records lie between group's committed offset
// (0 when it has none) and the partition's end.
func (c *Cluster) LagOf(topic, group string) map[int32]int64 {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ends, err := c.adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		c.t.Fatalf("kafka end offsets: %v", err)
	}
	committed, err := c.adm.FetchOffsets(ctx, group)
	if err == nil {
		err = committed.Error()
	}
	if errors.Is(err, kerr.GroupIDNotFound) {
		committed, err = nil, nil
	}
	if err != nil {
		c.t.Fatalf("kafka committed offsets: %v", err)
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		at := int64(0)
		if co, ok := committed.Lookup(topic, o.Partition); ok && co.At >= 0 {
			at = co.At
		}
		out[o.Partition] = o.Offset - at
	})
	return out
}

// Unacked returns the records of the test topic past the test group's committed offsets, all
// partitions.
func (c *Cluster) Unacked() int { return c.UnackedOf(Topic, Group) }

// UnackedOf returns the records of topic past group's committed offsets, all partitions.
func (c *Cluster) UnackedOf(topic, group string) int {
	n := int64(0)
	for _, l := range c.LagOf(topic, group) {
		n += l
	}
	return int(n)
}

// State describes the group's lag per partition, for test logs.
func (c *Cluster) State() string {
	return fmt.Sprintf("kafka lag by partition %v", c.Lag())
}

// Records returns every record of topic, partition by partition, each in offset order.
func (c *Cluster) Records(topic string) []*kgo.Record {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ends, err := c.adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		c.t.Fatalf("kafka end offsets of %s: %v", topic, err)
	}
	want := 0
	ends.Each(func(o kadm.ListedOffset) { want += int(o.Offset) })
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		c.t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for len(out) < want {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			c.t.Fatalf("kafka: read %d of the %d records of %s: %v", len(out), want, topic, err)
		}
		out = append(out, fs.Records()...)
	}
	return out
}
