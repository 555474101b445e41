// Package lease keeps the messages that a queue reader handed out, and that nobody has
// acknowledged yet, from being delivered again: every third of their deadline it extends them
// (Pub/Sub's ack deadlines, SQS's visibility timeouts), for at most MaxLease, after which the
// queue delivers them again. Leases are kept per queue (a subscription, a queue URL).
package lease

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// MaxLease is how long a message's lease is extended; after that the message is delivered
// again if it is still not acknowledged.
const MaxLease = 10 * time.Minute

// Extend extends the deadlines of ids of queue to deadline from now. It returns the IDs the
// queue refused (acknowledged elsewhere, or expired), which are released, and an error for a
// failed call.
type Extend func(ctx context.Context, queue string, ids []string, deadline time.Duration) (refused []string, err error)

// Leases are the leases of one process's readers of one kind of queue. Safe for concurrent use.
type Leases struct {
	kind   string // for logs: "pubsub", "sqs"
	extend Extend
	mu     sync.Mutex
	queues map[string]*queueLeases
	quit   chan struct{}
	done   chan struct{}
}

// queueLeases are the leases held on one queue.
type queueLeases struct {
	deadline time.Duration
	extended time.Time            // the last extension
	since    map[string]time.Time // ID -> when it was read
}

// Start returns leases that extend with extend every second that they are due, until Stop.
func Start(kind string, extend Extend) *Leases {
	l := New(kind, extend)
	go l.run()
	return l
}

// New returns leases that extend nothing by themselves (tests call Due).
func New(kind string, extend Extend) *Leases {
	return &Leases{kind: kind, extend: extend, queues: map[string]*queueLeases{}, quit: make(chan struct{}), done: make(chan struct{})}
}

// Hold starts the leases of ids of queue, whose deadline is deadline.
func (l *Leases) Hold(queue string, ids []string, deadline time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	q, ok := l.queues[queue]
	if !ok {
		q = &queueLeases{deadline: deadline, extended: now, since: map[string]time.Time{}}
		l.queues[queue] = q
	}
	if len(q.since) == 0 {
		q.extended = now // nothing was held: the next extension is due a third of the deadline from now
	}
	for _, id := range ids {
		q.since[id] = now
	}
}

// Release ends the leases of ids of queue (acknowledged).
func (l *Leases) Release(queue string, ids []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if q, ok := l.queues[queue]; ok {
		for _, id := range ids {
			delete(q.since, id)
		}
	}
}

// Held returns how many of ids of queue are held; all the queue's when ids is nil.
func (l *Leases) Held(queue string, ids []string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	q, ok := l.queues[queue]
	if !ok {
		return 0
	}
	if ids == nil {
		return len(q.since)
	}
	n := 0
	for _, id := range ids {
		if _, ok := q.since[id]; ok {
			n++
		}
	}
	return n
}

// Stop stops the extensions of leases made by Start.
func (l *Leases) Stop() {
	close(l.quit)
	<-l.done
}

func (l *Leases) run() {
	defer close(l.done)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-l.quit:
			return
		case <-tick.C:
		}
		for queue, due := range l.Due(time.Now()) {
			l.extendDue(queue, due)
		}
	}
}

// extendDue extends the due leases of queue, and releases those the queue refused.
func (l *Leases) extendDue(queue string, due Due) {
	refused, err := l.extend(context.Background(), queue, due.IDs, due.Deadline)
	if err != nil {
		slog.Warn(l.kind+": extending deadlines failed; the messages may be delivered again", "queue", queue, "messages", len(due.IDs), "err", err)
	}
	if len(refused) == 0 {
		return
	}
	if n := l.Held(queue, refused); n > 0 {
		slog.Warn(l.kind+": the queue refused to extend deadlines (acknowledged elsewhere, or expired: then they are delivered again)", "queue", queue, "messages", n)
	}
	l.Release(queue, refused)
}

// Due are the leases of one queue to extend now.
type Due struct {
	IDs      []string
	Deadline time.Duration
}

// Due returns, per queue, the leases to extend at now (a third of the deadline after the last
// extension), and drops those held longer than MaxLease.
func (l *Leases) Due(now time.Time) map[string]Due {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]Due{}
	for queue, q := range l.queues {
		if now.Sub(q.extended) < q.deadline/3 || len(q.since) == 0 {
			continue
		}
		q.extended = now
		d := Due{Deadline: q.deadline}
		for id, since := range q.since {
			if now.Sub(since) > MaxLease {
				delete(q.since, id)
				continue
			}
			d.IDs = append(d.IDs, id)
		}
		out[queue] = d
	}
	return out
}
