package imageio

import (
	"context"
	"fmt"
	"image"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
)

// LoaderOptions configures a Loader.
type LoaderOptions struct {
	Workers   int // decoding goroutines; 0: GOMAXPROCS
	Prefetch  int // batches being filled or waiting ahead of the consumer; 0: 2
	BatchSize int // images per batch; 0: DefaultBatchSize
	Decode    DecodeOptions
	Augment   *Augment // nil: Spec.Fill only
	Seed      uint64   // augmentation seed
	Epoch     int      // augmentation epoch
	// View is the fixed variant of every image (ViewFlip: mirrored); ignored with Augment.
	View View
}

// Batch is a run of consecutive images, filled in the spec's layout.
type Batch struct {
	Start, N int       // paths[Start : Start+N]
	Data     []float32 // N×TensorLen values
	Errs     []error   // per item; nil = ok. A bad item's slot is all zeros.

	pending atomic.Int32
	done    chan struct{}
	bufSize int
}

// Failed counts the items of the batch that could not be loaded.
func (b *Batch) Failed() int {
	n := 0
	for _, e := range b.Errs {
		if e != nil {
			n++
		}
	}
	return n
}

// Loader decodes and preprocesses images on Workers goroutines and hands out batches in
// order. At most Prefetch batches are held by the loader at any time (being filled or
// ready), so memory is bounded by Prefetch×BatchSize×TensorLen float32s plus what the
// consumer holds. Batch buffers come back through Release and are reused, so the steady
// state allocates no batch memory (the standard decoders still allocate each decoded
// image).
type Loader struct {
	paths  []string
	spec   Spec
	opt    LoaderOptions
	ctx    context.Context
	cancel context.CancelFunc

	ready  chan *Batch   // batches in order, as they are started
	tokens chan struct{} // Prefetch tokens: a batch holds one from start until Next returns it
	jobs   chan job      // items to fill, in order
	mu     sync.Mutex
	free   []*Batch       // released batches for reuse (a plain list: sync.Pool empties at GC)
	wg     sync.WaitGroup // producer and workers
	err    error          // set by Next when it ends
	closed sync.Once
	made   atomic.Int32 // batch buffers allocated (tests check the bound)
}

type job struct {
	b *Batch
	i int
}

// NewLoader starts loading paths per spec. Call Next until io.EOF, Release each batch
// when done with it, and Close (always; it stops the goroutines). An invalid spec makes
// the first Next return the error.
func NewLoader(ctx context.Context, paths []string, s Spec, opt LoaderOptions) *Loader {
	if opt.Workers <= 0 {
		opt.Workers = runtime.GOMAXPROCS(0)
	}
	if opt.Prefetch <= 0 {
		opt.Prefetch = 2
	}
	if opt.BatchSize <= 0 {
		opt.BatchSize = DefaultBatchSize
	}
	ctx, cancel := context.WithCancel(ctx)
	l := &Loader{paths: paths, spec: s, opt: opt, ctx: ctx, cancel: cancel,
		ready:  make(chan *Batch, opt.Prefetch),
		tokens: make(chan struct{}, opt.Prefetch),
		jobs:   make(chan job, 2*opt.Workers),
	}
	if err := s.Validate(); err != nil {
		l.err = err
		close(l.ready)
		return l
	}
	for range opt.Prefetch {
		l.tokens <- struct{}{}
	}
	l.wg.Add(1 + opt.Workers)
	go l.produce()
	for range opt.Workers {
		go l.work()
	}
	return l
}

func (l *Loader) getBatch(start, n int) *Batch {
	size := l.opt.BatchSize * l.spec.TensorLen()
	var b *Batch
	l.mu.Lock()
	if n := len(l.free); n > 0 {
		b = l.free[n-1]
		l.free = l.free[:n-1]
	}
	l.mu.Unlock()
	if b == nil || b.bufSize != size {
		l.made.Add(1)
		b = &Batch{Data: make([]float32, size), Errs: make([]error, l.opt.BatchSize), bufSize: size}
	}
	b.Start, b.N = start, n
	b.Data = b.Data[:n*l.spec.TensorLen()]
	b.Errs = b.Errs[:n]
	clear(b.Errs)
	b.pending.Store(int32(n))
	b.done = make(chan struct{})
	return b
}

// produce starts batches in order, each when a prefetch token is free, and queues its
// items for the workers.
func (l *Loader) produce() {
	defer l.wg.Done()
	defer close(l.ready)
	defer close(l.jobs)
	bs := l.opt.BatchSize
	for start := 0; start < len(l.paths); start += bs {
		select {
		case <-l.tokens:
		case <-l.ctx.Done():
			return
		}
		b := l.getBatch(start, min(bs, len(l.paths)-start))
		select {
		case l.ready <- b: // never blocks: at most Prefetch batches exist
		case <-l.ctx.Done():
			return
		}
		for i := 0; i < b.N; i++ {
			select {
			case l.jobs <- job{b, i}:
			case <-l.ctx.Done():
				return
			}
		}
	}
}

func (l *Loader) work() {
	defer l.wg.Done()
	var buf []byte
	var jbuf JPEGBuffer // a native JPEG decoder's output, reused image after image
	tl := l.spec.TensorLen()
	for {
		var j job
		var ok bool
		select {
		case j, ok = <-l.jobs:
		case <-l.ctx.Done():
			return
		}
		if !ok {
			return
		}
		b := j.b
		idx := b.Start + j.i
		dst := b.Data[j.i*tl : (j.i+1)*tl]
		if err := l.load(idx, &buf, &jbuf, dst); err != nil {
			clear(dst)
			b.Errs[j.i] = err
		}
		if b.pending.Add(-1) == 0 {
			close(b.done)
		}
	}
}

// load fills dst with image idx; panics in the pipeline become the item's error.
func (l *Loader) load(idx int, buf *[]byte, jbuf *JPEGBuffer, dst []float32) (err error) {
	path := l.paths[idx]
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: %w: panic while loading: %v", path, ErrCorrupt, r)
		}
	}()
	data, err := readFileInto(path, buf)
	if err != nil {
		return err
	}
	var img image.Image
	if l.opt.Augment != nil {
		// Full resolution: a random crop may keep a small part of the image.
		img, err = DecodeBytes(data, l.opt.Decode)
	} else {
		// A registered native JPEG decoder may downscale to what the spec needs.
		img, err = decodeForSpec(data, l.spec, l.opt.Decode, jbuf)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if l.opt.Augment != nil {
		l.opt.Augment.Fill(img, l.spec, l.opt.Seed, l.opt.Epoch, idx, dst)
	} else {
		l.spec.FillView(img, l.opt.View, dst)
	}
	if cap(*buf) > 64<<20 { // do not keep a huge file's buffers around
		*buf = nil
	}
	if cap(jbuf.Pix) > maxPooledPix {
		jbuf.Pix = nil
	}
	return nil
}

// Next returns the next batch in order, io.EOF after the last one, or the context's
// error once it is cancelled. Items that failed have a non-nil Errs entry (naming the
// file) and a zeroed slot; the others are filled. Next is meant for one consumer
// goroutine; it is not safe for concurrent use.
func (l *Loader) Next() (*Batch, error) {
	if l.err != nil {
		return nil, l.err
	}
	b, ok := <-l.ready
	if !ok {
		if err := l.ctx.Err(); err != nil {
			l.err = err
		} else {
			l.err = io.EOF
		}
		return nil, l.err
	}
	select {
	case <-b.done:
	case <-l.ctx.Done():
		l.err = l.ctx.Err()
		return nil, l.err
	}
	if err := l.ctx.Err(); err != nil { // cancelled while the batch was completing
		l.err = err
		return nil, err
	}
	l.tokens <- struct{}{}
	return b, nil
}

// Release gives a batch's buffer back for reuse; b (including its Start and N) must not
// be used afterwards.
func (l *Loader) Release(b *Batch) {
	if b == nil {
		return
	}
	b.done = nil
	l.mu.Lock()
	if len(l.free) < l.opt.Prefetch+2 {
		l.free = append(l.free, b)
	}
	l.mu.Unlock()
}

// Close stops the workers and waits for them; pending batches are dropped. It is safe to
// call more than once.
func (l *Loader) Close() {
	l.closed.Do(func() {
		l.cancel()
		l.wg.Wait()
	})
}
