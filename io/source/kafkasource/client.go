package kafkasource

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Timeouts of the calls to Kafka.
const (
	// callTimeout bounds an admin call (metadata, offsets, commits); an unreachable cluster
	// fails within it.
	callTimeout = 20 * time.Second
	dialTimeout = 5 * time.Second
)

// newClient returns a client of p's brokers with opts.
func newClient(p Params, opts ...kgo.Opt) (*kgo.Client, error) {
	opts = append([]kgo.Opt{kgo.SeedBrokers(p.Brokers...), kgo.DialTimeout(dialTimeout),
		kgo.RetryTimeout(callTimeout), kgo.ClientID("beamline")}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return cl, nil
}

// admin is an admin client of one topic and group.
type admin struct {
	p   Params
	cl  *kgo.Client
	adm *kadm.Client
}

func newAdmin(p Params) (*admin, error) {
	cl, err := newClient(p)
	if err != nil {
		return nil, err
	}
	return &admin{p: p, cl: cl, adm: kadm.NewClient(cl)}, nil
}

func (a *admin) close() { a.cl.Close() }

// start is where the reader of one partition starts.
type start struct {
	Partition int32
	Offset    int64
}

// starts returns every partition of the topic with the group's committed offset, first
// committing a start (Params.Start) for the partitions that have none. It fails, naming the
// topic and brokers, when the cluster cannot be reached or the topic does not exist.
func (a *admin) starts(ctx context.Context) ([]start, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	meta, err := a.adm.Metadata(ctx, a.p.Topic)
	if err != nil {
		return nil, fmt.Errorf("%s: cannot reach the cluster: %w", a.p, err)
	}
	td, ok := meta.Topics[a.p.Topic]
	if !ok || td.Err != nil || len(td.Partitions) == 0 {
		return nil, fmt.Errorf("%s: no such topic (or no partitions): %v", a.p, td.Err)
	}
	committed, err := a.committed(ctx)
	if err != nil {
		return nil, err
	}
	var missing kadm.Offsets
	var out []start
	for _, pd := range td.Partitions {
		if at, ok := committed[pd.Partition]; ok {
			out = append(out, start{Partition: pd.Partition, Offset: at})
			continue
		}
		at, err := a.first(ctx, pd.Partition)
		if err != nil {
			return nil, err
		}
		missing.Add(kadm.Offset{Topic: a.p.Topic, Partition: pd.Partition, At: at, LeaderEpoch: -1})
		out = append(out, start{Partition: pd.Partition, Offset: at})
	}
	if len(missing) > 0 {
		if err := a.adm.CommitAllOffsets(ctx, a.p.Group, missing); err != nil {
			return nil, fmt.Errorf("%s: commit the start offsets of group %s: %w", a.p, a.p.Group, err)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Partition < out[j].Partition })
	return out, nil
}

// first returns the offset where a partition without a committed offset starts.
func (a *admin) first(ctx context.Context, partition int32) (int64, error) {
	list := a.adm.ListStartOffsets
	if a.p.Start == StartLatest {
		list = a.adm.ListEndOffsets
	}
	offs, err := list(ctx, a.p.Topic)
	if err == nil {
		err = offs.Error()
	}
	if err != nil {
		return 0, fmt.Errorf("%s: list the %s offsets: %w", a.p, a.p.Start, err)
	}
	o, ok := offs.Lookup(a.p.Topic, partition)
	if !ok {
		return 0, fmt.Errorf("%s: no %s offset for partition %d", a.p, a.p.Start, partition)
	}
	return o.Offset, nil
}

// committed returns the group's committed offsets of the topic, by partition.
func (a *admin) committed(ctx context.Context) (map[int32]int64, error) {
	resp, err := a.adm.FetchOffsets(ctx, a.p.Group)
	if err == nil {
		err = resp.Error()
	}
	if errors.Is(err, kerr.GroupIDNotFound) { // a new group (Kafka answers with no offsets)
		return map[int32]int64{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: fetch the offsets of group %s: %w", a.p, a.p.Group, err)
	}
	out := map[int32]int64{}
	for part, o := range resp[a.p.Topic] {
		if o.At >= 0 {
			out[part] = o.At
		}
	}
	return out, nil
}

// commit commits offsets (by partition) for the group.
func (a *admin) commit(ctx context.Context, offsets map[int32]int64) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	var os kadm.Offsets
	for part, at := range offsets {
		os.Add(kadm.Offset{Topic: a.p.Topic, Partition: part, At: at, LeaderEpoch: -1})
	}
	if err := a.adm.CommitAllOffsets(ctx, a.p.Group, os); err != nil {
		return fmt.Errorf("%s: commit offsets of group %s: %w", a.p, a.p.Group, err)
	}
	return nil
}

// end returns the end offset (the high watermark) of a partition.
func (a *admin) end(ctx context.Context, partition int32) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	offs, err := a.adm.ListEndOffsets(ctx, a.p.Topic)
	if err == nil {
		err = offs.Error()
	}
	if err != nil {
		return 0, fmt.Errorf("%s: list the end offsets: %w", a.p, err)
	}
	o, ok := offs.Lookup(a.p.Topic, partition)
	if !ok {
		return 0, fmt.Errorf("%s: no end offset for partition %d", a.p, partition)
	}
	return o.Offset, nil
}

// partitionReader reads one partition from a position.
type partitionReader struct {
	p         Params
	partition int32
	cl        *kgo.Client
	next      int64 // the offset of the next record the client delivers
	hwm       int64 // the partition's end, as of the last fetch (-1: unknown)
}

// openPartition returns a reader of partition from offset.
func openPartition(p Params, partition int32, offset int64) (*partitionReader, error) {
	cl, err := newClient(p,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{p.Topic: {partition: kgo.NewOffset().At(offset)}}),
		kgo.FetchMaxBytes(16<<20), kgo.FetchMaxWait(500*time.Millisecond))
	if err != nil {
		return nil, err
	}
	return &partitionReader{p: p, partition: partition, cl: cl, next: offset, hwm: -1}, nil
}

func (r *partitionReader) close() { r.cl.Close() }

// poll returns at most limit records from r.next on, waiting until deadline for the first. It
// returns no records and no error when none came by then.
func (r *partitionReader) poll(ctx context.Context, deadline time.Time, limit int) ([]*kgo.Record, error) {
	pctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	fs := r.cl.PollRecords(pctx, limit)
	var recs []*kgo.Record
	var err error
	fs.EachError(func(_ string, _ int32, e error) {
		if !errors.Is(e, context.DeadlineExceeded) && !errors.Is(e, context.Canceled) && err == nil {
			err = e
		}
	})
	fs.EachPartition(func(fp kgo.FetchTopicPartition) {
		if fp.Partition != r.partition {
			return
		}
		r.hwm = max(r.hwm, fp.HighWatermark)
		for _, rec := range fp.Records {
			if rec.Offset >= r.next { // a record before next is one the client had buffered
				recs = append(recs, rec)
			}
		}
	})
	if len(recs) > 0 {
		r.next = recs[len(recs)-1].Offset + 1
	}
	if err != nil && ctx.Err() == nil {
		return recs, fmt.Errorf("%s partition %d: %w", r.p, r.partition, err)
	}
	return recs, nil
}
