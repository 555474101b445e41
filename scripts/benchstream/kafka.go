package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beamline/beamline/io/generator"
)

// kafkaFeed is a Kafka protocol server (kfake) in this process with one topic, and a producer
// that feeds it the generator's stream (the job's generator source's fractions) at a rate, with
// event time the wall clock, as the generator source does.
type kafkaFeed struct {
	cluster  *kfake.Cluster
	client   *kgo.Client
	url      string
	produced atomic.Int64
	failed   atomic.Int64
	stop     chan struct{}
	done     sync.WaitGroup
}

// startKafka starts the server with a topic of partitions partitions and returns the feed;
// nothing is produced until feed.
func startKafka(partitions int32) (*kafkaFeed, error) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, "events"))
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		c.Close()
		return nil, err
	}
	url := fmt.Sprintf("kafka://%s/events?group=bench", c.ListenAddrs()[0])
	return &kafkaFeed{cluster: c, client: cl, url: url, stop: make(chan struct{})}, nil
}

// feed produces rate records a second from now until close.
func (k *kafkaFeed) feed(rate int) {
	g := generator.New(generator.Config{Seed: 7, Start: time.Now(), EventsPerSecond: float64(rate),
		DupFraction: 0.01, BadFraction: 0.005, BotFraction: 0.01})
	start := time.Now()
	k.done.Add(1)
	go func() {
		defer k.done.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		sent := int64(0)
		for {
			select {
			case <-k.stop:
				return
			case now := <-tick.C:
				for due := int64(float64(rate) * now.Sub(start).Seconds()); sent < due; sent++ {
					k.client.Produce(context.Background(), &kgo.Record{Topic: "events", Value: g.Next().Raw}, k.result)
				}
			}
		}
	}()
}

func (k *kafkaFeed) result(_ *kgo.Record, err error) {
	if err != nil {
		k.failed.Add(1)
		return
	}
	k.produced.Add(1)
}

// close stops producing and shuts the server down.
func (k *kafkaFeed) close() {
	close(k.stop)
	k.done.Wait()
	k.client.Flush(context.Background())
	k.client.Close()
	k.cluster.Close()
}
