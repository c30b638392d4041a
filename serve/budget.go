package serve

import (
	"context"
	"sync"
)

// byteBudget is a weighted semaphore of decoded-image bytes in flight across the server:
// a request takes an image's decoded size before decoding it and gives it back when its
// predictions are done.
type byteBudget struct {
	mu   sync.Mutex
	cap  int64
	used int64
	wake chan struct{} // closed (and replaced) on every release
}

func newByteBudget(capacity int64) *byteBudget {
	return &byteBudget{cap: capacity, wake: make(chan struct{})}
}

// acquire takes n bytes, waiting until they are free or ctx ends. n larger than the
// whole budget fails at once.
func (b *byteBudget) acquire(ctx context.Context, n int64) error {
	if n > b.cap {
		return context.DeadlineExceeded
	}
	for {
		b.mu.Lock()
		if b.used+n <= b.cap {
			b.used += n
			b.mu.Unlock()
			return nil
		}
		ch := b.wake
		b.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (b *byteBudget) release(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	close(b.wake)
	b.wake = make(chan struct{})
	b.mu.Unlock()
}

// inUse reports the bytes taken now.
func (b *byteBudget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}
