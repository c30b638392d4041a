package demo

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/multilabel/multilabel/backbone"
	"github.com/multilabel/multilabel/bundle"
	"github.com/multilabel/multilabel/dataset"
	"github.com/multilabel/multilabel/engine/auto"
	"github.com/multilabel/multilabel/featcache"
	"github.com/multilabel/multilabel/head"
	"github.com/multilabel/multilabel/imageio"
	"github.com/multilabel/multilabel/internal/fsutil"
	"github.com/multilabel/multilabel/internal/progress"
	"github.com/multilabel/multilabel/internal/synth"
	"github.com/multilabel/multilabel/internal/synth/cnn"
	"github.com/multilabel/multilabel/loss"
	"github.com/multilabel/multilabel/metric"
	"github.com/multilabel/multilabel/report"
	"github.com/multilabel/multilabel/train"
)

// embeddedBackbone is the synth CNN pretrained with DefaultPretrain(), regenerated
// byte for byte by `go run ./internal/demo/cmd/pretrain`.
//
//go:generate go run ./cmd/pretrain -out backbone.onnx
//go:embed backbone.onnx
var embeddedBackbone []byte

// EmbeddedBackbone returns the ONNX bytes of the embedded pretrained backbone.
func EmbeddedBackbone() []byte { return embeddedBackbone }

// Methods and losses compared by the demo, in table order.
var (
	Methods = []string{"scratch", "linear-probe", "fine-tune"}
	Losses  = []string{loss.BCE, loss.ASL}
)

// GraphProbe is the synth demo's extra method: the graph head (train's "graph": label
// classifiers from graph convolutions over the training labels' co-occurrence) on the
// linear probe's features, one row per loss after the linear-probe rows.
const GraphProbe = "graph-probe"

// GraphNoEdges names the ablation of GraphProbe: the same head and training with the
// re-weighting p at 1e-6, so that each label's classifier comes from its own node alone.
const GraphNoEdges = "graph-noedges"

// noEdgesP is GraphNoEdges' re-weighting p.
const noEdgesP = 1e-6

// TiedLabels are the synth world's labels tied to others by a co-occurrence rule
// (synth.TargetRules); the summary compares the graph head with the linear probe on them.
var TiedLabels = []string{"tree", "moon", "sea", "boat"}

// Config sets a demo run. Zero fields take the values of Quick() or Default().
type Config struct {
	// TrainImages and TestImages are the sizes of the target train and test sets.
	TrainImages, TestImages int
	// ScratchEpochs trains the randomly initialised CNN, FineTuneEpochs the last stage
	// of the pretrained one, ProbeEpochs the linear probe.
	ScratchEpochs, FineTuneEpochs, ProbeEpochs int
	// Batch is the mini-batch size of the CNN trainings.
	Batch int
	// LR is the peak learning rate of the scratch training (the probe uses 3e-3);
	// FineTuneLR that of the fine-tuning (0: LR/3).
	LR, FineTuneLR float64
	// Seed seeds the world, the initialisations and the shuffling.
	Seed uint64
	// RareLabels is how many of the rarest training labels the table details.
	RareLabels int
	// Backbone is an ONNX backbone written by ExportONNX (nil: the embedded one).
	Backbone []byte
	// Pretrain pretrains a backbone afresh with DefaultPretrain() instead.
	Pretrain bool
	// OutDir receives the generated data set, the report, the bundle and the backbone
	// ("" writes nothing).
	OutDir string
	// Engine selects the feature-extraction engine: "auto", "ort" or "go".
	Engine string
	// Log receives progress lines (nil: slog.Default()); Progress, when set, shows
	// progress bars.
	Log      *slog.Logger
	Progress io.Writer
}

// Quick is the configuration of `multilabel demo --quick` (under a minute on two cores).
func Quick() Config {
	return Config{TrainImages: 256, TestImages: 320, ScratchEpochs: 6, FineTuneEpochs: 6, ProbeEpochs: 60,
		Batch: 32, LR: 3e-3, Seed: 1, RareLabels: 4, Engine: "auto"}
}

// Default is the configuration of `multilabel demo` (a few minutes on two cores).
func Default() Config {
	return Config{TrainImages: 400, TestImages: 800, ScratchEpochs: 15, FineTuneEpochs: 15, ProbeEpochs: 100,
		Batch: 32, LR: 3e-3, Seed: 1, RareLabels: 4, Engine: "auto"}
}

// Row is one trained model's test figures.
type Row struct {
	Method string  `json:"method"`
	Loss   string  `json:"loss"`
	MAP    float64 `json:"mAP"`
	CF1    float64 `json:"CF1"`
	OF1    float64 `json:"OF1"`
	// RareAP is the mean AP over Result.RareLabels; RarePerClass the APs themselves.
	RareAP       float64   `json:"rare_AP"`
	RarePerClass []float64 `json:"rare_per_class_AP"`
	PerClassAP   []float64 `json:"per_class_AP"`
	Seconds      float64   `json:"seconds"`
	// Curve is the training loss per epoch.
	Curve []float64 `json:"loss_curve"`

	scores [][]float32
	// truth and paths are the test set of a real-data row (synth rows use Result.test).
	truth      [][]int8
	paths      []string
	thresholds []float64
}

// Result is a demo run's outcome.
type Result struct {
	Labels     []string `json:"labels"`
	RareLabels []string `json:"rare_labels"`
	rareIdx    []int
	// TrainCounts are the positives per label in the training set; ImbalanceRatio the
	// most frequent label's count over the rarest's.
	TrainCounts    []int   `json:"train_counts"`
	ImbalanceRatio float64 `json:"imbalance_ratio"`
	TrainImages    int     `json:"train_images"`
	TestImages     int     `json:"test_images"`
	Rows           []Row   `json:"rows"`
	// Ablation holds, per loss, the graph head trained on an empty label graph
	// (GraphNoEdges): what GraphProbe gains over it is what label co-occurrence gives.
	// Not in Rows (nor the table); the summary states the difference.
	Ablation []Row `json:"ablation_rows,omitempty"`
	// BackboneSource says where the backbone came from; SourceAccuracy is its source
	// task accuracy when it was pretrained in this run.
	BackboneSource string  `json:"backbone_source"`
	SourceAccuracy float64 `json:"source_accuracy,omitempty"`
	Engine         string  `json:"engine"`
	// Files written (empty when OutDir was "").
	ReportPath string  `json:"report,omitempty"`
	BundlePath string  `json:"bundle,omitempty"`
	DataDir    string  `json:"data,omitempty"`
	Seconds    float64 `json:"seconds"`

	test []synth.Sample
	// maps is the report's activation-map gallery (drawn in Run, which has the engine).
	maps *report.Section
	// real is set by RunReal.
	real bool
}

// Row returns the row of a method and loss, or nil.
func (r *Result) Row(method, lossName string) *Row {
	for i := range r.Rows {
		if r.Rows[i].Method == method && r.Rows[i].Loss == lossName {
			return &r.Rows[i]
		}
	}
	return nil
}

func (c Config) withDefaults() Config {
	d := Default()
	if c.TrainImages <= 0 {
		c.TrainImages = d.TrainImages
	}
	if c.TestImages <= 0 {
		c.TestImages = d.TestImages
	}
	if c.ScratchEpochs <= 0 {
		c.ScratchEpochs = d.ScratchEpochs
	}
	if c.FineTuneEpochs <= 0 {
		c.FineTuneEpochs = d.FineTuneEpochs
	}
	if c.ProbeEpochs <= 0 {
		c.ProbeEpochs = d.ProbeEpochs
	}
	if c.Batch <= 0 {
		c.Batch = d.Batch
	}
	if c.LR <= 0 {
		c.LR = d.LR
	}
	if c.FineTuneLR <= 0 {
		c.FineTuneLR = c.LR / 3
	}
	if c.RareLabels <= 0 {
		c.RareLabels = d.RareLabels
	}
	if c.Engine == "" {
		c.Engine = "auto"
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return c
}

// SpecFor is the preprocessing of a synth backbone of the given input size.
func SpecFor(size int) imageio.Spec {
	return imageio.Spec{Width: size, Height: size, Resize: imageio.ResizeSquish, ChannelOrder: "RGB", Scale: 1,
		Mean: [3]float32{synth.Mean, synth.Mean, synth.Mean}, Std: [3]float32{synth.Std, synth.Std, synth.Std},
		Layout: "NCHW"}
}

// Run generates the target task, obtains the backbone and trains, evaluates and
// reports the six models. The table is a deterministic function of cfg (times aside).
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg = cfg.withDefaults()
	log := cfg.Log
	start := time.Now()
	res := &Result{Labels: synth.TargetLabels(), TrainImages: cfg.TrainImages, TestImages: cfg.TestImages}

	// 1. The backbone.
	onnxBytes := cfg.Backbone
	res.BackboneSource = "given"
	switch {
	case cfg.Pretrain:
		pc := DefaultPretrain()
		pc.Log = log
		log.Info("demo: pretraining the backbone on the synth source task", "images_per_epoch", pc.Images, "epochs", pc.Epochs)
		pr, err := Pretrain(ctx, pc)
		if err != nil {
			return nil, err
		}
		onnxBytes, res.BackboneSource, res.SourceAccuracy = pr.ONNX, "pretrained in this run", pr.Accuracy
	case onnxBytes == nil:
		onnxBytes, res.BackboneSource = embeddedBackbone, "embedded (internal/demo/backbone.onnx)"
	}
	net, err := cnn.ImportONNX(onnxBytes)
	if err != nil {
		return nil, fmt.Errorf("demo: backbone: %w", err)
	}
	arch := net.Arch
	world := synth.Config{Size: arch.Size}

	// 2. The target task.
	trainSet := synth.Target(world, cfg.TrainImages, cfg.Seed*7919+1)
	testSet := synth.Target(world, cfg.TestImages, cfg.Seed*7919+2)
	res.test = testSet
	truthOf := func(s []synth.Sample) [][]int8 {
		t := make([][]int8, len(s))
		for i := range s {
			t[i] = s[i].Truth
		}
		return t
	}
	trY, teY := truthOf(trainSet), truthOf(testSet)
	res.TrainCounts, res.ImbalanceRatio = synth.Stats(trainSet)
	res.rareIdx = rarest(res.TrainCounts, cfg.RareLabels)
	for _, j := range res.rareIdx {
		res.RareLabels = append(res.RareLabels, res.Labels[j])
	}
	log.Info("demo: target task", "train", len(trainSet), "test", len(testSet), "labels", len(res.Labels),
		"imbalance_ratio", fmt.Sprintf("%.1f", res.ImbalanceRatio), "rarest", strings.Join(res.RareLabels, ","))
	trX, teX := synth.Tensors(trainSet), synth.Tensors(testSet)

	// Files: the data set as PNG + CSV, the backbone with its preprocessing sidecar.
	var bbPath string
	trainPaths, testPaths := make([]string, len(trainSet)), make([]string, len(testSet))
	tmpDir := ""
	dataRoot := ""
	if cfg.OutDir != "" {
		dataRoot = filepath.Join(cfg.OutDir, "data")
		res.DataDir = dataRoot
	} else {
		tmpDir, err = os.MkdirTemp("", "multilabel-demo-")
		if err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
		defer os.RemoveAll(tmpDir)
		dataRoot = tmpDir
	}
	if err := writeSplit(dataRoot, "train", trainSet, res.Labels, trainPaths); err != nil {
		return nil, err
	}
	if err := writeSplit(dataRoot, "test", testSet, res.Labels, testPaths); err != nil {
		return nil, err
	}
	spec := SpecFor(arch.Size)
	if cfg.OutDir != "" {
		bbPath = filepath.Join(cfg.OutDir, "backbone.onnx")
		if err := writeFile(bbPath, onnxBytes); err != nil {
			return nil, err
		}
		sj, _ := json.MarshalIndent(spec, "", "  ")
		if err := writeFile(filepath.Join(cfg.OutDir, "backbone.json"), sj); err != nil {
			return nil, err
		}
	}

	ablation := false // addRow appends to res.Ablation instead of res.Rows
	addRow := func(method, lossName string, scores []float32, curve []float64, t0 time.Time) error {
		rows := make([][]float32, len(testSet))
		L := len(res.Labels)
		for i := range rows {
			rows[i] = scores[i*L : (i+1)*L]
		}
		ev, err := metric.Evaluate(rows, teY, res.Labels, metric.Options{TopK: -1})
		if err != nil {
			return fmt.Errorf("demo: evaluate %s/%s: %w", method, lossName, err)
		}
		r := Row{Method: method, Loss: lossName, MAP: ev.MAP, CF1: ev.CF1, OF1: ev.OF1, Curve: curve,
			Seconds: time.Since(t0).Seconds(), scores: rows}
		for _, c := range ev.PerClass {
			ap := c.AP
			if !c.HasAP {
				ap = math.NaN() // no positive in the test set
			}
			r.PerClassAP = append(r.PerClassAP, ap)
		}
		r.RarePerClass, r.RareAP = res.rareAPs(r.PerClassAP)
		if ablation {
			res.Ablation = append(res.Ablation, r)
			return nil
		}
		res.Rows = append(res.Rows, r)
		log.Info("demo: trained", "method", method, "loss", lossName, "mAP", fmt.Sprintf("%.3f", r.MAP),
			"rare_AP", fmt.Sprintf("%.3f", r.RareAP), "seconds", fmt.Sprintf("%.1f", r.Seconds))
		return nil
	}
	L := len(res.Labels)
	cnnCfg := func(lossName string, from, epochs int, curve *[]float64, bar *progress.Bar) cnn.TrainConfig {
		return cnn.TrainConfig{From: from, Epochs: epochs, Batch: cfg.Batch, LR: cfg.LR, WeightDecay: 1e-4,
			Seed: cfg.Seed, Loss: loss.Defaults(lossName),
			OnEpoch: func(_ int, l float64) { *curve = append(*curve, l); bar.Add(1) }}
	}

	// 3a. From scratch: the same CNN, randomly initialised, trained end to end.
	for _, ln := range Losses {
		t0 := time.Now()
		var curve []float64
		bar := newBar(cfg.Progress, "scratch/"+ln, cfg.ScratchEpochs, "epochs")
		sn, err := cnn.New(arch, cfg.Seed+100)
		if err != nil {
			return nil, err
		}
		h := cnn.NewHead(L, arch.FeatureDim(), cfg.Seed+100)
		if err := sn.TrainMultiLabel(ctx, trX, trY, h, cnnCfg(ln, cnn.StageStem, cfg.ScratchEpochs, &curve, bar)); err != nil {
			return nil, fmt.Errorf("demo: scratch/%s: %w", ln, err)
		}
		scores, err := sn.PredictMultiLabel(teX, len(testSet), cnn.StageStem, h, 64)
		bar.Finish()
		if err != nil {
			return nil, err
		}
		if err := addRow("scratch", ln, scores, curve, t0); err != nil {
			return nil, err
		}
	}

	// 3b. Linear probe: features through the path every real backbone takes
	// (backbone → engine → featcache), then a linear head trained by package train.
	t0 := time.Now()
	// The cut is the last block's map (SpatialCut, 32×6×6), average-pooled inside the
	// graph: the same vector as the backbone's own pooled output, so the same probe, but
	// the bundle keeps the map and can draw its class activation maps.
	bb, err := backbone.LoadBytes(onnxBytes, "synth backbone", backbone.Options{Spec: &spec, FeatureNode: SpatialCut, Pool: backbone.PoolAvg})
	if err != nil {
		log.Warn("demo: no spatial cut in this backbone, probing its pooled output (no activation maps)", "cut", SpatialCut, "err", err)
		bb, err = backbone.LoadBytes(onnxBytes, "synth backbone", backbone.Options{Spec: &spec})
	}
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	featModel, err := bb.FeatureModel()
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	eng, err := auto.Open(featModel, auto.Options{Kind: cfg.Engine, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("demo: engine: %w", err)
	}
	res.Engine = eng.Name()
	extract := func(paths []string) ([]float32, error) {
		f, err := featcache.Extract(ctx, eng, bb, paths, featcache.ExtractOptions{Strict: true, Progress: cfg.Progress})
		if err != nil {
			return nil, err
		}
		return f.Data, nil
	}
	probeHeads := map[string]*head.Params{}
	trF, err := extract(trainPaths)
	if err == nil {
		var teF []float32
		teF, err = extract(testPaths)
		if err == nil {
			err = eng.Close()
			extractTime := time.Since(t0)
			for _, ln := range Losses {
				t1 := time.Now()
				var p *head.Params
				var curve []float64
				p, curve, err = probe(ctx, cfg, head.Linear, ln, trF, trY, bb.FeatureDim)
				if err != nil {
					break
				}
				probeHeads[ln] = p
				if err = addRow("linear-probe", ln, p.Scores(teF, len(testSet)), curve, t1.Add(-extractTime)); err != nil {
					break
				}
				if ln == loss.ASL && cfg.OutDir != "" {
					b := makeBundle(featModel, bb, p, res, spec)
					res.BundlePath, err = writeBundle(cfg.OutDir, b)
					if err != nil {
						log.Warn("demo: bundle not written", "err", err)
						err = nil
					}
					res.drawMaps(ctx, cfg, b, res.Rows[len(res.Rows)-1].scores, teY, testPaths)
				}
			}
			for _, ln := range Losses {
				if err != nil {
					break
				}
				t1 := time.Now()
				var p *head.Params
				var curve []float64
				if p, curve, err = probe(ctx, cfg, head.GraphHead, ln, trF, trY, bb.FeatureDim); err != nil {
					break
				}
				if err = addRow(GraphProbe, ln, p.Scores(teF, len(testSet)), curve, t1.Add(-extractTime)); err != nil {
					break
				}
				t1 = time.Now()
				if p, curve, err = probe(ctx, cfg, GraphNoEdges, ln, trF, trY, bb.FeatureDim); err != nil {
					break
				}
				ablation = true
				err = addRow(GraphNoEdges, ln, p.Scores(teF, len(testSet)), curve, t1.Add(-extractTime))
				ablation = false
			}
		}
	}
	if err != nil {
		eng.Close()
		return nil, fmt.Errorf("demo: linear probe: %w", err)
	}

	// 3c. Fine-tune the last residual stage and the head, starting from the linear
	// probe's head (LP-FT: fine-tuning from a trained head keeps the pretrained features
	// from being wrecked by a random head's early gradients). Earlier stages stay
	// frozen, so their activations are computed once.
	t0 = time.Now()
	actTr, err := net.Run(trX, len(trainSet), cnn.StageStem, cnn.StageBlock3, cnn.Activation, 64)
	if err != nil {
		return nil, err
	}
	actTe, err := net.Run(teX, len(testSet), cnn.StageStem, cnn.StageBlock3, cnn.Activation, 64)
	if err != nil {
		return nil, err
	}
	actTime := time.Since(t0)
	for _, ln := range Losses {
		t1 := time.Now().Add(-actTime)
		var curve []float64
		bar := newBar(cfg.Progress, "fine-tune/"+ln, cfg.FineTuneEpochs, "epochs")
		fn := net.Clone()
		h, err := foldHead(probeHeads[ln], L, arch.FeatureDim())
		if err != nil {
			return nil, fmt.Errorf("demo: fine-tune/%s: %w", ln, err)
		}
		c := cnnCfg(ln, cnn.StageBlock3, cfg.FineTuneEpochs, &curve, bar)
		c.LR = cfg.FineTuneLR
		if err := fn.TrainMultiLabel(ctx, actTr, trY, h, c); err != nil {
			return nil, fmt.Errorf("demo: fine-tune/%s: %w", ln, err)
		}
		scores, err := fn.PredictMultiLabel(actTe, len(testSet), cnn.StageBlock3, h, 64)
		bar.Finish()
		if err != nil {
			return nil, err
		}
		if err := addRow("fine-tune", ln, scores, curve, t1); err != nil {
			return nil, err
		}
	}
	res.Seconds = time.Since(start).Seconds()

	if cfg.OutDir != "" {
		res.ReportPath = filepath.Join(cfg.OutDir, "report.html")
		page, err := res.HTML()
		if err != nil {
			return nil, fmt.Errorf("demo: report: %w", err)
		}
		if err := writeFile(res.ReportPath, page); err != nil {
			return nil, err
		}
		js, _ := json.MarshalIndent(res, "", "  ")
		if err := writeFile(filepath.Join(cfg.OutDir, "results.json"), js); err != nil {
			return nil, err
		}
	}
	return res, nil
}

func newBar(w io.Writer, label string, total int, unit string) *progress.Bar {
	if w == nil {
		return nil
	}
	return progress.New(w, label, int64(total), unit)
}

// probe trains a linear head (or the graph head, returned in its linear form) on
// features with package train.
func probe(ctx context.Context, cfg Config, kind, lossName string, x []float32, y [][]int8, dim int) (*head.Params, []float64, error) {
	tc := train.DefaultConfig()
	tc.Head = kind
	if kind == GraphNoEdges {
		tc.Head, tc.GraphP = head.GraphHead, noEdgesP
	}
	tc.Loss = lossName
	tc.Epochs = cfg.ProbeEpochs
	tc.BatchSize = cfg.Batch
	tc.LR = 3e-3
	tc.Patience = 0
	tc.Seed = cfg.Seed
	r, err := train.Fit(ctx, tc, x, y, nil, nil, dim, train.Callbacks{})
	if err != nil {
		return nil, nil, err
	}
	curve := make([]float64, len(r.History))
	for i, e := range r.History {
		curve[i] = e.TrainLoss
	}
	p := r.Head
	return &p, curve, nil
}

// rareAPs picks the rare labels' APs out of per-class APs and averages them (NaN when
// none has test positives).
func (r *Result) rareAPs(perClass []float64) ([]float64, float64) {
	v := make([]float64, len(r.rareIdx))
	s, n := 0.0, 0
	for k, j := range r.rareIdx {
		v[k] = perClass[j]
		if !math.IsNaN(v[k]) {
			s += v[k]
			n++
		}
	}
	if n == 0 {
		return v, math.NaN()
	}
	return v, s / float64(n)
}

// rarest returns the indices of the k labels with the fewest training positives (ties:
// lower index first).
func rarest(counts []int, k int) []int {
	idx := make([]int, len(counts))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return counts[idx[a]] < counts[idx[b]] })
	return idx[:min(k, len(idx))]
}

// writeSplit writes the images of a split as PNG files under root/name/ and its labels
// as root/name.csv (one-hot layout), filling paths.
func writeSplit(root, name string, samples []synth.Sample, labels []string, paths []string) error {
	dir := filepath.Join(root, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	d := &dataset.Dataset{Labels: labels, Format: "csv-onehot", Source: "synth"}
	for i, s := range samples {
		rel := fmt.Sprintf("%05d.png", i)
		p := filepath.Join(dir, rel)
		// No fsync per image: the split is regenerated from its seed on any doubt. Mode
		// 0600 as before (the temporary file's mode).
		if err := fsutil.WriteWithNoSync(p, 0o600, func(w io.Writer) error { return png.Encode(w, s.Image) }); err != nil {
			return fmt.Errorf("demo: write %s: %w", p, err)
		}
		paths[i] = p
		d.Samples = append(d.Samples, dataset.Sample{Image: rel, Path: p, Truth: s.Truth})
	}
	if err := dataset.WriteCSV(filepath.Join(root, name+".csv"), d); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	return nil
}

// makeBundle returns the linear-probe model as a bundle.
func makeBundle(featModel []byte, bb *backbone.Backbone, p *head.Params, res *Result, spec imageio.Spec) *bundle.Bundle {
	th := make([]float64, len(res.Labels))
	for i := range th {
		th[i] = 0.5
	}
	b := &bundle.Bundle{
		Backbone: featModel,
		BackboneInfo: bundle.BackboneInfo{Name: "synth-backbone.onnx", SHA256: bb.SHA256, FeatureNode: bb.FeatureNode,
			FeatureDim: bb.FeatureDim, Pool: bb.Pool},
		Head: *p, Labels: res.Labels, Thresholds: th, Spec: spec,
	}
	return b
}

// writeBundle saves b as DIR/demo.mlb.
func writeBundle(dir string, b *bundle.Bundle) (string, error) {
	path := filepath.Join(dir, "demo.mlb")
	if err := b.Save(path); err != nil {
		return "", err
	}
	return path, nil
}

var errNoRows = errors.New("demo: no results")

// Table renders the results as a text table; withTimes adds the time column (the only
// part that differs between two runs with the same configuration).
func (r *Result) Table(withTimes bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-13s %-4s %6s %6s %6s %8s", "method", "loss", "mAP", "CF1", "OF1", "rareAP")
	for _, l := range r.RareLabels {
		fmt.Fprintf(&b, " %8s", "AP:"+l)
	}
	if withTimes {
		fmt.Fprintf(&b, " %8s", "time")
	}
	b.WriteString("\n")
	for _, row := range r.Rows {
		fmt.Fprintf(&b, "%-13s %-4s %6.3f %6.3f %6.3f %8s", row.Method, row.Loss, row.MAP, row.CF1, row.OF1, num(row.RareAP))
		for _, v := range row.RarePerClass {
			fmt.Fprintf(&b, " %8s", num(v))
		}
		if withTimes {
			fmt.Fprintf(&b, " %7.1fs", row.Seconds)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// Summary states the two findings the demo is about, with their margins.
func (r *Result) Summary() string {
	best := func(method string) *Row {
		var b *Row
		for i := range r.Rows {
			if r.Rows[i].Method == method && (b == nil || r.Rows[i].MAP > b.MAP) {
				b = &r.Rows[i]
			}
		}
		return b
	}
	s, p, f := best("scratch"), best("linear-probe"), best("fine-tune")
	if s == nil && p == nil && f == nil {
		return errNoRows.Error()
	}
	var b strings.Builder
	if s != nil && (p != nil || f != nil) {
		fmt.Fprintf(&b, "transfer vs scratch (best loss each):")
		if p != nil {
			fmt.Fprintf(&b, " linear probe %+.3f mAP", p.MAP-s.MAP)
		}
		if f != nil {
			if p != nil {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, " fine-tune %+.3f mAP", f.MAP-s.MAP)
		}
		fmt.Fprintf(&b, " over scratch (%.3f)\n", s.MAP)
	}
	if r.real && s != nil {
		fmt.Fprintf(&b, "scratch: %s\n", ScratchLabel)
	}
	if g, l := best(GraphProbe), best("linear-probe"); g != nil && l != nil {
		fmt.Fprintf(&b, "graph head vs linear probe (best loss each): %+.3f mAP (%.3f -> %.3f)", g.MAP-l.MAP, l.MAP, g.MAP)
		if names, lAP := r.tiedAP(l); names != "" {
			_, gAP := r.tiedAP(g)
			fmt.Fprintf(&b, ", %+.3f AP on the labels tied by co-occurrence (%s: %.3f -> %.3f)", gAP-lAP, names, lAP, gAP)
		}
		b.WriteString("\n")
		for _, a := range r.Ablation {
			if a.Loss != g.Loss {
				continue
			}
			fmt.Fprintf(&b, "  of which label co-occurrence (vs the same head on an empty label graph, %s): %+.3f mAP (%.3f -> %.3f)",
				a.Loss, g.MAP-a.MAP, a.MAP, g.MAP)
			if names, aAP := r.tiedAP(&a); names != "" {
				_, gAP := r.tiedAP(g)
				fmt.Fprintf(&b, ", %+.3f AP on the tied labels", gAP-aAP)
			}
			b.WriteString("\n")
		}
	}
	for _, m := range append(append([]string(nil), Methods...), GraphProbe) {
		bce, asl := r.Row(m, loss.BCE), r.Row(m, loss.ASL)
		if bce != nil && asl != nil {
			fmt.Fprintf(&b, "ASL vs BCE on the %d rarest labels, %s: %+.3f AP (%.3f -> %.3f)\n",
				len(r.RareLabels), m, asl.RareAP-bce.RareAP, bce.RareAP, asl.RareAP)
		}
	}
	return b.String()
}

// tiedAP returns the TiedLabels present in the vocabulary (comma-separated) and a
// row's mean test AP over those with test positives.
func (r *Result) tiedAP(row *Row) (string, float64) {
	var names []string
	sum, n := 0.0, 0
	for _, l := range TiedLabels {
		for j, name := range r.Labels {
			if name != l || j >= len(row.PerClassAP) {
				continue
			}
			names = append(names, l)
			if ap := row.PerClassAP[j]; !math.IsNaN(ap) {
				sum += ap
				n++
			}
		}
	}
	if n == 0 {
		return "", math.NaN()
	}
	return strings.Join(names, ", "), sum / float64(n)
}

// num formats a figure, "-" for NaN (a label without test positives).
func num(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.3f", v)
}

func nullable(v float64) *float64 {
	if math.IsNaN(v) {
		return nil
	}
	return &v
}

func nullables(v []float64) []*float64 {
	out := make([]*float64, len(v))
	for i, x := range v {
		out[i] = nullable(x)
	}
	return out
}

// MarshalJSON writes NaN figures (labels without test positives) as null.
func (r Row) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Method       string     `json:"method"`
		Loss         string     `json:"loss"`
		MAP          float64    `json:"mAP"`
		CF1          float64    `json:"CF1"`
		OF1          float64    `json:"OF1"`
		RareAP       *float64   `json:"rare_AP"`
		RarePerClass []*float64 `json:"rare_per_class_AP"`
		PerClassAP   []*float64 `json:"per_class_AP"`
		Seconds      float64    `json:"seconds"`
		Curve        []float64  `json:"loss_curve"`
	}{r.Method, r.Loss, r.MAP, r.CF1, r.OF1, nullable(r.RareAP), nullables(r.RarePerClass), nullables(r.PerClassAP), r.Seconds, r.Curve})
}

// foldHead turns a linear head.Params (with its feature standardisation) into the
// equivalent cnn.Head on raw features: W'[j][k] = W[k][j]/std[k],
// b'[j] = b[j] - sum_k W[k][j] mean[k]/std[k].
func foldHead(p *head.Params, labels, dim int) (*cnn.Head, error) {
	if p == nil || p.Kind != head.Linear || p.In != dim || p.Out != labels {
		return nil, fmt.Errorf("no linear %dx%d probe head to start from", dim, labels)
	}
	h := &cnn.Head{Labels: labels, Dim: dim, W: make([]float32, labels*dim), B: make([]float32, labels)}
	for j := 0; j < labels; j++ {
		b := float64(p.B1[j])
		for k := 0; k < dim; k++ {
			w := float64(p.W1[k*labels+j])
			mean, std := 0.0, 1.0
			if len(p.Mean) == dim {
				mean, std = float64(p.Mean[k]), float64(p.Std[k])
			}
			h.W[j*dim+k] = float32(w / std)
			b -= w * mean / std
		}
		h.B[j] = float32(b)
	}
	return h, nil
}
