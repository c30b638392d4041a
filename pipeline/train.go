package pipeline

import (
	"cmp"
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
	"github.com/multilabel/multilabel/calib"
	"github.com/multilabel/multilabel/dataset"
	"github.com/multilabel/multilabel/engine"
	"github.com/multilabel/multilabel/engine/auto"
	"github.com/multilabel/multilabel/errkind"
	"github.com/multilabel/multilabel/featcache"
	"github.com/multilabel/multilabel/head"
	"github.com/multilabel/multilabel/imageio"
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
	// DataOptions say how Data, Val and Test are read (format, list separator,
	// vocabulary, VOC image set, COCO images without annotations). Its ImagesDir is
	// ignored: Images is the one place for it. Val and Test are read in the
	// vocabulary of Data unless DataOptions.Labels fixes one.
	DataOptions dataset.Options `json:"data_options"`
	// Loaded, when set, is Data already loaded (tar shards in object storage listed and
	// read by range: stage.Stager.Dataset); Data then only names it in records.
	Loaded *dataset.Dataset `json:"-"`
	// Val and Test are optional separate label sources (same vocabulary as Data).
	Val  string `json:"val,omitempty"`
	Test string `json:"test,omitempty"`
	// ValImageSet and TestImageSet, when set, replace DataOptions.VOCImageSet for Val
	// and Test: the VOC protocol trains on one image set of a root and tests on
	// another ("trainval" → "test") of the same root.
	ValImageSet  string `json:"val_image_set,omitempty"`
	TestImageSet string `json:"test_image_set,omitempty"`
	// AllowOverlap lets an image be in more than one of train, validation and test
	// (the same resolved file, or the same bytes); by default that is bad input,
	// since held-out metrics would be measured on training images.
	AllowOverlap bool `json:"allow_overlap,omitempty"`
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
	// Features, when set, is a features output of `multilabel features` (or `features
	// merge`): the .npy with its names file and manifest, made with Backbone,
	// FeatureNode and Pool (checked: a mismatch is bad input naming both). The run then
	// reads the features from it instead of running the backbone, the training rows
	// streamed from a memory map (train.FitRows) rather than loaded, joined to Data's
	// samples by image name (see prepareFromFeatures). Images need not be present.
	// Fine-tuning and RandomBackbone need the images and refuse it.
	Features string `json:"features,omitempty"`
	// Strict, with Features, makes a labelled image without a features row an error
	// even when the extraction left images out (without Features the CLI applies
	// --strict to the images before the run).
	Strict bool `json:"strict,omitempty"`
	// FeatureNode overrides the automatic feature cut.
	FeatureNode string `json:"feature_node,omitempty"`
	// Pool is the global pooling of a spatial cut, done inside the backbone graph (so
	// the bundle, predict, serve and the exported ONNX all pool the same way):
	// backbone.PoolAvg (default, also ""), PoolMax or PoolAvgMax. Features pooled
	// differently are cached under different keys. PoolGeM (a learnt exponent) is
	// computed by the head instead: the run trains on the spatial maps and Train.Pool
	// is set to it.
	Pool string `json:"pool,omitempty"`
	// InputWidth and InputHeight, when set (both > 0), are the size the images are
	// resized to (whole image, no crop) before the backbone, instead of its
	// preprocessing's (224×224 centre crop for the zoo's SqueezeNet): see
	// backbone.Options.InputWidth. The bundle's spec records it, so predict, eval, serve
	// and export take images in the same way.
	InputWidth  int `json:"input_width,omitempty"`
	InputHeight int `json:"input_height,omitempty"`
	// RandomBackbone replaces the backbone's weights by a seeded random initialisation
	// (backbone.RandomizeONNX with Seed) — the transfer-gap baseline.
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
	// Decision is the rule that chooses the bundle's per-label thresholds on the
	// validation share, or on out-of-fold scores with CalibFolds (calib.ParseDecision): "f1" (the default, also for ""),
	// "precision:P" or "recall:R"; labels where the rule cannot be met keep their F1
	// threshold and are named in a warning.
	Decision string `json:"decision,omitempty"`
	// Calibrate fits a per-label calibration map on the validation logits, or on
	// out-of-fold logits with CalibFolds (calib), and
	// folds it into the head's last layer, so the bundle's scores are calibrated for
	// every consumer (predict, eval, serve, the exported ONNX); thresholds are then
	// chosen on the calibrated scores. Needs a validation share.
	Calibrate bool `json:"calibrate,omitempty"`
	// CalibrateMethod is the map Calibrate fits: "platt" (σ(a·z + b) per label, the
	// default for "": measured better on MIML, scripts/calib_study.go) or
	// "temperature" (σ(z/T) per label).
	CalibrateMethod string `json:"calibrate_method,omitempty"`
	// CalibFolds, when at least 2, fits the temperatures (Calibrate) and chooses the
	// decision rule's thresholds on out-of-fold logits over the training and
	// validation shares instead of the validation share alone: CalibFolds heads
	// (train.OutOfFold, the head configuration trained for the fitted head's best
	// epoch count) each score the images they did not see. Many more images than the
	// validation share, so the fit and the thresholds vary much less; costs CalibFolds
	// more head trainings on the cached features. Head training (the first stage)
	// only: a fine-tuned stage keeps fitting on the validation share. 0: off.
	CalibFolds int `json:"calib_folds,omitempty"`

	// Refit, once the number of epochs (and, with EMA, raw or averaged weights), the
	// thresholds and the decision rule have been chosen on the validation share, trains
	// the final model afresh on the training and validation images together for that
	// number of epochs (the learning-rate schedule spans those epochs) and keeps the
	// validation-chosen thresholds, decision rule and temperatures; the test share then
	// measures the refit model. With fine-tuning, the head is refit first and the
	// unfrozen blocks are then fine-tuned from it for the fine-tuning's chosen number of
	// epochs. Needs a validation share; the validation metrics reported are the
	// selection model's (the refit model has trained on those images).
	Refit bool `json:"refit,omitempty"`
	// Progress receives progress bars (feature extraction, training); nil is quiet.
	Progress io.Writer `json:"-"`
	// Logger receives informational lines; nil means slog.Default().
	Logger *slog.Logger `json:"-"`

	counters *counters // test hook (nil: none)
	// AttnEpochs is the attention head's epoch budget when --head auto trains it (0:
	// DefaultAttnEpochs): it costs far more per epoch than the vector heads and
	// converges in fewer epochs.
	AttnEpochs int `json:"attn_epochs,omitempty"`
	// FeatureViews are fixed variants of every training image (imageio.ViewFlip) whose
	// features are extracted and cached too, and trained on with the image's labels
	// (feature-cache augmentation; see views.go). The bundle is unchanged. Not with
	// Features or CalibFolds.
	FeatureViews []imageio.View `json:"feature_views,omitempty"`
	// vectorOnly keeps --head auto to the heads on pooled vectors (fine-tuning).
	vectorOnly bool
}

// SplitInfo says how the data was divided.
type SplitInfo struct {
	// How is "given" (separate files) or "stratified" (IterativeStratify).
	How   string    `json:"how"`
	Ratio []float64 `json:"ratio,omitempty"` // train/val/test ratios of a stratified split
	Train int       `json:"train"`
	Val   int       `json:"val"`
	Test  int       `json:"test"`
	// Chosen says in words how the parts were chosen (which file or share each is).
	Chosen string `json:"chosen,omitempty"`
	// Overlap counts images found in two parts (only with TrainConfig.AllowOverlap;
	// otherwise an overlap is an error).
	Overlap int `json:"overlap,omitempty"`
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
	// Tuning says how the thresholds were chosen (and which labels fell back to the
	// global threshold).
	Tuning ThresholdInfo
	// BadImages lists images that could not be used (skipped).
	BadImages []imageio.BadImage
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
	// Thresholds says how the bundle's thresholds were chosen, and which fallback was
	// used: tuned on the validation images (labels with too few validation positives
	// get the global threshold), or, with no validation image, the starting thresholds
	// kept untuned (also logged as a warning).
	Thresholds string
	// Calibration is the temperature fit of --calibrate (nil without it).
	Calibration *Calibration

	mapsOpt model.Options // the engine that draws the report's activation maps
	// Refit describes the refit on train+validation (nil without TrainConfig.Refit);
	// Bundle, Test and Scores are then the refit model's, Fit and Val the selection's.
	Refit *RefitInfo
	// Auto says which heads --head auto trained and which it kept, and why (nil
	// without --head auto).
	Auto *AutoChoice
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
	// Backend is the GoMLX backend that trained the head and BackendReason why it was
	// chosen (--backend auto: what was found).
	Backend       string       `json:"backend,omitempty"`
	BackendReason string       `json:"backend_reason,omitempty"`
	Calibration   *Calibration `json:"calibration,omitempty"`
	// Graph is the label graph the graph head was trained over (--head graph; the
	// bundle's head is then the equivalent linear head).
	Graph *head.LabelGraph `json:"graph,omitempty"`
	// Refit is set when the bundle's head was refit on train+validation.
	Refit *RefitInfo `json:"refit,omitempty"`
	// Auto is --head auto's choice (nil without it).
	Auto    *AutoChoice `json:"auto,omitempty"`
	Seconds struct {
		Features float64 `json:"features"`
		Train    float64 `json:"train"`
	} `json:"seconds"`
}

// Train runs the whole pipeline: load the data, split it when needed, extract (and
// cache) backbone features, train the head, tune per-class thresholds on the validation
// set, evaluate on the test set, and write the bundle.
func Train(ctx context.Context, cfg TrainConfig) (*TrainResult, error) {
	r, err := prepare(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer r.close()
	if err := r.fitHead(ctx); err != nil {
		return nil, err
	}
	if !r.cfg.Refit {
		if err := r.finalizeProbe(cfg.Out); err != nil {
			return nil, err
		}
		return r.probe, nil
	}
	if err := r.finalizeProbe(""); err != nil {
		return nil, err
	}
	if err := r.refitProbe(ctx, cfg.Out); err != nil {
		return nil, err
	}
	return r.probe, nil
}

// counters is a test hook: it counts the expensive preparations of a run.
type counters struct {
	backboneParses int // backbone.Load / LoadBytes calls
	engineOpens    int // inference engines opened
}

// samples are the usable images of one split with their features and labels.
type samples struct {
	x      []float32 // len(y) × feature dim
	y      [][]int8
	images []string
}

// run is one training run: what is prepared once (splits, backbone, engine, features)
// and the stages' results.
type run struct {
	cfg TrainConfig
	// calibration is the last stage's temperature fit (nil without --calibrate).
	calibration *Calibration
	log         *slog.Logger
	parts       [3]*dataset.Dataset // train, val, test as loaded (before dropping bad images)
	split       SplitInfo
	bb          *backbone.Backbone
	bbInfo      bundle.BackboneInfo
	feat        []byte // the backbone's feature graph
	eng         engine.Engine
	sets        [3]samples // usable train, val, test
	bad         []imageio.BadImage
	dim         int
	// spatial is [C,H,W] while the run's features are spatial maps (nil: vectors);
	// pooledDim is the width of the backbone's pooled vector.
	spatial   []int
	pooledDim int
	// probe is the head trained on frozen features (the first stage), probeRec its
	// training record.
	probe    *TrainResult
	probeRec trainingRecord
	// With TrainConfig.Features: the mapped features file and the training rows in it
	// (r.sets[0].x is then empty).
	mapped *featcache.Mapped
	rows   featureRows
	// oof holds the probe's out-of-fold logits over train + validation (CalibFolds),
	// used while the probe is finalized; nil otherwise.
	oof *outOfFold
}

// outOfFold is what CalibFolds computed: logits and truth of the training and
// validation images, each scored by a head that did not see it.
type outOfFold struct {
	logits [][]float32
	truth  [][]int8
	folds  int
}

// prepare validates cfg, loads and splits the data, loads the backbone once, opens one
// inference engine on it and extracts (and caches) the features of every image once.
func prepare(ctx context.Context, cfg TrainConfig) (*run, error) {
	r := &run{cfg: cfg, log: cfg.Logger}
	if r.log == nil {
		r.log = slog.Default()
	}
	if cfg.Data == "" {
		return nil, errkind.BadInput("no data (label file) given")
	}
	if cfg.Backbone == "" {
		return nil, errkind.BadInput("no backbone given")
	}
	if err := checkViews(cfg); err != nil {
		return nil, err
	}
	if cfg.Features != "" && cfg.RandomBackbone {
		return nil, errkind.BadInput("--features holds the features of the backbone as it is: it cannot train on a random backbone (drop --random-backbone or --features)")
	}
	if cfg.Features != "" && cfg.Refit {
		return nil, errkind.BadInput("--refit retrains on the training and validation features in memory; with --features the training rows stream from the mapped file (drop --refit or --features)")
	}
	r.cfg.Train.Seed = cfg.Seed
	if r.cfg.Train.ORTLib == "" {
		r.cfg.Train.ORTLib = cfg.ORTLib // one ONNX Runtime library for inference and training
	}
	if p, err := backbone.ParsePool(cfg.Pool); err != nil {
		return nil, errkind.WrapBadInput(err)
	} else if p == backbone.PoolGeM {
		if r.cfg.Train.Head == head.Attention {
			return nil, errkind.BadInput("--pool gem is a pooling of the linear and mlp heads; the attention head attends over the map's tokens instead (drop --pool or choose --head linear|mlp)")
		}
		r.cfg.Train.Pool = head.PoolGeM
	}
	// The map's shape is known once the backbone is loaded; validate with a stand-in.
	vc := r.cfg.Train
	if vc.Head == HeadAuto {
		vc.Head = head.Linear
	}
	if spatialHead(vc) {
		vc.Spatial = []int{1, 1, 1}
	}
	if err := vc.Validate(); err != nil {
		return nil, errkind.WrapBadInput(err)
	}
	if _, err := parseDecision(cfg.Decision); err != nil {
		return nil, err
	}
	if cfg.CalibFolds < 0 || cfg.CalibFolds == 1 {
		return nil, errkind.BadInput("calib-folds %d: want 0 (off) or at least 2", cfg.CalibFolds)
	}
	cfg = r.cfg

	// 1. Data and splits.
	trainDS, valDS, testDS, split, err := loadSplits(ctx, cfg)
	if err != nil {
		return nil, err
	}
	r.parts, r.split = [3]*dataset.Dataset{trainDS, valDS, testDS}, split
	r.split.Chosen = describeSplit(cfg, split)
	if err := checkOverlap(r.parts, cfg.AllowOverlap, r.log, &r.split); err != nil {
		return nil, err
	}
	r.log.Info("train: data", "labels", len(trainDS.Labels), "train", len(trainDS.Samples), "val", size(valDS), "test", size(testDS), "split", r.split.Chosen)

	// 2. Backbone and engine.
	if r.bb, r.bbInfo, err = loadBackbone(ctx, cfg, r.log); err != nil {
		return nil, err
	}
	useMaps, err := spatialPlan(r.cfg, r.bb)
	if err != nil {
		return nil, err
	}
	r.pooledDim = r.bb.FeatureDim
	if useMaps {
		c, h, w, _ := r.bb.SpatialShape()
		r.spatial = []int{c, h, w}
		r.feat, err = r.bb.SpatialModel()
		r.bbInfo.FeatureDim, r.bbInfo.Pool = c*h*w, ""
		if spatialHead(r.cfg.Train) || r.cfg.Train.Pool == head.PoolGeM {
			r.cfg.Train.Spatial = r.spatial
		}
	} else {
		r.feat, err = r.bb.FeatureModel()
	}
	if err != nil {
		return nil, err
	}
	if cfg.Features != "" {
		if err := r.prepareFromFeatures(); err != nil {
			r.close()
			return nil, err
		}
		return r, r.finishSets()
	}
	kind := cmp.Or(cfg.Engine, auto.KindAuto)
	if r.eng, err = r.openEngine(r.feat); err != nil {
		return nil, fmt.Errorf("open %s engine: %w", kind, err)
	}
	if d := r.eng.OutputShape(); len(d) == 1 && !useMaps {
		r.bbInfo.FeatureDim = int(d[0])
	}

	// 3. Features (cached), one pass over every image.
	var cache *featcache.Cache
	if !cfg.NoCache {
		dir := cfg.CacheDir
		if dir == "" {
			if dir, err = featcache.DefaultDir(); err != nil {
				r.close()
				return nil, fmt.Errorf("feature cache: %w", err)
			}
		}
		if cache, err = featcache.Open(dir); err != nil {
			r.close()
			return nil, fmt.Errorf("feature cache: %w", err)
		}
	}
	var paths []string
	for _, p := range r.parts {
		if p != nil {
			paths = append(paths, p.Paths()...)
		}
	}
	t0 := time.Now()
	extract := featcache.Extract
	if useMaps {
		extract = featcache.ExtractSpatial
	}
	fs, err := extract(ctx, r.eng, r.bb, paths, featcache.ExtractOptions{Cache: cache, Progress: cfg.Progress})
	if err != nil {
		r.close()
		return nil, fmt.Errorf("features: %w", err)
	}
	r.probe = &TrainResult{BadImages: fs.Bad, Engine: r.eng.Name(), CacheHits: fs.Hits, CacheMisses: fs.Misses,
		FeatureSeconds: time.Since(t0).Seconds(), mapsOpt: model.Options{Engine: kind, ORTLib: cfg.ORTLib, Threads: cfg.Threads}}
	r.bad = fs.Bad
	if len(fs.Bad) > 0 {
		r.log.Warn("train: skipping unusable images", "count", len(fs.Bad), "first", fs.Bad[0].Path, "reason", fs.Bad[0].Reason)
	}
	off := 0
	for k, p := range r.parts {
		if p == nil {
			continue
		}
		ok := 0
		for i := range p.Samples {
			if fs.OK[off+i] {
				ok++
			}
		}
		// Sized once: spatial maps are large (MIML: 346 KB an image), and growing by
		// append would copy them and over-allocate.
		r.sets[k].x = make([]float32, 0, ok*fs.Dim)
		for i, s := range p.Samples {
			if fs.OK[off+i] {
				r.sets[k].x = append(r.sets[k].x, fs.Row(off+i)...)
				r.sets[k].y = append(r.sets[k].y, s.Truth)
				r.sets[k].images = append(r.sets[k].images, s.Path)
			}
		}
		off += len(p.Samples)
	}
	r.dim = fs.Dim
	if err := r.finishSets(); err != nil {
		return nil, err
	}
	if err := r.addViews(ctx, cache, useMaps); err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

// finishSets records the sizes of the usable sets; no training image is bad input.
func (r *run) finishSets() error {
	r.split.Train, r.split.Val, r.split.Test = len(r.sets[0].y), len(r.sets[1].y), len(r.sets[2].y)
	r.probe.Splits = r.split
	if r.split.Train == 0 {
		r.close()
		return errkind.BadInput("no usable training image")
	}
	if r.cfg.Refit && r.split.Val == 0 {
		r.close()
		return errkind.BadInput("refit: no usable validation image to choose the epochs and thresholds on (give --val or a split with a validation share)")
	}
	return nil
}

// openEngine opens an inference engine as the configuration says.
func (r *run) openEngine(graph []byte) (engine.Engine, error) {
	if c := r.cfg.counters; c != nil {
		c.engineOpens++
	}
	return auto.Open(graph, r.engineOptions())
}

func (r *run) engineOptions() auto.Options {
	return auto.Options{Kind: cmp.Or(r.cfg.Engine, auto.KindAuto), ORTLib: r.cfg.ORTLib, Threads: r.cfg.Threads, Logger: r.log}
}

// close releases the engine and the mapped features file.
func (r *run) close() {
	if r.eng != nil {
		r.eng.Close()
		r.eng = nil
	}
	if r.mapped != nil {
		r.mapped.Close()
		r.mapped = nil
	}
}

// fitHead trains the head on the frozen features (the first stage); --head auto
// trains each candidate and keeps the best.
func (r *run) fitHead(ctx context.Context) error {
	t1 := time.Now()
	if r.cfg.Train.Head == HeadAuto {
		if err := r.fitAuto(ctx); err != nil {
			return err
		}
	} else {
		fit, err := r.fitOne(ctx, r.cfg.Train, r.sets[0].x, r.sets[1].x, r.dim, "train")
		if err != nil {
			return err // train.Fit's errors say "train: ..." already
		}
		r.probe.Fit = fit
	}
	if err := r.outOfFold(ctx, r.probe.Fit); err != nil {
		return err
	}
	r.probe.TrainSeconds = time.Since(t1).Seconds()
	return nil
}

// headCallbacks returns head-training callbacks that draw a progress bar named name
// (when TrainConfig.Progress is set), and the function that finishes the bar.
func (r *run) headCallbacks(name string) (train.Callbacks, func()) {
	cfg := r.cfg
	var bar *progress.Bar
	cb := train.Callbacks{
		OnStep: func(step, total int) {
			if cfg.Progress == nil {
				return
			}
			if bar == nil {
				bar = progress.New(cfg.Progress, name, int64(total), "steps")
			}
			bar.Add(1)
		},
		OnEpoch: func(e train.Epoch) {
			if bar != nil {
				bar.SetExtra(fmt.Sprintf("epoch %d loss %.4f val mAP %.4f", e.Epoch, e.TrainLoss, math.Max(e.ValMAP, e.ValMAPEMA)))
			}
		},
	}
	return cb, func() { bar.Finish() }
}

// outOfFold computes r.oof when CalibFolds asks for it.
func (r *run) outOfFold(ctx context.Context, fit *train.Result) error {
	k := r.cfg.CalibFolds
	if k == 0 {
		return nil
	}
	if r.rows.m != nil {
		// The training rows stream from the mapped features file (--features): the
		// out-of-fold heads would need them in memory, so the fit stays on validation.
		r.log.Warn("train: --features streams the training rows, so --calib-folds is not used; temperatures and thresholds are fitted on the validation share", "calib_folds", k)
		return nil
	}
	if len(r.sets[1].y) == 0 {
		// Without a validation share nothing is calibrated or tuned (finalize keeps the
		// starting thresholds), so the out-of-fold heads would go unused.
		r.log.Warn("train: no validation share, so --calib-folds has nothing to fit", "calib_folds", k)
		return nil
	}
	tc := fit.Config
	if fit.BestEpoch > 0 {
		tc.Epochs = fit.BestEpoch
	}
	tc.Checkpoint, tc.Resume, tc.Init = "", false, nil
	x := append(append([]float32{}, r.sets[0].x...), r.sets[1].x...)
	y := append(append([][]int8{}, r.sets[0].y...), r.sets[1].y...)
	if len(y) < 2*k {
		return errkind.BadInput("calib-folds %d: only %d training and validation images (want at least %d)", k, len(y), 2*k)
	}
	t0 := time.Now()
	logits, err := train.OutOfFold(ctx, tc, x, y, r.dim, k)
	if err != nil {
		return fmt.Errorf("calib-folds: %w", err)
	}
	r.oof = &outOfFold{logits: logits, truth: y, folds: k}
	r.log.Info("train: out-of-fold logits for calibration and thresholds", "folds", k, "images", len(y),
		"epochs", tc.Epochs, "seconds", fmt.Sprintf("%.1f", time.Since(t0).Seconds()))
	return nil
}

// finalizeProbe finalizes the first stage: the bundle of the frozen backbone and the
// fitted head, with thresholds tuned on validation, metrics and the training record.
func (r *run) finalizeProbe(out string) error {
	fit, res := r.probe.Fit, r.probe
	labels := r.parts[0].Labels
	b := &bundle.Bundle{Backbone: r.feat, BackboneInfo: r.bbInfo, Head: fit.Head, Labels: labels, Spec: r.bb.Spec}
	cal, err := r.calibrateProbe(b)
	if err != nil {
		return err
	}
	thresholds := make([]float64, len(labels))
	for j := range thresholds {
		thresholds[j] = metric.DefaultThreshold
	}
	score := func(k int) [][]float32 { return model.ScoresFromFeatures(b, r.sets[k].x, len(r.sets[k].y)) }
	rec := trainingRecord{Config: r.cfg, Train: fit.Config, Loss: fit.Loss, History: fit.History, BestEpoch: fit.BestEpoch,
		BestValMAP: fit.BestValMAP, UsedEMA: fit.UsedEMA, StoppedEarly: fit.StoppedEarly, Steps: fit.Steps,
		Splits: r.split, BadImages: len(r.bad), Engine: res.Engine, Backend: fit.Backend, BackendReason: fit.BackendReason,
		Calibration: cal, Graph: recordedGraph(fit.Graph), Auto: res.Auto}
	rec.Seconds.Features, rec.Seconds.Train = res.FeatureSeconds, res.TrainSeconds
	r.probeRec = rec
	fin, err := r.finalize("train", b, thresholds, score, rec, nil, out)
	r.oof = nil // the out-of-fold logits are the probe's; a fine-tuned stage has its own head
	if err != nil {
		return err
	}
	res.Bundle, res.Val, res.Test, res.Tuning = b, fin.val, fin.test, fin.tuning
	res.Scores, res.Truth, res.TestPaths = fin.scores, fin.truth, fin.paths
	res.Thresholds = fin.thresholds
	res.Calibration = cal
	return nil
}

// maxRecordedAdj is the largest label count whose label graph the training record
// keeps whole; above it the record keeps τ, p and the counts (the matrix follows from
// the training labels), so that training.json stays small.
const maxRecordedAdj = 256

// recordedGraph is the label graph as the training record keeps it.
func recordedGraph(g *head.LabelGraph) *head.LabelGraph {
	if g == nil || g.Labels <= maxRecordedAdj {
		return g
	}
	c := *g
	c.Adj = nil
	return &c
}

// fewPositives counts the labels with fewer than metric.DefaultMinPositives positive
// validation images (TuneThresholds gives those the global threshold).
func fewPositives(truth [][]int8) int {
	if len(truth) == 0 {
		return 0
	}
	pos := make([]int, len(truth[0]))
	for _, row := range truth {
		for j, t := range row {
			if t == dataset.Positive && j < len(pos) {
				pos[j]++
			}
		}
	}
	few := 0
	for _, p := range pos {
		if p < metric.DefaultMinPositives {
			few++
		}
	}
	return few
}

// thresholdNote is TrainResult.Thresholds for thresholds tuned on n validation images.
func thresholdNote(truth [][]int8, n int, on string) string {
	note := fmt.Sprintf("tuned on %d %s images", n, on)
	if few := fewPositives(truth); few > 0 {
		note += fmt.Sprintf("; %d labels with fewer than %d %s positives got the global threshold", few, metric.DefaultMinPositives, on)
	}
	return note
}

// finalized is what finalize computed.
type finalized struct {
	val, test *metric.Result
	tuning    ThresholdInfo
	// scores, truth and paths are the test split's (the validation split's without
	// a test split), for reports.
	scores [][]float32
	truth  [][]int8
	paths  []string
	// thresholds says how the thresholds were chosen (TrainResult.Thresholds).
	thresholds string
}

// finalize is the last stage of every run: it tunes b's per-label thresholds on the
// validation scores (keeping start when tuning fails or there is no validation set),
// computes the validation and test metrics at those thresholds, records the training
// record and the metrics (with extra ones) in b, and writes b to out when set (else
// validates it). score(k) returns the scores of r.sets[k] (1 val, 2 test) under b's
// model. stage names the stage in log lines.
func (r *run) finalize(stage string, b *bundle.Bundle, start []float64, score func(k int) [][]float32, training any, extra map[string]*metric.Result, out string) (*finalized, error) {
	fin := &finalized{tuning: ThresholdInfo{Method: "default"}}
	b.Thresholds = start
	var err error
	fin.thresholds = "not tuned: no validation images; the starting thresholds were kept"
	if r.split.Val == 0 {
		r.log.Warn(stage+": no validation images, so thresholds are not tuned: the starting thresholds are kept (give --val or a larger split)", "labels", len(start))
	}
	if r.split.Val > 0 {
		vs, vy := score(1), r.sets[1].y
		ts, ty, tn := vs, vy, "validation"
		if r.oof != nil {
			sa, sb := r.calibration.affine()
			ts, ty, tn = calib.ApplyAffine(r.oof.logits, sa, sb), r.oof.truth, fmt.Sprintf("out-of-fold (%d folds)", r.oof.folds)
		}
		if th, dec, err := r.tuneThresholds(stage, ts, ty, b.Labels); err != nil {
			r.log.Warn(stage+": threshold tuning failed; keeping the starting thresholds", "err", err)
			fin.thresholds = "not tuned: tuning failed (" + err.Error() + "); the starting thresholds were kept"
			fin.tuning = ThresholdInfo{Method: "kept", ValImages: len(vy)}
		} else {
			b.Thresholds = th
			if dec != nil && r.calibration != nil {
				r.calibration.record(dec)
			}
			b.Decision = dec
			fin.thresholds = thresholdNote(ty, len(ty), tn)
			g, _, _ := metric.TuneGlobal(ts, ty)
			fin.tuning = tuneInfo(stage, ty, b.Labels, g, r.log)
		}
		if fin.val, err = metric.Evaluate(vs, vy, b.Labels, metric.Options{Thresholds: b.Thresholds}); err != nil {
			return nil, fmt.Errorf("validation metrics: %w", err)
		}
		fin.scores, fin.truth, fin.paths = vs, vy, r.sets[1].images
	}
	if r.split.Test > 0 {
		ts, ty := score(2), r.sets[2].y
		if fin.test, err = metric.Evaluate(ts, ty, b.Labels, metric.Options{Thresholds: b.Thresholds}); err != nil {
			return nil, fmt.Errorf("test metrics: %w", err)
		}
		fin.scores, fin.truth, fin.paths = ts, ty, r.sets[2].images
	}
	if err := r.recordAndSave(stage, b, training, extra, fin.val, fin.test, out); err != nil {
		return nil, err
	}
	return fin, nil
}

// recordAndSave stores the training record and the metrics (extra, then val and test
// when set) in b, and writes b to out when set (else validates it).
func (r *run) recordAndSave(stage string, b *bundle.Bundle, training any, extra map[string]*metric.Result, val, test *metric.Result, out string) error {
	var err error
	if b.Training, err = json.Marshal(training); err != nil {
		return fmt.Errorf("training record: %w", err)
	}
	mets := map[string]*metric.Result{}
	for k, m := range extra {
		if m != nil {
			mets[k] = m
		}
	}
	if val != nil {
		mets["val"] = val
	}
	if test != nil {
		mets["test"] = test
	}
	if b.Metrics, err = json.Marshal(mets); err != nil {
		return fmt.Errorf("metrics record: %w", err)
	}
	if out != "" {
		if err := b.Save(out); err != nil {
			return err
		}
		r.log.Debug(stage+": wrote bundle", "path", out, "id", b.ID)
		return nil
	}
	return b.Validate()
}

func size(d *dataset.Dataset) int {
	if d == nil {
		return 0
	}
	return len(d.Samples)
}

// loadSplits loads Data (and Val/Test) and splits Data as the configuration says.
func loadSplits(ctx context.Context, cfg TrainConfig) (trainDS, valDS, testDS *dataset.Dataset, info SplitInfo, err error) {
	opt := cfg.DataOptions
	opt.ImagesDir = cfg.Images
	all := cfg.Loaded
	if all == nil {
		var err error
		if all, err = dataset.LoadContext(ctx, cfg.Data, opt); err != nil {
			return nil, nil, nil, info, err
		}
	}
	if len(all.Samples) == 0 {
		return nil, nil, nil, info, errkind.BadInput("%s: no samples", cfg.Data)
	}
	other := func(path string) (*dataset.Dataset, error) {
		if path == "" {
			return nil, nil
		}
		o := opt
		o.Labels = all.Labels
		return dataset.LoadContext(ctx, path, o)
	}
	otherSet := func(path, set string) (*dataset.Dataset, error) {
		if set == "" {
			return other(path)
		}
		if path == "" {
			return nil, errkind.BadInput("image set %q given without its label source", set)
		}
		o := opt
		o.Labels, o.VOCImageSet = all.Labels, set
		return dataset.LoadContext(ctx, path, o)
	}
	if valDS, err = otherSet(cfg.Val, cfg.ValImageSet); err != nil {
		return nil, nil, nil, info, err
	}
	if testDS, err = otherSet(cfg.Test, cfg.TestImageSet); err != nil {
		return nil, nil, nil, info, err
	}
	split := cfg.Split
	for _, r := range split {
		if !(r >= 0) || math.IsInf(r, 0) {
			return nil, nil, nil, info, errkind.BadInput("split ratio %v: want a number >= 0", r)
		}
	}
	vf := cfg.ValFraction
	if vf == 0 {
		vf = DefaultValFraction
	}
	if !(vf > 0 && vf < 1) {
		return nil, nil, nil, info, errkind.BadInput("validation fraction %v: want 0 < f < 1", vf)
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
				return nil, nil, nil, info, errkind.BadInput("a three-way split and a validation file: give one or the other")
			}
		default:
			return nil, nil, nil, info, errkind.BadInput("split %v: want train,test or train,val,test ratios", split)
		}
	}
	if ratio[1] == 0 && ratio[2] == 0 {
		return all, valDS, testDS, SplitInfo{How: "given"}, nil
	}
	if !(ratio[0] > 0) {
		return nil, nil, nil, info, errkind.BadInput("split %v leaves no training data", split)
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
func loadBackbone(ctx context.Context, cfg TrainConfig, log *slog.Logger) (*backbone.Backbone, bundle.BackboneInfo, error) {
	path, err := resolveBackbone(ctx, cfg.Backbone, cfg.Progress)
	if err != nil {
		return nil, bundle.BackboneInfo{}, err
	}
	if c := cfg.counters; c != nil {
		c.backboneParses++
	}
	pool := cfg.Pool
	if p, err := backbone.ParsePool(pool); err == nil && p == backbone.PoolGeM {
		pool = backbone.PoolAvg // the head pools the spatial map; the graph's own pooling is unused
	}
	bb, err := backbone.Load(path, backbone.Options{FeatureNode: cfg.FeatureNode, Pool: pool, InputWidth: cfg.InputWidth, InputHeight: cfg.InputHeight})
	if err != nil {
		return nil, bundle.BackboneInfo{}, err
	}
	info := bundle.BackboneInfo{Name: cfg.Backbone, SHA256: bb.SHA256, FeatureNode: bb.FeatureNode, FeatureDim: bb.FeatureDim, Pool: bb.Pool}
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
	if c := cfg.counters; c != nil {
		c.backboneParses++
	}
	rb, err := backbone.LoadBytes(rnd, filepath.Base(path)+" (random init)", backbone.Options{FeatureNode: bb.FeatureNode, Spec: &spec, Pool: pool})
	if err != nil {
		return nil, info, err
	}
	log.Info("train: backbone weights replaced by a random initialisation (transfer-gap baseline)", "weights", st.Weights, "params", st.Params, "seed", cfg.Seed)
	info.SHA256, info.Randomized, info.RandomSeed = rb.SHA256, true, cfg.Seed
	return rb, info, nil
}

// resolveBackbone returns the ONNX file for a path, a directory holding exactly one
// .onnx file, or a zoo name (downloaded and checksummed); see backbone.Resolve.
func resolveBackbone(ctx context.Context, nameOrPath string, progress io.Writer) (string, error) {
	return backbone.Resolve(nameOrPath, backbone.ZooOptions{Context: ctx, Progress: progress})
}
