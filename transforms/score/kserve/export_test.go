package kserve

import (
	"context"
	"sync"
	"time"
)

// RecordSleeps makes the retry backoff return at once and record each wait it was asked for;
// waits returns them. restore puts the real sleep back.
func RecordSleeps() (waits func() []time.Duration, restore func()) {
	var mu sync.Mutex
	var got []time.Duration
	real := sleep
	sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		got = append(got, d)
		mu.Unlock()
		return ctx.Err()
	}
	return func() []time.Duration {
		mu.Lock()
		defer mu.Unlock()
		return append([]time.Duration(nil), got...)
	}, func() { sleep = real }
}
