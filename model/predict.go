package model

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"runtime"
	"sync"
	"time"

	"github.com/multilabel/multilabel/bundle"
	"github.com/multilabel/multilabel/calib"
	"github.com/multilabel/multilabel/engine"
	"github.com/multilabel/multilabel/engine/auto"
	"github.com/multilabel/multilabel/errkind"
	"github.com/multilabel/multilabel/imageio"
	"github.com/multilabel/multilabel/prediction"
)

// Options configures a loaded Model. Zero values take the documented defaults.
type Options struct {
	// Engine picks the runtime: "auto" (default: ONNX Runtime when its library is found,
	// else pure Go), "ort" or "go".
	Engine string
	// ORTLib is the ONNX Runtime library path ("" = search the usual places).
	ORTLib string
	// Threads bounds the engine's intra-op threads (0 = its default).
	Threads int
	// BatchSize is the number of images per engine call (default imageio.DefaultBatchSize).
	BatchSize int
	// Workers is the number of image decoding goroutines for PredictFiles (default: the
	// number of CPUs).
	Workers int
	// MaxPixels bounds decoded images (default imageio.DefaultMaxPixels).
	MaxPixels int64
	// TopK > 0 makes the k highest-scoring labels the predicted ones, whatever their
	// thresholds (rule "top K"): the same rule as predict --top-k and HTTP top_k
	// (prediction.Select). It must not exceed the number of labels.
	TopK int
	// Threshold > 0 replaces the bundle's per-label thresholds by one global threshold.
	Threshold float64
	// Decision overrides the decision rule the bundle was trained with: "f1",
	// "precision:P", "recall:R" (thresholds from the validation curves the bundle
	// carries) or "topk:K" (F1 thresholds, then at most the K best). "" keeps the
	// bundle's rule and thresholds. It excludes TopK and Threshold.
	Decision string
	// Explain opens the engine on the bundle's graph extended with per-label activation
	// maps (see ExplainFiles): the backbone still runs once per image, and Predict and
	// PredictFiles fill Prediction.Maps for the predicted labels. It is an error (of
	// kind errkind.ErrBadInput) when the cut has no spatial dimensions or the head kind
	// draws no maps.
	Explain bool
}

// Model is a loaded bundle ready to predict. It is safe for concurrent use.
type Model struct {
	// Bundle is the loaded bundle content.
	Bundle *bundle.Bundle

	opt Options
	// dec and th are Options.Decision parsed and its thresholds (th nil: no override).
	dec calib.Decision
	th  []float64
	mu  sync.Mutex // serialises engine calls
	eng engine.Engine
	ex  *explainer // non-nil with Options.Explain
}

// LabelScore is one label with its probability.
type LabelScore struct {
	Label string  `json:"label"`
	Score float32 `json:"score"`
}

// Prediction is the result for one image.
type Prediction struct {
	// Path is the file name for PredictFiles, empty for Predict.
	Path string `json:"path,omitempty"`
	// Labels are the predicted labels, highest score first.
	Labels []LabelScore `json:"labels"`
	// Scores holds the probability of every label, indexed like Model.Labels().
	Scores []float32 `json:"scores"`
	// Err is set when the image could not be read; Labels and Scores are then nil.
	Err error `json:"-"`
	// Maps holds, with Options.Explain, the activation map of each predicted label (of
	// each label chosen, for ExplainFiles and ExplainImages), in Labels order.
	Maps []LabelMap `json:"-"`

	model *Model // the model that made it (for MarshalJSON); nil when built by hand
}

// Load reads, verifies and opens a bundle with the default options (engine "auto").
func Load(path string) (*Model, error) { return LoadWith(path, Options{}) }

// LoadWith reads, verifies and opens a bundle.
func LoadWith(path string, opt Options) (*Model, error) {
	b, err := bundle.Read(path)
	if err != nil {
		return nil, err
	}
	return New(b, opt)
}

// New opens an engine on a bundle's backbone.
func New(b *bundle.Bundle, opt Options) (*Model, error) {
	if err := b.Validate(); err != nil {
		return nil, err
	}
	if opt.BatchSize <= 0 {
		opt.BatchSize = imageio.DefaultBatchSize
	}
	if opt.Workers <= 0 {
		opt.Workers = runtime.NumCPU()
	}
	if opt.TopK < 0 || opt.TopK > len(b.Labels) {
		return nil, fmt.Errorf("model: top-k %d out of range 0..%d", opt.TopK, len(b.Labels))
	}
	if math.IsNaN(opt.Threshold) || opt.Threshold < 0 || opt.Threshold > 1 {
		return nil, fmt.Errorf("model: threshold %v out of range 0..1", opt.Threshold)
	}
	var dec calib.Decision
	var th []float64
	if opt.Decision != "" {
		if opt.TopK > 0 || opt.Threshold > 0 {
			return nil, errkind.BadInput("model: decision %q excludes top-k and a global threshold", opt.Decision)
		}
		var err error
		if dec, th, _, err = b.DecisionThresholds(opt.Decision); err != nil {
			return nil, fmt.Errorf("model: %w", err)
		}
	}
	kind := opt.Engine
	if kind == "" {
		kind = "auto"
	}
	graph, rowLen := b.Backbone, b.Head.In
	var ex *explainer
	if opt.Explain {
		var err error
		if ex, err = newExplainer(b); err != nil {
			return nil, err
		}
		graph, rowLen = ex.graph, ex.rowLen()
	}
	eng, err := auto.Open(graph, auto.Options{Kind: kind, ORTLib: opt.ORTLib, Threads: opt.Threads})
	if err != nil {
		return nil, fmt.Errorf("model: open %s engine on the bundle's backbone: %w", kind, err)
	}
	if out := eng.OutputShape(); len(out) != 1 || int(out[0]) != rowLen {
		eng.Close()
		return nil, fmt.Errorf("model: backbone output shape %v, want [%d]", out, rowLen)
	}
	if in, want := eng.InputShape(), b.Spec.Shape(); !sameShape(in, want) {
		eng.Close()
		return nil, fmt.Errorf("model: backbone input shape %v, preprocessing gives %v", in, want)
	}
	return &Model{Bundle: b, opt: opt, eng: eng, dec: dec, th: th, ex: ex}, nil
}

func sameShape(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Close releases the engine.
func (m *Model) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.eng == nil {
		return nil
	}
	err := m.eng.Close()
	m.eng = nil
	return err
}

// Labels returns the label vocabulary.
func (m *Model) Labels() []string { return m.Bundle.Labels }

// Thresholds returns the per-label thresholds in use (the bundle's, those of
// Options.Decision, or the global Options.Threshold repeated).
func (m *Model) Thresholds() []float64 {
	if m.th != nil {
		return m.th
	}
	if m.opt.Threshold > 0 {
		t := make([]float64, len(m.Bundle.Labels))
		for i := range t {
			t[i] = m.opt.Threshold
		}
		return t
	}
	return m.Bundle.Thresholds
}

// DecisionRule resolves a decision rule for this model's bundle (serve.DecisionRuler):
// the rule's name, its thresholds and, for topk:K, K.
func (m *Model) DecisionRule(rule string) (string, []float64, int, error) {
	d, th, _, err := m.Bundle.DecisionThresholds(rule)
	if err != nil {
		return "", nil, 0, err
	}
	k := 0
	if d.Kind == calib.TopK {
		k = d.K
	}
	return d.String(), th, k, nil
}

// EngineName names the engine running the backbone.
func (m *Model) EngineName() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.eng == nil {
		return ""
	}
	return m.eng.Name()
}

// Info describes the model: id, labels, thresholds, decision rule, preprocessing,
// backbone, metrics, whether it draws activation maps ("explain") and, for a saved
// bundle, "trained": when it was written (RFC 3339, UTC).
func (m *Model) Info() map[string]any {
	b := m.Bundle
	info := map[string]any{
		"id":         b.ID,
		"labels":     b.Labels,
		"thresholds": m.Thresholds(),
		"decision":   m.Bundle.Rule(),
		"preprocess": b.Spec,
		"backbone":   b.BackboneInfo,
		"head":       map[string]any{"kind": b.Head.Kind, "in": b.Head.In, "hidden": b.Head.Hidden, "out": b.Head.Out},
		"metrics":    b.Metrics,
		"engine":     m.EngineName(),
		"explain":    m.ex != nil, // draws activation maps (HTTP explain=1)
	}
	if b.Manifest != nil && !b.Manifest.Created.IsZero() {
		info["trained"] = b.Manifest.Created.UTC().Format(time.RFC3339)
	}
	return info
}

// runFeatures runs the backbone on n preprocessed images: the feature vectors and,
// with Options.Explain, the label maps (n×labels×H×W; nil without).
func (m *Model) runFeatures(ctx context.Context, input []float32, n int) (feats, maps []float32, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.eng == nil {
		return nil, nil, errors.New("model: closed")
	}
	out, err := m.eng.Run(ctx, input, n)
	if err != nil {
		return nil, nil, fmt.Errorf("model: backbone: %w", err)
	}
	dim := m.Bundle.Head.In
	if m.ex == nil {
		if len(out) != n*dim {
			return nil, nil, fmt.Errorf("model: backbone returned %d values for %d images of %d features", len(out), n, dim)
		}
		return out, nil, nil
	}
	row := m.ex.rowLen()
	if len(out) != n*row {
		return nil, nil, fmt.Errorf("model: explain graph returned %d values for %d images of %d", len(out), n, row)
	}
	ex, ml := m.ex.extra, m.ex.mapLen()
	feats, maps = make([]float32, n*dim), make([]float32, n*ml)
	for i := 0; i < n; i++ {
		f, x := out[i*row:i*row+dim], out[i*row+dim:(i+1)*row]
		copy(feats[i*dim:(i+1)*dim], f)
		if m.ex.toMaps != nil {
			if x, err = m.ex.toMaps(f, x); err != nil {
				return nil, nil, fmt.Errorf("model: explain: %w", err)
			}
			if len(x) != ml {
				return nil, nil, fmt.Errorf("model: explain: %d map values for one image, want %d", len(x), ml)
			}
		} else if ex != ml {
			return nil, nil, fmt.Errorf("model: explain: graph gives %d map values per image, want %d", ex, ml)
		}
		copy(maps[i*ml:(i+1)*ml], x)
	}
	return feats, maps, nil
}

// ScoresFromFeatures applies the head and a sigmoid to n feature vectors.
func (m *Model) ScoresFromFeatures(features []float32, n int) [][]float32 {
	return ScoresFromFeatures(m.Bundle, features, n)
}

// ScoresFromFeatures applies b's head and a sigmoid to n feature vectors (n×b.Head.In
// values): one row of len(b.Labels) probabilities per vector. It is the scorer that
// prediction and training (package pipeline) share, so both compute the same scores.
func ScoresFromFeatures(b *bundle.Bundle, features []float32, n int) [][]float32 {
	return ScoresFromLogits(b.Head.Logits(features, n), n, len(b.Labels))
}

// ScoresFromLogits applies a sigmoid to n rows of k logits (row-major): one row of k
// probabilities per image.
func ScoresFromLogits(logits []float32, n, k int) [][]float32 {
	out := make([][]float32, n)
	for i := range out {
		row := make([]float32, k)
		for j := range row {
			row[j] = sigmoid(logits[i*k+j])
		}
		out[i] = row
	}
	return out
}

func sigmoid(x float32) float32 {
	if x >= 0 {
		return float32(1 / (1 + math.Exp(-float64(x))))
	}
	e := math.Exp(float64(x))
	return float32(e / (1 + e))
}

// Scores returns the probability of every label for each image (rows indexed like
// imgs, columns like Labels). Images of any size are resized per the bundle's spec.
func (m *Model) Scores(ctx context.Context, imgs []image.Image) ([][]float32, error) {
	out := make([][]float32, 0, len(imgs))
	err := m.imageBatches(ctx, imgs, func(start, n int, _, feats, _ []float32) error {
		out = append(out, m.ScoresFromFeatures(feats, n)...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// imageBatches fills the images batch by batch and runs the backbone on them, calling
// emit with each batch's input tensors, features and (with Options.Explain) maps.
func (m *Model) imageBatches(ctx context.Context, imgs []image.Image, emit func(start, n int, input, feats, maps []float32) error) error {
	spec := m.Bundle.Spec
	tl := spec.TensorLen()
	for start := 0; start < len(imgs); start += m.opt.BatchSize {
		if err := ctx.Err(); err != nil {
			return err
		}
		end := min(start+m.opt.BatchSize, len(imgs))
		n := end - start
		buf := make([]float32, n*tl)
		for i := 0; i < n; i++ {
			if imgs[start+i] == nil {
				return fmt.Errorf("model: image %d is nil", start+i)
			}
		}
		// Resizing is a large share of the work for small backbones: spread it over the
		// workers, so a server batching many requests does not resize them one by one.
		m.parallel(n, func(i int) { spec.Fill(imgs[start+i], buf[i*tl:(i+1)*tl]) })
		feats, maps, err := m.runFeatures(ctx, buf, n)
		if err != nil {
			return err
		}
		if err := emit(start, n, buf, feats, maps); err != nil {
			return err
		}
	}
	return nil
}

// parallel runs f(0..n-1) on up to Options.Workers goroutines.
func (m *Model) parallel(n int, f func(i int)) {
	var wg sync.WaitGroup
	next := make(chan int, n)
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	for w := 0; w < min(m.opt.Workers, n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	wg.Wait()
}

// Predict returns the labels and scores of each image (and, with Options.Explain, the
// maps of the predicted labels).
func (m *Model) Predict(ctx context.Context, imgs []image.Image) ([]Prediction, error) {
	var pick Pick
	if m.ex != nil {
		pick = PredictedLabels
	}
	return m.predictImages(ctx, imgs, pick)
}

func (m *Model) predictImages(ctx context.Context, imgs []image.Image, pick Pick) ([]Prediction, error) {
	preds := make([]Prediction, len(imgs))
	err := m.imageBatches(ctx, imgs, func(start, n int, input, feats, maps []float32) error {
		scores := m.ScoresFromFeatures(feats, n)
		for i, s := range scores {
			preds[start+i] = Prediction{Scores: s, Labels: m.Decide(s), model: m}
		}
		ok := make([]bool, n)
		for i := range ok {
			ok[i] = true
		}
		return m.drawMaps(start, preds[start:start+n], ok, input, maps, pick)
	})
	if err != nil {
		return nil, err
	}
	return preds, nil
}

// Decide returns the predicted labels for one row of scores, highest score first, by
// the one rule of package prediction (prediction.Select, shared with predict --top-k
// and HTTP top_k): the TopK highest when Options.TopK > 0, whatever their thresholds,
// else those at or above their threshold (at most K of them under a topk:K decision).
func (m *Model) Decide(scores []float32) []LabelScore {
	maxK := 0
	if m.opt.TopK == 0 && m.dec.Kind == calib.TopK {
		maxK = m.dec.K
	}
	out := []LabelScore{}
	for _, j := range prediction.Select(scores, m.Thresholds(), m.opt.TopK, maxK) {
		out = append(out, LabelScore{Label: m.Bundle.Labels[j], Score: scores[j]})
	}
	return out
}

// PredictFiles decodes and predicts image files (and, with Options.Explain, draws the
// maps of the predicted labels). An unreadable or corrupt image gets a Prediction with
// Err set and does not stop the others; the returned error is only for failures that
// stop everything (the context, the engine).
func (m *Model) PredictFiles(ctx context.Context, paths []string) ([]Prediction, error) {
	var pick Pick
	if m.ex != nil {
		pick = PredictedLabels
	}
	return m.predictFiles(ctx, paths, pick)
}

func (m *Model) predictFiles(ctx context.Context, paths []string, pick Pick) ([]Prediction, error) {
	preds := make([]Prediction, len(paths))
	for i, p := range paths {
		preds[i].Path, preds[i].model = p, m
	}
	err := m.featureFiles(ctx, paths, func(start int, input, feats, maps []float32, ok []bool, errs []error) error {
		n := len(ok)
		scores := m.ScoresFromFeatures(feats, n)
		for i := 0; i < n; i++ {
			p := &preds[start+i]
			if !ok[i] {
				p.Err = errs[i]
				continue
			}
			p.Scores = scores[i]
			p.Labels = m.Decide(scores[i])
		}
		return m.drawMaps(start, preds[start:start+n], ok, input, maps, pick)
	})
	if err != nil {
		return nil, err
	}
	return preds, nil
}

// Features runs the bundle's backbone on image files: n×dim values in paths order, with
// ok[i] false (and a zero row) for images that could not be read, errs[i] saying why.
func (m *Model) Features(ctx context.Context, paths []string) (feats []float32, ok []bool, errs []error, err error) {
	dim := m.Bundle.Head.In
	feats = make([]float32, len(paths)*dim)
	ok = make([]bool, len(paths))
	errs = make([]error, len(paths))
	err = m.featureFiles(ctx, paths, func(start int, _, f, _ []float32, o []bool, e []error) error {
		copy(feats[start*dim:], f)
		copy(ok[start:], o)
		copy(errs[start:], e)
		return nil
	})
	if err != nil {
		return nil, nil, nil, err
	}
	return feats, ok, errs, nil
}

// featureFiles decodes files in parallel (batch i+1 is decoded while the backbone runs
// batch i) and runs them through the backbone, calling emit for each batch in order
// with its input tensors, features and (with Options.Explain) maps (bad images: ok
// false, zero features and maps).
func (m *Model) featureFiles(ctx context.Context, paths []string, emit func(start int, input, feats, maps []float32, ok []bool, errs []error) error) error {
	if len(paths) == 0 {
		return nil
	}
	spec := m.Bundle.Spec
	tl := spec.TensorLen()
	dim := m.Bundle.Head.In
	ml := 0
	if m.ex != nil {
		ml = m.ex.mapLen()
	}
	bs := m.opt.BatchSize
	dopt := imageio.DecodeOptions{MaxPixels: m.opt.MaxPixels}
	type batch struct {
		start, n int
		data     []float32
		errs     []error
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan *batch, 1)
	go func() {
		defer close(batches)
		for start := 0; start < len(paths); start += bs {
			n := min(bs, len(paths)-start)
			b := &batch{start: start, n: n, data: make([]float32, n*tl), errs: make([]error, n)}
			m.parallel(n, func(i int) {
				b.errs[i] = loadFile(paths[start+i], spec, b.data[i*tl:(i+1)*tl], dopt)
			})
			select {
			case batches <- b:
			case <-ctx.Done():
				return
			}
		}
	}()
	for bt := range batches {
		if err := ctx.Err(); err != nil {
			return err
		}
		ok := make([]bool, bt.n)
		good := make([]int, 0, bt.n)
		for i := 0; i < bt.n; i++ {
			if bt.errs[i] == nil {
				ok[i] = true
				good = append(good, i)
			}
		}
		feats := make([]float32, bt.n*dim)
		var maps []float32
		if ml > 0 {
			maps = make([]float32, bt.n*ml)
		}
		if len(good) > 0 {
			input := bt.data
			if len(good) < bt.n {
				input = make([]float32, len(good)*tl)
				for k, i := range good {
					copy(input[k*tl:(k+1)*tl], bt.data[i*tl:(i+1)*tl])
				}
			}
			out, outMaps, err := m.runFeatures(ctx, input, len(good))
			if err != nil {
				return err
			}
			for k, i := range good {
				copy(feats[i*dim:(i+1)*dim], out[k*dim:(k+1)*dim])
				if ml > 0 {
					copy(maps[i*ml:(i+1)*ml], outMaps[k*ml:(k+1)*ml])
				}
			}
		}
		if err := emit(bt.start, bt.data, feats, maps, ok, bt.errs); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// loadFile is imageio.LoadFile with a recovered panic turned into an error, so one
// pathological image cannot take the process down.
func loadFile(path string, spec imageio.Spec, dst []float32, opt imageio.DecodeOptions) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: %w: %v", path, imageio.ErrCorrupt, r)
		}
	}()
	return imageio.LoadFile(path, spec, dst, opt)
}
