package serve

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultMaxRefuseHeld is the default of Options.MaxRefuseHeld.
const DefaultMaxRefuseHeld = 64

// tarpit holds refused requests for a while before they are answered (Options.RefuseDelay):
// a client that loops an oversize or bomb upload with no pause between requests then
// gets one answer per delay per connection, instead of as many as the server can refuse
// (each refusal costs the server an accept, a header parse, a reply and a socket
// teardown). At most cap(slots) requests are held at once; beyond that they are refused
// at once, so the tarpit cannot itself be used to pin connections or goroutines.
type tarpit struct {
	delay time.Duration
	slots chan struct{}
	stop  chan struct{} // closed by release: held requests are answered now, later ones at once
	once  sync.Once
	held  prometheus.Gauge
	full  prometheus.Counter
}

func newTarpit(delay time.Duration, n int, m *metrics) *tarpit {
	return &tarpit{delay: delay, slots: make(chan struct{}, n), stop: make(chan struct{}), held: m.refuseHeld, full: m.refuseFull}
}

// hold waits out the delay before a refusal is answered, unless the delay is off, the
// tarpit is full or released, or ctx ends first. It reports whether it held the request.
func (t *tarpit) hold(ctx context.Context) bool {
	if t.delay <= 0 {
		return false
	}
	select {
	case <-t.stop:
		return false
	default:
	}
	select {
	case t.slots <- struct{}{}:
	default:
		t.full.Inc()
		return false
	}
	defer func() { <-t.slots }()
	t.held.Inc()
	defer t.held.Dec()
	timer := time.NewTimer(t.delay)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-t.stop:
	case <-ctx.Done():
	}
	return true
}

func (t *tarpit) release() { t.once.Do(func() { close(t.stop) }) }
