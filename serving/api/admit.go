package api

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// cost says how much of the store a query reads: cheap ones are always answered, expensive
// ones (every key of a view over a long range, one key over a very long range) are admitted
// a few at a time, so that they cannot hold every store connection and starve the others.
type cost int

const (
	cheap cost = iota
	expensive
)

// costOf classifies a query of [from, to) over one key or (allKeys) every key of a view.
func (s *Server) costOf(from, to time.Time, allKeys bool) cost {
	limit := s.opts.ExpensiveRange
	if !allKeys {
		limit *= singleKeyFactor
	}
	if to.Sub(from) > limit {
		return expensive
	}
	return cheap
}

// singleKeyFactor is how much longer a range of one key may be than a range of every key before
// the query is expensive.
const singleKeyFactor = 7

// admitter bounds the expensive queries that run at once.
type admitter struct {
	slots chan struct{}
	wait  time.Duration
}

func newAdmitter(n int, wait time.Duration) *admitter {
	return &admitter{slots: make(chan struct{}, n), wait: wait}
}

// admit waits up to the queue time for a slot of an expensive query and returns its release,
// or an error (503 with Retry-After) that sheds the query.
func (a *admitter) admit(ctx context.Context) (release func(), err error) {
	select {
	case a.slots <- struct{}{}:
		return func() { <-a.slots }, nil
	default:
	}
	t := time.NewTimer(a.wait)
	defer t.Stop()
	select {
	case a.slots <- struct{}{}:
		return func() { <-a.slots }, nil
	case <-t.C:
		return nil, &apiError{code: http.StatusServiceUnavailable, retryAfter: 1,
			msg: fmt.Sprintf("too many expensive queries at once (%d running): retry, or ask for a shorter range", cap(a.slots))}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
