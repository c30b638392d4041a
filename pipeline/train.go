package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/multilabel/multilabel/backbone"
	"github.com/multilabel/multilabel/bundle"
	"github.com/multilabel/multilabel/dataset"
	"github.com/multilabel/multilabel/engine/auto"
	"github.com/multilabel/multilabel/errkind"
	"github.com/multilabel/multilabel/featcache"
	"github.com/multilabel/multilabel/internal/progress"
	"github.com/multilabel/multilabel/metric"
	"github.com/multilabel/multilabel/model"
	"github.com/multilabel/multilabel/train"
)

// DefaultValFraction is the share of the training part held out for validation (model
// selection, early stopping, threshold tuning) when no validation set is given.
const DefaultValFraction = 0.125

// TrainConfig is everything `multilabel train` does, as data.
type TrainConfig struct {
	// Data is the label source (CSV, COCO JSON, VOC root; see dataset.Load).
	Data string `json:"data"`
	// Images is the directory image references are resolved against ("" = the
	// format's default).
	Images string `json:"images,omitempty"`
	// Val and Test are optional separate label sources (same vocabulary as Data).
	Val  string `json:"val,omitempty"`
	Test string `json:"test,omitempty"`
	// Split gives the train/test ratios used when Test is empty (default 0.8,0.2); three
	// values give train/val/test directly. When Val is empty, a stratified
	// ValFraction of the training part becomes the validation set. With the defaults,
	// the data is split 70/10/20 (train/val/test) by iterative stratification.
	Split []float64 `json:"split,omitempty"`
	// ValFraction is the share of the training part used for validation when neither
	// Val nor a three-way Split is given (default DefaultValFraction).
	ValFraction float64 `json:"val_fraction,omitempty"`
	// Backbone is an ONNX file (or a zoo name, when the backbone package resolves it).
	Backbone string `json:"backbone"`
	// FeatureNode overrides the automatic feature cut.
	FeatureNode string `json:"feature_node,omitempty"`
	// RandomBackbone replaces the backbone's weights by a seeded random initialisation
	// (RandomizeONNX with Seed) — the transfer-gap baseline.
	RandomBackbone bool `json:"random_backbone,omitempty"`
	// Out is the bundle file to write ("" = none).
	Out string `json:"out,omitempty"`
	// Engine is "auto" (default), "ort" or "go"; ORTLib and Threads configure it.
	Engine  string `json:"engine,omitempty"`
	ORTLib  string `json:"-"`
	Threads int    `json:"threads,omitempty"`
	// CacheDir is the feature cache directory ("" = featcache.DefaultDir()); NoCache
	// disables the cache.
	CacheDir string `json:"-"`
	NoCache  bool   `json:"no_cache,omitempty"`
	// Train is the head training configuration; its Seed is set from Seed.
	Train train.Config `json:"train"`
	// Seed drives the split, the head initialisation and shuffling, and RandomBackbone.
	Seed uint64 `json:"seed"`
	// Progress receives progress bars (feature extraction, training); nil is quiet.
	Progress io.Writer `json:"-"`
	// Logger receives informational lines; nil means slog.Default().
	Logger *slog.Logger `json:"-"`
}

// SplitInfo says how the data was divided.
type SplitInfo struct {
	// How is "given" (separate files) or "stratified" (IterativeStratify).
	How   string    `json:"how"`
	Ratio []float64 `json:"ratio,omitempty"` // train/val/test ratios of a stratified split
	Train int       `json:"train"`
	Val   int       `json:"val"`
	Test  int       `json:"test"`
}

// TrainResult is the outcome of Train.
type TrainResult struct {
	// Bundle is the trained model (saved to TrainConfig.Out when set).
	Bundle *bundle.Bundle
	// Fit is the head training record (history, best epoch, ...).
	Fit *train.Result
	// Val holds the validation metrics at the tuned thresholds (nil without a
	// validation set); Test the test metrics (nil without a test set).
	Val, Test *metric.Result
	// Splits tells how many images went where (after unusable images were dropped).
	Splits SplitInfo
	// BadImages lists images that could not be used (skipped).
	BadImages []featcache.BadImage
	// Engine names the engine that extracted the features.
	Engine string
	// CacheHits and CacheMisses count feature-cache use.
	CacheHits, CacheMisses int
	// FeatureSeconds and TrainSeconds are wall times of the two phases.
	FeatureSeconds, TrainSeconds float64
	// Scores holds the test (or, without test set, validation) scores, indexed like
	// Truth and TestPaths (image files), for reports.
	Scores    [][]float32
	Truth     [][]int8
	TestPaths []string
}

// trainingRecord is the bundle's training.json.
type trainingRecord struct {
	Config       TrainConfig   `json:"config"`
	Train        train.Config  `json:"train"`
	Loss         any           `json:"loss"`
	History      []train.Epoch `json:"history"`
	BestEpoch    int           `json:"best_epoch"`
	BestValMAP   float64       `json:"best_val_map"`
	UsedEMA      bool          `json:"used_ema"`
	StoppedEarly bool          `json:"stopped_early"`
	Steps        int           `json:"steps"`
	Splits       SplitInfo     `json:"splits"`
	BadImages    int           `json:"bad_images"`
	Engine       string        `json:"engine"`
	Seconds      struct {
		Features float64 `json:"features"`
		Train    float64 `json:"train"`
	} `json:"seconds"`
}

// ErrBadInput is errkind.ErrBadInput, matched by Train errors caused by the user's
// input (label files, configuration values), as opposed to runtime failures.
//
// Deprecated: use errkind.ErrBadInput.
var ErrBadInput = errkind.ErrBadInput

func badInputf(format string, args ...any) error { return errkind.BadInput(format, args...) }

// IsBadInput reports whether err comes from the user's input.
//
// Deprecated: use errkind.IsBadInput.
func IsBadInput(err error) bool { return errkind.IsBadInput(err) }

// Train runs the whole pipeline: load the data, split it when needed, extract (and
// cache) backbone features, train the head, tune per-class thresholds on the validation
// set, evaluate on the test set, and write the bundle.
func Train(ctx context.Context, cfg TrainConfig) (*TrainResult, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	if cfg.Data == "" {
		return nil, badInputf("train: no data (label file) given")
	}
	if cfg.Backbone == "" {
		return nil, badInputf("train: no backbone given")
	}
	cfg.Train.Seed = cfg.Seed
	if err := cfg.Train.Validate(); err != nil {
		return nil, errkind.WrapBadInput(err)
	}

	// 1. Data and splits.
	trainDS, valDS, testDS, split, err := loadSplits(cfg)
	if err != nil {
		return nil, err
	}
	log.Info("train: data", "labels", len(trainDS.Labels), "train", len(trainDS.Samples), "val", size(valDS), "test", size(testDS), "split", split.How)

	// 2. Backbone and engine.
	bb, bbInfo, err := loadBackbone(ctx, cfg)
	if err != nil {
		return nil, err
	}
	feat, err := bb.FeatureModel()
	if err != nil {
		return nil, err
	}
	kind := cfg.Engine
	if kind == "" {
		kind = auto.KindAuto
	}
	eng, err := auto.Open(feat, auto.Options{Kind: kind, ORTLib: cfg.ORTLib, Threads: cfg.Threads, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("train: open %s engine: %w", kind, err)
	}
	defer eng.Close()
	if d := eng.OutputShape(); len(d) == 1 {
		bbInfo.FeatureDim = int(d[0])
	}

	// 3. Features (cached), one pass over every image.
	var cache *featcache.Cache
	if !cfg.NoCache {
		dir := cfg.CacheDir
		if dir == "" {
			if dir, err = featcache.DefaultDir(); err != nil {
				return nil, fmt.Errorf("train: feature cache: %w", err)
			}
		}
		if cache, err = featcache.Open(dir); err != nil {
			return nil, fmt.Errorf("train: feature cache: %w", err)
		}
	}
	parts := []*dataset.Dataset{trainDS, valDS, testDS}
	var paths []string
	for _, p := range parts {
		if p != nil {
			paths = append(paths, p.Paths()...)
		}
	}
	t0 := time.Now()
	fs, err := featcache.Extract(ctx, eng, bb, paths, featcache.ExtractOptions{Cache: cache, Progress: cfg.Progress})
	if err != nil {
		return nil, fmt.Errorf("train: features: %w", err)
	}
	res := &TrainResult{BadImages: fs.Bad, Engine: eng.Name(), CacheHits: fs.Hits, CacheMisses: fs.Misses,
		FeatureSeconds: time.Since(t0).Seconds()}
	if len(fs.Bad) > 0 {
		log.Warn("train: skipping unusable images", "count", len(fs.Bad), "first", fs.Bad[0].Path, "reason", fs.Bad[0].Reason)
	}
	type xy struct {
		x      []float32
		y      [][]int8
		images []string
	}
	var sets [3]xy
	off := 0
	for k, p := range parts {
		if p == nil {
			continue
		}
		for i, s := range p.Samples {
			if fs.OK[off+i] {
				sets[k].x = append(sets[k].x, fs.Row(off+i)...)
				sets[k].y = append(sets[k].y, s.Truth)
				sets[k].images = append(sets[k].images, s.Path)
			}
		}
		off += len(p.Samples)
	}
	split.Train, split.Val, split.Test = len(sets[0].y), len(sets[1].y), len(sets[2].y)
	res.Splits = split
	if split.Train == 0 {
		return nil, badInputf("train: no usable training image")
	}
	dim := fs.Dim

	// 4. Head.
	t1 := time.Now()
	var bar *progress.Bar
	cb := train.Callbacks{
		OnStep: func(step, total int) {
			if cfg.Progress == nil {
				return
			}
			if bar == nil {
				bar = progress.New(cfg.Progress, "train", int64(total), "steps")
			}
			bar.Add(1)
		},
		OnEpoch: func(e train.Epoch) {
			if bar != nil {
				bar.SetExtra(fmt.Sprintf("epoch %d loss %.4f val mAP %.4f", e.Epoch, e.TrainLoss, math.Max(e.ValMAP, e.ValMAPEMA)))
			}
		},
	}
	fit, err := train.Fit(ctx, cfg.Train, sets[0].x, sets[0].y, sets[1].x, sets[1].y, dim, cb)
	bar.Finish()
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	res.Fit = fit
	res.TrainSeconds = time.Since(t1).Seconds()

	// 5. Thresholds on validation, metrics on validation and test.
	labels := trainDS.Labels
	thresholds := make([]float64, len(labels))
	for j := range thresholds {
		thresholds[j] = metric.DefaultThreshold
	}
	b := &bundle.Bundle{Backbone: feat, BackboneInfo: bbInfo, Head: fit.Head, Labels: labels, Spec: bb.Spec}
	if split.Val > 0 {
		vs := model.ScoresFromFeatures(b, sets[1].x, split.Val)
		if th, err := metric.TuneThresholds(vs, sets[1].y, metric.TuneOptions{}); err != nil {
			log.Warn("train: threshold tuning failed; using 0.5", "err", err)
		} else {
			thresholds = th
		}
		if res.Val, err = metric.Evaluate(vs, sets[1].y, labels, metric.Options{Thresholds: thresholds}); err != nil {
			return nil, fmt.Errorf("train: validation metrics: %w", err)
		}
		res.Scores, res.Truth, res.TestPaths = vs, sets[1].y, sets[1].images
	}
	b.Thresholds = thresholds
	if split.Test > 0 {
		ts := model.ScoresFromFeatures(b, sets[2].x, split.Test)
		if res.Test, err = metric.Evaluate(ts, sets[2].y, labels, metric.Options{Thresholds: thresholds}); err != nil {
			return nil, fmt.Errorf("train: test metrics: %w", err)
		}
		res.Scores, res.Truth, res.TestPaths = ts, sets[2].y, sets[2].images
	}

	// 6. Bundle.
	rec := trainingRecord{Config: cfg, Train: fit.Config, Loss: fit.Loss, History: fit.History, BestEpoch: fit.BestEpoch,
		BestValMAP: fit.BestValMAP, UsedEMA: fit.UsedEMA, StoppedEarly: fit.StoppedEarly, Steps: fit.Steps,
		Splits: split, BadImages: len(fs.Bad), Engine: res.Engine}
	rec.Seconds.Features, rec.Seconds.Train = res.FeatureSeconds, res.TrainSeconds
	if b.Training, err = json.Marshal(rec); err != nil {
		return nil, fmt.Errorf("train: training record: %w", err)
	}
	mets := map[string]*metric.Result{}
	if res.Val != nil {
		mets["val"] = res.Val
	}
	if res.Test != nil {
		mets["test"] = res.Test
	}
	if b.Metrics, err = json.Marshal(mets); err != nil {
		return nil, fmt.Errorf("train: metrics record: %w", err)
	}
	if cfg.Out != "" {
		if err := b.Save(cfg.Out); err != nil {
			return nil, err
		}
		log.Info("train: wrote bundle", "path", cfg.Out, "id", b.ID)
	} else if err := b.Validate(); err != nil {
		return nil, err
	}
	res.Bundle = b
	return res, nil
}

func size(d *dataset.Dataset) int {
	if d == nil {
		return 0
	}
	return len(d.Samples)
}

// loadSplits loads Data (and Val/Test) and splits Data as the configuration says.
func loadSplits(cfg TrainConfig) (trainDS, valDS, testDS *dataset.Dataset, info SplitInfo, err error) {
	all, err := dataset.Load(cfg.Data, dataset.Options{ImagesDir: cfg.Images})
	if err != nil {
		return nil, nil, nil, info, err
	}
	if len(all.Samples) == 0 {
		return nil, nil, nil, info, badInputf("%s: no samples", cfg.Data)
	}
	other := func(path string) (*dataset.Dataset, error) {
		if path == "" {
			return nil, nil
		}
		return dataset.Load(path, dataset.Options{ImagesDir: cfg.Images, Labels: all.Labels})
	}
	if valDS, err = other(cfg.Val); err != nil {
		return nil, nil, nil, info, err
	}
	if testDS, err = other(cfg.Test); err != nil {
		return nil, nil, nil, info, err
	}
	split := cfg.Split
	for _, r := range split {
		if !(r >= 0) || math.IsInf(r, 0) {
			return nil, nil, nil, info, badInputf("split ratio %v: want a number >= 0", r)
		}
	}
	vf := cfg.ValFraction
	if vf == 0 {
		vf = DefaultValFraction
	}
	if !(vf > 0 && vf < 1) {
		return nil, nil, nil, info, badInputf("validation fraction %v: want 0 < f < 1", vf)
	}
	// Ratios of train/val/test over Data.
	var ratio [3]float64
	switch {
	case testDS != nil && valDS != nil:
		ratio = [3]float64{1, 0, 0}
	case testDS != nil:
		ratio = [3]float64{1 - vf, vf, 0}
	default:
		switch len(split) {
		case 0:
			split = []float64{0.8, 0.2}
			fallthrough
		case 2:
			tr := split[0] / (split[0] + split[1])
			ratio = [3]float64{tr, 0, 1 - tr}
			if valDS == nil {
				ratio = [3]float64{tr * (1 - vf), tr * vf, 1 - tr}
			}
		case 3:
			s := split[0] + split[1] + split[2]
			ratio = [3]float64{split[0] / s, split[1] / s, split[2] / s}
			if valDS != nil {
				return nil, nil, nil, info, badInputf("a three-way split and a validation file: give one or the other")
			}
		default:
			return nil, nil, nil, info, badInputf("split %v: want train,test or train,val,test ratios", split)
		}
	}
	if ratio[1] == 0 && ratio[2] == 0 {
		return all, valDS, testDS, SplitInfo{How: "given"}, nil
	}
	if !(ratio[0] > 0) {
		return nil, nil, nil, info, badInputf("split %v leaves no training data", split)
	}
	// IterativeStratify wants positive ratios: split over the non-zero parts only.
	var rs []float64
	var which []int
	for k, r := range ratio {
		if r > 0 {
			rs = append(rs, r)
			which = append(which, k)
		}
	}
	idx, err := dataset.IterativeStratify(all, rs, cfg.Seed)
	if err != nil {
		return nil, nil, nil, info, errkind.WrapBadInput(err)
	}
	out := [3]*dataset.Dataset{}
	for k, part := range which {
		out[part] = all.Subset(idx[k])
	}
	if out[1] == nil {
		out[1] = valDS
	}
	if out[2] == nil {
		out[2] = testDS
	}
	info = SplitInfo{How: "stratified", Ratio: ratio[:]}
	return out[0], out[1], out[2], info, nil
}

// loadBackbone loads (and optionally randomises) the backbone.
func loadBackbone(ctx context.Context, cfg TrainConfig) (*backbone.Backbone, bundle.BackboneInfo, error) {
	path, err := resolveBackbone(ctx, cfg.Backbone, cfg.Progress)
	if err != nil {
		return nil, bundle.BackboneInfo{}, err
	}
	bb, err := backbone.Load(path, backbone.Options{FeatureNode: cfg.FeatureNode})
	if err != nil {
		return nil, bundle.BackboneInfo{}, err
	}
	info := bundle.BackboneInfo{Name: cfg.Backbone, SHA256: bb.SHA256, FeatureNode: bb.FeatureNode, FeatureDim: bb.FeatureDim}
	if !cfg.RandomBackbone {
		return bb, info, nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, info, fmt.Errorf("backbone: %w", err)
	}
	rnd, st, err := backbone.RandomizeONNX(raw, cfg.Seed)
	if err != nil {
		return nil, info, fmt.Errorf("backbone %s: %w", path, err)
	}
	spec := bb.Spec
	rb, err := backbone.LoadBytes(rnd, filepath.Base(path)+" (random init)", backbone.Options{FeatureNode: bb.FeatureNode, Spec: &spec})
	if err != nil {
		return nil, info, err
	}
	slog.Info("train: backbone weights replaced by a random initialisation (transfer-gap baseline)", "weights", st.Weights, "params", st.Params, "seed", cfg.Seed)
	info.SHA256, info.Randomized, info.RandomSeed = rb.SHA256, true, cfg.Seed
	return rb, info, nil
}

// resolveBackbone returns the ONNX file for a path, a directory holding exactly one
// .onnx file, or a zoo name (downloaded and checksummed by backbone.Resolve).
func resolveBackbone(ctx context.Context, nameOrPath string, progress io.Writer) (string, error) {
	if st, err := os.Stat(nameOrPath); err == nil && st.IsDir() {
		m, _ := filepath.Glob(filepath.Join(nameOrPath, "*.onnx"))
		if len(m) != 1 {
			return "", badInputf("backbone %s: a directory with %d .onnx files; name the file", nameOrPath, len(m))
		}
		return m[0], nil
	}
	p, err := backbone.Resolve(nameOrPath, backbone.ZooOptions{Context: ctx, Progress: progress})
	if err != nil {
		return "", err // a name neither a file nor in the zoo wraps backbone.ErrUnknownModel
	}
	return p, nil
}
