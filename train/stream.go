package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"unsafe"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/multilabel/multilabel/head"
	"github.com/multilabel/multilabel/sampler"
)

// Rows is a training feature matrix read one row at a time, for feature sets larger
// than memory: featcache.Mapped (a memory-mapped .npy) is one.
type Rows interface {
	// Row copies row i into dst (length dim) as float32 and returns it.
	Row(i int, dst []float32) []float32
	// Release says rows [lo, hi) are not needed for now (their pages may leave memory).
	Release(lo, hi int)
}

// RawRows is a Rows that can also give its rows as stored: FitRows then copies the
// stored bytes of each minibatch into the backend's input and the training graph
// converts them to float32 and standardises them, instead of the host converting and
// standardising every row of every epoch (the work Fit does once, before training).
// featcache.Mapped is one. The result is the same as through Row: the conversion from
// float16 is exact and the graph standardises with the same float32 operations.
type RawRows interface {
	Rows
	// RawRow returns row i as stored: dim little-endian float16 values when Float16
	// reports true, else dim little-endian float32 values. The slice may point into a
	// memory map; it is read before the Release that covers row i.
	RawRow(i int) []byte
	// Float16 reports float16 storage.
	Float16() bool
}

// StreamOptions are FitRows's reading options.
type StreamOptions struct {
	// Block is the number of consecutive rows shuffled together: an epoch visits the
	// blocks in a random order and the rows of a block in a random order, so a pass over
	// a memory-mapped file reads one block at a time and releases it when done. 0 visits
	// the rows in Fit's order (the sampler's, random over the whole set): FitRows then
	// gives Fit's result exactly, with random reads. Block needs the uniform sampler.
	Block int
}

// DefaultBlock is a block of StreamOptions for a memory-mapped set: 64 Ki rows (32 MiB
// of float16 features of 256 values, 128 MiB of 512 float32).
const DefaultBlock = 1 << 16

// FitRows is Fit on training rows read from src (n rows of dim values) a minibatch at a
// time instead of a matrix in memory: the standardisation is computed in two streamed
// passes (the first also rejects non-finite values) and applied per batch, so memory
// holds the labels, the validation set and one block of rows, not the training
// features. When src is a RawRows (a memory-mapped .npy), each minibatch goes to the
// backend as stored and the step graph converts and standardises it; otherwise rows
// are converted and standardised on the host. With the same order (opt.Block 0) the
// result equals Fit's on the same values, either way. The checkpoint fingerprint of a
// streamed run covers the configuration, the labels and the validation set, not the
// training feature values.
func FitRows(ctx context.Context, cfg Config, src Rows, n, dim int, trY [][]int8, vaX []float32, vaY [][]int8, opt StreamOptions, cb Callbacks) (res *Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, fmt.Errorf("train: internal error: %v", r)
		}
	}()
	if src == nil {
		return nil, errors.New("train: FitRows: no row source")
	}
	if n != len(trY) {
		return nil, fmt.Errorf("train: FitRows: %d feature rows for %d label rows", n, len(trY))
	}
	if opt.Block < 0 {
		return nil, fmt.Errorf("train: FitRows: block %d must be >= 0", opt.Block)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.resolved()
	if opt.Block > 0 && cfg.Sampler.Kind != "" && cfg.Sampler.Kind != sampler.Uniform {
		return nil, fmt.Errorf("train: FitRows: block shuffling needs the uniform sampler, not %s", cfg.Sampler.Kind)
	}
	ss := &streamSource{rows: src, block: opt.Block, cur: -1}
	if r, ok := src.(RawRows); ok && littleEndian() {
		ss.raw = r
	}
	t, err := newTrainer(cfg, nil, ss, trY, vaX, vaY, dim)
	if err != nil {
		return nil, err
	}
	defer t.close()
	return t.run(ctx, cb)
}

// streamSource reads the training rows of a streamed run.
type streamSource struct {
	rows  Rows
	block int
	n     int
	cur   int // block of the last row read (-1: none)
	buf   []float32
	raw   RawRows // rows handed to the backend as stored (nil: converted by Row)
}

// littleEndian reports a little-endian host, whose float32 and float16 values are laid
// out as in a .npy file's '<f4' and '<f2'.
func littleEndian() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}

// rawDType is the backend dtype of the stored rows.
func (s *streamSource) rawDType() dtypes.DType {
	if s.raw.Float16() {
		return dtypes.Float16
	}
	return dtypes.Float32
}

// rawBatch writes the rows perm of a minibatch, as stored, into x (batch rows of the
// stored dtype, reused from step to step: a new tensor a step would make the garbage
// collector's heap grow by twice what the run keeps). Rows past len(perm) are zeroed:
// their mask is zero, so they add nothing to the loss or to the gradients.
func (s *streamSource) rawBatch(x *tensors.Tensor, perm []int, batch int) error {
	var bad error
	err := x.MutableBytes(func(data []byte) {
		rb := len(data) / batch
		for r, i := range perm {
			s.releaseDone(i)
			b := s.raw.RawRow(i)
			if len(b) != rb {
				bad = fmt.Errorf("train: training features row %d has %d bytes, want %d", i, len(b), rb)
				return
			}
			copy(data[r*rb:(r+1)*rb], b)
		}
		clear(data[len(perm)*rb:])
	})
	if err != nil {
		return err
	}
	return bad
}

// standardizeGraph converts the stored rows x of a raw batch to float32 and standardises
// them with the training-set moments p, with the operations of
// headparams.Params.Standardize: (x - mean) / std in float32.
func standardizeGraph(x *graph.Node, p *head.Params) *graph.Node {
	if x.DType() != dtypes.Float32 {
		x = graph.ConvertDType(x, dtypes.Float32)
	}
	if len(p.Mean) == 0 {
		return x
	}
	g := x.Graph()
	mean := graph.ExpandAxes(graph.Const(g, p.Mean), 0)
	std := graph.ExpandAxes(graph.Const(g, p.Std), 0)
	return graph.Div(graph.Sub(x, mean), std)
}

// check reads every row once and rejects non-finite values; with sum (dim values) it
// also adds each column's values to sum, in row order (moments' first pass).
func (s *streamSource) check(n, dim int, sum []float64) error {
	s.n = n
	for i := range n {
		s.buf = s.rows.Row(i, s.buf[:0])
		if len(s.buf) != dim {
			return fmt.Errorf("train: training features row %d has %d values, want dim %d", i, len(s.buf), dim)
		}
		for k, v := range s.buf {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("train: training features row %d, column %d is %v", i, k, v)
			}
		}
		if sum != nil {
			for k, v := range s.buf {
				sum[k] += float64(v)
			}
		}
		s.releaseDone(i)
	}
	s.releaseAll()
	return nil
}

// moments is moments (fit.go) over the streamed rows, the same sums in the same order,
// given the column sums of check: one more pass, for the squared deviations.
func (s *streamSource) moments(n, dim int, sum []float64) (mean, std []float32) {
	sum2 := make([]float64, dim)
	mean = make([]float32, dim)
	for k := range sum {
		sum[k] /= float64(n)
		mean[k] = float32(sum[k])
	}
	for i := range n {
		s.buf = s.rows.Row(i, s.buf[:0])
		for k, v := range s.buf {
			d := float64(v) - sum[k]
			sum2[k] += d * d
		}
		s.releaseDone(i)
	}
	s.releaseAll()
	std = make([]float32, dim)
	for k := range sum2 {
		sd := math.Sqrt(sum2[k] / float64(n))
		if sd < 1e-6 {
			sd = 1
		}
		std[k] = float32(sd)
	}
	return mean, std
}

// row writes row i, standardised as p says, into dst.
func (s *streamSource) row(i int, dst []float32, p *head.Params) {
	s.buf = s.rows.Row(i, s.buf[:0])
	if len(p.Mean) == 0 {
		copy(dst, s.buf)
	} else {
		for k, x := range s.buf {
			dst[k] = (x - p.Mean[k]) / p.Std[k] // as headparams.Params.Standardize
		}
	}
	s.releaseDone(i)
}

// releaseDone releases the previous block when row i starts another one.
func (s *streamSource) releaseDone(i int) {
	if s.block <= 0 {
		return
	}
	b := i / s.block
	if b != s.cur {
		s.releaseAll()
		s.cur = b
	}
}

// releaseAll releases the block being read.
func (s *streamSource) releaseAll() {
	if s.block > 0 && s.cur >= 0 {
		s.rows.Release(s.cur*s.block, min((s.cur+1)*s.block, s.n))
	}
	s.cur = -1
}

// epochOrder is the visiting order of epoch: the sampler's, or blocks (streamed runs
// with a block size).
func (t *trainer) epochOrder(epoch int) []int {
	if t.src == nil || t.src.block <= 0 {
		return t.order.Epoch(uint64(epoch))
	}
	return blockOrder(t.n, t.src.block, rand.New(rand.NewPCG(t.cfg.Seed, uint64(epoch))))
}

// blockOrder is featcache.BlockOrder (kept here so that train does not depend on the
// feature extraction packages): blocks of block consecutive rows in random order, rows
// shuffled within each block.
func blockOrder(rows, block int, rng *rand.Rand) []int {
	nb := (rows + block - 1) / block
	order := make([]int, 0, rows)
	for _, b := range rng.Perm(nb) {
		lo, hi := b*block, min((b+1)*block, rows)
		start := len(order)
		for r := lo; r < hi; r++ {
			order = append(order, r)
		}
		seg := order[start:]
		rng.Shuffle(len(seg), func(i, j int) { seg[i], seg[j] = seg[j], seg[i] })
	}
	return order
}
