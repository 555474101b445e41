// Package shared keeps one value per key for a whole process, counted by reference: the
// clients that the queue readers, ackers and topic publishers of one process share (one per
// Pub/Sub project, SQS region and endpoint, or Kafka broker list), opened on first use and
// closed with their last user.
package shared

import "sync"

// Pool holds the values by key. The zero Pool is empty and ready to use.
type Pool[T any] struct {
	mu sync.Mutex
	m  map[string]*entry[T]
}

type entry[T any] struct {
	v    T
	refs int
}

// Get returns the value of key and takes a reference to it; the first Get of a key makes the
// value with open (under the pool's lock, so it is made once), and an error is returned
// without keeping anything.
func (p *Pool[T]) Get(key string, open func() (T, error)) (T, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e, ok := p.m[key]; ok {
		e.refs++
		return e.v, nil
	}
	v, err := open()
	if err != nil {
		var zero T
		return zero, err
	}
	if p.m == nil {
		p.m = map[string]*entry[T]{}
	}
	p.m[key] = &entry[T]{v: v, refs: 1}
	return v, nil
}

// Release drops a reference to the value of key; the last one forgets the value and calls
// closeFn with it. Releasing a key that holds no value does nothing.
func (p *Pool[T]) Release(key string, closeFn func(T)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.m[key]
	if !ok {
		return
	}
	if e.refs--; e.refs > 0 {
		return
	}
	delete(p.m, key)
	closeFn(e.v)
}
