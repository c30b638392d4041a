package serve

import (
	"context"
	"fmt"
	"image"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/multilabel/multilabel/prediction"
)

// batcher gathers the images of concurrent requests into engine batches: the first job
// waiting starts a window of Options.BatchDelay, during which further jobs join until
// MaxBatch images are reached. The queue is bounded in images; a request that does not
// fit is refused (503) instead of growing memory.
type batcher struct {
	p       Predictor
	opt     Options
	m       *metrics
	queue   chan *job
	queued  atomic.Int64 // images waiting or being predicted
	mu      sync.RWMutex // guards closed against sends on a closed channel
	closed  bool
	stopped chan struct{}
}

type job struct {
	ctx  context.Context
	imgs []image.Image
	out  [][]float32
	err  error
	done chan struct{}
}

func newBatcher(p Predictor, opt Options, m *metrics) *batcher {
	b := &batcher{p: p, opt: opt, m: m, queue: make(chan *job, opt.QueueSize), stopped: make(chan struct{})}
	if opt.BatchDelay > 0 {
		go b.loop()
	} else {
		close(b.stopped)
	}
	return b
}

func (b *batcher) full() bool { return b.queued.Load() >= int64(b.opt.QueueSize) }

// submit predicts imgs, batched with other requests when batching is on.
func (b *batcher) submit(ctx context.Context, imgs []image.Image) ([][]float32, error) {
	n := int64(len(imgs))
	// A request larger than the whole queue still runs when it is alone.
	if v := b.queued.Add(n); v > int64(b.opt.QueueSize) && v != n {
		b.queued.Add(-n)
		return nil, clientErr(http.StatusServiceUnavailable, "queue_full", "server busy: prediction queue full")
	}
	defer b.queued.Add(-n)
	if b.opt.BatchDelay <= 0 {
		b.m.batch(len(imgs))
		return b.predict(ctx, imgs)
	}
	j := &job{ctx: ctx, imgs: imgs, done: make(chan struct{})}
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		// The model was swapped out between Load and submit: predict directly on it.
		b.m.batch(len(imgs))
		return b.predict(ctx, imgs)
	}
	select {
	case b.queue <- j:
	default:
		b.mu.RUnlock()
		return nil, clientErr(http.StatusServiceUnavailable, "queue_full", "server busy: prediction queue full")
	}
	b.mu.RUnlock()
	select {
	case <-j.done:
		return j.out, j.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// explain predicts imgs with maps: under the same queue bound as submit, but not
// batched with other requests (the maps are drawn for this request's labels).
func (b *batcher) explain(ctx context.Context, ex Explainer, imgs []image.Image, pick func(i int, p []float32) []int) ([][]float32, [][]prediction.Map, error) {
	n := int64(len(imgs))
	if v := b.queued.Add(n); v > int64(b.opt.QueueSize) && v != n {
		b.queued.Add(-n)
		return nil, nil, clientErr(http.StatusServiceUnavailable, "queue_full", "server busy: prediction queue full")
	}
	defer b.queued.Add(-n)
	b.m.batch(len(imgs))
	out, maps, err := ex.ExplainScores(ctx, imgs, pick)
	if err != nil {
		return nil, nil, err
	}
	if len(out) != len(imgs) || len(maps) != len(imgs) {
		return nil, nil, fmt.Errorf("explainer returned %d rows and %d maps for %d images", len(out), len(maps), len(imgs))
	}
	return out, maps, nil
}

func (b *batcher) predict(ctx context.Context, imgs []image.Image) ([][]float32, error) {
	out, err := b.p.Scores(ctx, imgs)
	if err != nil {
		return nil, err
	}
	if len(out) != len(imgs) {
		return nil, fmt.Errorf("predictor returned %d rows for %d images", len(out), len(imgs))
	}
	return out, nil
}

func (b *batcher) loop() {
	defer close(b.stopped)
	for {
		first, ok := <-b.queue
		if !ok {
			return
		}
		jobs := []*job{first}
		n := len(first.imgs)
		timer := time.NewTimer(b.opt.BatchDelay)
	gather:
		for n < b.opt.MaxBatch {
			select {
			case j, ok := <-b.queue:
				if !ok {
					break gather
				}
				jobs = append(jobs, j)
				n += len(j.imgs)
			case <-timer.C:
				break gather
			}
		}
		timer.Stop()
		b.run(jobs)
	}
}

// run predicts the live jobs of one batch together and hands each its rows.
func (b *batcher) run(jobs []*job) {
	live := jobs[:0]
	var imgs []image.Image
	for _, j := range jobs {
		if j.ctx.Err() != nil {
			j.err = j.ctx.Err()
			close(j.done)
			continue
		}
		live = append(live, j)
		imgs = append(imgs, j.imgs...)
	}
	if len(live) == 0 {
		return
	}
	b.m.batch(len(imgs))
	// The batch serves several requests: it runs to completion under the longest
	// request timeout rather than any one client's context.
	ctx, cancel := context.WithTimeout(context.Background(), b.opt.RequestTimeout)
	out, err := b.predict(ctx, imgs)
	cancel()
	off := 0
	for _, j := range live {
		if err != nil {
			j.err = err
		} else {
			j.out = out[off : off+len(j.imgs)]
		}
		off += len(j.imgs)
		close(j.done)
	}
}

// closeWhenIdle stops accepting jobs; the loop finishes what is queued, then exits.
func (b *batcher) closeWhenIdle() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.closed = true
	if b.opt.BatchDelay > 0 {
		close(b.queue)
	}
}
