package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/multilabel/multilabel/backbone"
	"github.com/multilabel/multilabel/dataset"
	"github.com/multilabel/multilabel/engine/auto"
	"github.com/multilabel/multilabel/featcache"
	"github.com/multilabel/multilabel/train"
)

// The flag vocabulary shared by the commands. Every command that reads a label source
// registers readerFlags, every command that runs a backbone engineFlags, so one name
// means one thing everywhere.

// defaultBatchSize is the default of --batch-size where it means images per engine call.
const defaultBatchSize = featcache.DefaultBatchSize

// readerFlags say how to read a label source. They apply to every label source of the
// command: --data and, where the command has them, --val and --test.
type readerFlags struct {
	images, format, listSep, labels, vocSet string
	missing                                 string
	keepUnannotated, strict, allowOutside   bool
	maxLabels                               int
}

// register adds the reader flags to fs; strictUsage says what --strict does for this
// command.
func (f *readerFlags) register(fs *pflag.FlagSet, strictUsage string) {
	fs.StringVar(&f.images, "images", "", "directory image references are resolved against (default: per format, beside the label file)")
	fs.StringVar(&f.format, "format", "", "force the label reader: csv, csv-list, csv-onehot, coco, voc or wds (default: detect)")
	fs.StringVar(&f.listSep, "list-sep", "", `separator inside a CSV list column: ",", "|", ";" or "space" (default: detect)`)
	fs.StringVar(&f.labels, "labels", "", "comma-separated vocabulary: fixes label order, other labels are an error")
	fs.StringVar(&f.vocSet, "voc-set", "", "VOC image set (ImageSets/Main/<set>.txt; default trainval, else all annotations)")
	fs.BoolVar(&f.keepUnannotated, "keep-unannotated", false, "keep images a COCO file gives no annotation as all-negative samples")
	fs.BoolVar(&f.strict, "strict", false, strictUsage)
	fs.BoolVar(&f.allowOutside, "allow-outside", false, "allow image references outside the images directory (absolute paths, \"..\")")
	fs.IntVar(&f.maxLabels, "max-labels", dataset.DefaultMaxLabels, "largest vocabulary a label source may declare (one-hot columns, COCO categories, distinct labels)")
	fs.StringVar(&f.missing, "missing", "", `CSV list layout: labels a row does not mention are "negative" (default) or "unknown"; "-label" marks a known negative, "?label" an unknown`)
}

// options returns the dataset options the flags give.
func (f *readerFlags) options() dataset.Options {
	opt := dataset.Options{ImagesDir: f.images, Format: f.format, ListSep: f.listSep,
		KeepUnannotated: f.keepUnannotated, VOCImageSet: f.vocSet, MaxLabels: f.maxLabels,
		Confine: !f.allowOutside, Missing: f.missing}
	if f.labels != "" {
		for _, l := range strings.Split(f.labels, ",") {
			opt.Labels = append(opt.Labels, strings.TrimSpace(l))
		}
	}
	return opt
}

// load reads the label source at path with the flags' options; it returns as soon as
// ctx ends (SIGINT, SIGTERM).
func (f *readerFlags) load(ctx context.Context, path string) (*dataset.Dataset, error) {
	if path == "" {
		return nil, usageErrorf("--data is required")
	}
	d, err := dataset.LoadContext(ctx, path, f.options())
	if err != nil {
		if dataset.IsBadInput(err) {
			return nil, badInput(err)
		}
		return nil, err
	}
	if f.strict && len(d.Skipped) > 0 {
		return nil, badInput(fmt.Errorf("%s (--strict: without it unusable samples are skipped and counted)", d.Skipped[0]))
	}
	return d, nil
}

// beyondImages reports whether a flag other than --images and --strict is set: the
// reader options that a library entry point taking only a label path and an images
// directory (model.TrainConfig, demo.RealConfig) cannot express.
func (f *readerFlags) beyondImages() bool {
	return f.format != "" || f.listSep != "" || f.labels != "" || f.vocSet != "" || f.keepUnannotated ||
		f.maxLabels != dataset.DefaultMaxLabels || f.missing != ""
}

// checkStrict applies --strict to the label sources at paths (empty ones are skipped;
// the first is the training data): every image is opened first and an unusable one
// (missing, not an image, truncated, too large; a duplicate is not) is an error.
// Without --strict it does nothing: unusable images are skipped and counted.
func (f *readerFlags) checkStrict(ctx context.Context, progress io.Writer, images string, paths ...string) error {
	if !f.strict {
		return nil
	}
	var vocab []string
	for i, p := range paths {
		if p == "" {
			continue
		}
		d, err := f.loadHeldOut(p, images, i, vocab)
		if err != nil {
			return err
		}
		if i == 0 {
			vocab = d.Labels
		}
		if err := strictImages(ctx, d, progress); err != nil {
			return err
		}
	}
	return nil
}

// loadHeldOut reads the i-th label source of a command (0: the training data) with the
// flags' options; a held-out source names only the labels it holds, so it is read in
// the training vocabulary, as the training code does.
func (f *readerFlags) loadHeldOut(p, images string, i int, vocab []string) (*dataset.Dataset, error) {
	opt := f.options()
	opt.ImagesDir = images
	if i > 0 && opt.Labels == nil && vocab != nil {
		opt.Labels = vocab
	}
	d, err := dataset.Load(p, opt)
	if err != nil {
		if dataset.IsBadInput(err) {
			return nil, badInput(err)
		}
		return nil, err
	}
	return d, nil
}

func strictImages(ctx context.Context, d *dataset.Dataset, progress io.Writer) error {
	r, err := dataset.CheckImages(ctx, d, dataset.CheckOptions{Progress: progress})
	if err != nil {
		return err
	}
	for _, bad := range r.Bad {
		if bad.Kind != dataset.BadDuplicate {
			return badInput(fmt.Errorf("%s: %s (--strict: without it unusable images are skipped and counted)", bad.Path, bad.Reason))
		}
	}
	return nil
}

// prepare makes the label sources at *paths (empty ones are skipped; the first is the
// training data) readable by a library entry point that knows only a path and an images
// directory (demo.RealConfig), and applies --strict: with reader options beyond
// --images, each source is read here and rewritten as a one-hot CSV with absolute
// image paths into tmp, and *paths and *images point at the result. train passes the
// options to pipeline.TrainConfig.DataOptions instead and needs only checkStrict.
func (f *readerFlags) prepare(ctx context.Context, tmp string, progress io.Writer, images *string, paths ...*string) error {
	if !f.beyondImages() && !f.strict {
		return nil
	}
	var vocab []string
	for i, p := range paths {
		if *p == "" {
			continue
		}
		d, err := f.loadHeldOut(*p, *images, i, vocab)
		if err != nil {
			return err
		}
		if i == 0 {
			vocab = d.Labels
		}
		if f.strict {
			if err := strictImages(ctx, d, progress); err != nil {
				return err
			}
		}
		if !f.beyondImages() {
			continue
		}
		for k := range d.Samples {
			abs, err := filepath.Abs(d.Samples[k].Path)
			if err != nil {
				return err
			}
			d.Samples[k].Image = abs
		}
		out := filepath.Join(tmp, fmt.Sprintf("labels%d-%s.csv", i, strings.TrimSuffix(filepath.Base(*p), filepath.Ext(*p))))
		if err := dataset.WriteCSV(out, d); err != nil {
			return err
		}
		*p = out
	}
	if f.beyondImages() {
		*images = ""
	}
	return nil
}

// engineFlags choose the engine that runs a backbone.
type engineFlags struct {
	kind, ortLib string
	threads      int
}

func (f *engineFlags) register(fs *pflag.FlagSet, threads bool) {
	fs.StringVar(&f.kind, "engine", "auto", "engine that runs the backbone: auto (ONNX Runtime when its library is found, else pure Go), ort or go")
	fs.StringVar(&f.ortLib, "ort-lib", "", "path of libonnxruntime.so (default: $ONNXRUNTIME_LIB or the install place)")
	if threads {
		fs.IntVar(&f.threads, "threads", 0, "engine threads (0: all cores)")
	}
}

// parse checks --engine and returns the engine kind.
func (f *engineFlags) parse() (string, error) {
	kind, err := auto.ParseKind(f.kind)
	if err != nil {
		return "", usageErrorf("--engine: %v", err)
	}
	return kind, nil
}

// jsonSwitch is --json: a switch that prints JSON on stdout. For one release it also
// takes the old file operand of eval, --json=FILE, a deprecated spelling of
// --json-out FILE (the separate form "--json FILE" is handled by eval itself).
type jsonSwitch struct {
	on   bool
	file string
}

func (j *jsonSwitch) String() string {
	if j.file != "" {
		return j.file
	}
	return strconv.FormatBool(j.on)
}

func (j *jsonSwitch) Set(s string) error {
	if b, err := strconv.ParseBool(s); err == nil {
		j.on, j.file = b, ""
		return nil
	}
	j.on, j.file = true, s
	return nil
}

func (j *jsonSwitch) Type() string { return "bool" }

// addJSONSwitch registers j as --json on fs.
func addJSONSwitch(fs *pflag.FlagSet, j *jsonSwitch, usage string) {
	fs.Var(j, "json", usage)
	fs.Lookup("json").NoOptDefVal = "true"
}

// poolHelp documents --pool on train and features.
const poolHelp = "global pooling of a spatial cut (e.g. SqueezeNet's 512×13×13 map), done inside the backbone graph and recorded in the bundle: " +
	"avg|max|avgmax (avgmax concatenates both: twice the feature width); features pooled differently are cached under their own key " +
	"(one pooled float32 vector per image: MIML's 1,500 images × 512 × 4 B ≈ 3 MB, 6 MB for avgmax). " +
	"gem (generalised mean, learnable exponent p initialised to 3, inputs clamped to ≥ 1e-6) is computed by the linear or mlp head on the cached spatial maps " +
	"(features --spatial's cost: MIML ≈ 260 MB on disk); the learnt p is recorded in the bundle and exported in the graph"

// Attention-head flag values and defaults.
const (
	queriesLearned = "learned"
	queriesFixed   = "fixed"
	// defaultAttnDim is --attn-dim: on MIML (1,050 training images) d 128 and 256 gave
	// the same test mAP and 32 or 64 less; 128 keeps the token projection (the bulk of a
	// step: 169 tokens × 512 channels × d an image) cheap enough for the 2-minute budget
	// on 2 cores. ML-Decoder's 768 is sized for ImageNet-scale data.
	defaultAttnDim = 128
)

const headHelp = "head: auto|linear|mlp|graph|attention. auto (the default) trains linear, mlp and, when the cut has a spatial map, attention " +
	"on the run's own split and keeps the best by validation mAP (it says which and why); attention is an ML-Decoder-style " +
	"cross-attention head over the H·W tokens of the cached spatial map (see --attn-dim, --queries, --max-queries); " +
	"graph: label classifiers from two graph convolutions over the training labels' co-occurrence, ML-GCN style, stored as a linear head (see --graph-tau, --graph-p, --graph-hidden)"

const attnDimHelp = "attention head: token and query width d (8 heads, feed-forward 4·d); 128: on MIML as good as 256, better than 32 or 64, and trained in under a minute on 2 cores"

// checkHead validates --head and the attention flags.
func checkHead(kind, queries string, dim, maxQueries int) error {
	switch kind {
	case "auto", "linear", "mlp", "graph", "attention":
	default:
		return usageErrorf("--head %q: want auto, linear, mlp, graph or attention", kind)
	}
	if queries != queriesLearned && queries != queriesFixed {
		return usageErrorf("--queries %q: want learned or fixed", queries)
	}
	if dim <= 0 || dim%8 != 0 {
		return usageErrorf("--attn-dim %d: want a positive multiple of 8 (the 8 attention heads)", dim)
	}
	if maxQueries <= 0 {
		return usageErrorf("--max-queries %d: want a positive number", maxQueries)
	}
	return nil
}

// validateTrainConfig is train.Config.Validate for a configuration whose head may be
// auto and whose spatial shape is only known once the backbone is loaded.
func validateTrainConfig(tc train.Config) error {
	if tc.Head == "auto" {
		tc.Head = "linear"
	}
	if tc.Head == "attention" || tc.Pool != "" {
		tc.Spatial = []int{1, 1, 1}
	}
	return tc.Validate()
}

// checkPool validates --pool for a head ("" when no head is trained): an unknown name
// or gem without a head that can learn it is a usage error.
func checkPool(pool, headKind string) error {
	p, err := backbone.ParsePool(pool)
	if err != nil {
		return usageErrorf("--pool: %v", err)
	}
	if p == backbone.PoolGeM {
		switch headKind {
		case "":
			return usageErrorf("--pool gem has a learnable exponent: it is part of a head, not of extracted features (use avg, max or avgmax)")
		case "attention":
			return usageErrorf("--pool gem is a pooling of the linear and mlp heads; --head attention attends over the map's tokens instead (use --head linear, mlp or auto)")
		}
	}
	return nil
}

// spatialHelp documents features --spatial, with its cost.
const spatialHelp = "extract the map at the cut (C×H×W, before pooling) instead of the pooled vector: each .npy row is the map in row-major order; " +
	"the cache keeps maps as float16 under their own key (2 B a value: MIML's 1,500 × 512 × 13 × 13 × 2 B ≈ 260 MB on disk, " +
	"and 4 B a value in memory and in the float32 .npy, ≈ 520 MB); a cut without spatial dimensions is an error (see 'multilabel backbone inspect')"

// featureViewsHelp documents train --feature-views.
const featureViewsHelp = "feature-cache augmentation: also extract (and cache, under keys of their own) the features of these fixed variants of every training image " +
	"and train the head on them with the image's labels: flip (mirrored left to right), or none. The backbone stays frozen and the bundle is unchanged; " +
	"the cost is one more extraction of the training images per view, once (later runs read the cache). Not with --features, --unfreeze or --calib-folds"
