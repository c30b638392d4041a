package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/multilabel/multilabel/dataset"
	"github.com/multilabel/multilabel/metric"
	"github.com/multilabel/multilabel/report"
)

// evalStdout is where eval writes its table (tests replace it).
var evalStdout io.Writer = os.Stdout

// evalData is what eval evaluates: one row of scores and truth per image.
type evalData struct {
	Labels []string
	Names  []string // image names as the truth writes them
	Paths  []string // image files (for the report's gallery)
	Scores [][]float32
	Truth  [][]int8
	// Thresholds are per-class thresholds that come with the scores (a model bundle's);
	// nil when none. --threshold / --thresholds override them.
	Thresholds []float64
	Meta       [][2]string
}

// evalModelSource, when set by the file implementing model bundles, serves
// "eval --model M.mlb": it predicts the images of the truth at data and returns them
// with their truth. Without it, --model is refused.
var evalModelSource func(ctx context.Context, model, data string, opt dataset.Options) (*evalData, error)

// evalModelFlags, when set by the same file, adds the --model form's own flags (engine
// choice...) to eval's flag set; evalModelSource reads them after parsing.
var evalModelFlags func(fs *flag.FlagSet)

func init() {
	register(&command{name: "eval", summary: "evaluate predictions (or a model) against labelled data: mAP, CP/CR/CF1, OP/OR/OF1, report", run: runEval})
}

const evalUsage = `(--predictions P.csv | --model M.mlb) --data T.csv [--images DIR] [--threshold 0.5 | --thresholds F] [--top-k 3] [--json out.json] [--report DIR]

P.csv has a header "image,<label>,..." and one row of probabilities in [0,1] per image.
The truth (--data) is any format the dataset package reads (CSV list or one-hot, COCO
JSON, VOC). Rows are matched by image name: first the exact name as the truth writes it,
then, for rows left over, the base name when it is unique on both sides. Every truth
image needs a row and every row a truth image; the label columns must be the truth's
vocabulary (with a CSV list-layout truth, which names only the labels present, the
prediction columns are the vocabulary). --thresholds F reads per-class thresholds from a
JSON object {"label": t, ...} (or a metrics JSON with a "thresholds" object) or from
"label,threshold" lines.`

func runEval(ctx context.Context, args []string) error {
	fs := newFlags("eval", evalUsage)
	preds := fs.String("predictions", "", "predictions CSV: image,<label>... with one row of probabilities per image")
	modelPath := fs.String("model", "", "model bundle (.mlb) to predict the images with, instead of --predictions")
	data := fs.String("data", "", "truth: label file (CSV, COCO JSON) or VOC root")
	images := fs.String("images", "", "directory the truth's image names are relative to; with --report, adds a gallery of the hardest images")
	listSep := fs.String("list-sep", "", "separator of a list-layout truth CSV (default: detected)")
	threshold := fs.Float64("threshold", metric.DefaultThreshold, "global decision threshold in (0,1]")
	thresholds := fs.String("thresholds", "", "file of per-class thresholds (JSON object label->threshold, or label,threshold lines)")
	topK := fs.Int("top-k", metric.DefaultTopK, "k of the top-k figures (0: leave them out)")
	jsonOut := fs.String("json", "", "write the metrics as JSON to this file ('-': stdout, instead of the table)")
	reportDir := fs.String("report", "", "write a self-contained HTML report (index.html) into this directory")
	bootstrap := fs.Int("bootstrap", 0, "resamples for a bootstrap confidence interval of mAP (e.g. 1000; 0: none)")
	seed := fs.Uint64("seed", 1, "bootstrap seed")
	if evalModelFlags != nil {
		evalModelFlags(fs)
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected arguments %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case *data == "":
		return usageErrorf("--data is required")
	case (*preds == "") == (*modelPath == ""):
		return usageErrorf("give exactly one of --predictions and --model")
	case set["threshold"] && *thresholds != "":
		return usageErrorf("give --threshold or --thresholds, not both")
	case set["threshold"] && !(*threshold > 0 && *threshold <= 1):
		return usageErrorf("--threshold %v is not in (0,1]", *threshold)
	case *topK < 0:
		return usageErrorf("--top-k %d is negative", *topK)
	case *bootstrap < 0:
		return usageErrorf("--bootstrap %d is negative", *bootstrap)
	}
	dopt := dataset.Options{ImagesDir: *images, ListSep: *listSep}

	var in *evalData
	var err error
	if *modelPath != "" {
		if evalModelSource == nil {
			return usageErrorf("--model is not available in this build; use --predictions")
		}
		if in, err = evalModelSource(ctx, *modelPath, *data, dopt); err != nil {
			return err
		}
	} else if in, err = loadPredictionsAndTruth(*preds, *data, dopt); err != nil {
		return err
	}

	mopt := metric.Options{Threshold: *threshold, TopK: *topK, Bootstrap: *bootstrap, Seed: *seed}
	if *topK == 0 {
		mopt.TopK = -1
	}
	switch {
	case *thresholds != "":
		if mopt.Thresholds, err = metric.LoadThresholds(*thresholds, in.Labels); err != nil {
			return badInput(err)
		}
	case !set["threshold"] && in.Thresholds != nil:
		mopt.Thresholds = in.Thresholds
	}

	rin := report.Input{
		Title:   "Multi-label evaluation",
		Meta:    append([][2]string{{"truth", *data}}, in.Meta...),
		Labels:  in.Labels,
		Scores:  in.Scores,
		Truth:   in.Truth,
		Options: mopt,
	}
	out := report.Outputs{Table: evalStdout, ReportDir: *reportDir}
	switch *jsonOut {
	case "":
	case "-":
		out.Table = nil
	default:
		out.JSONPath = *jsonOut
	}
	if *reportDir != "" && *images != "" {
		// The gallery needs the figures first.
		res, err := metric.Evaluate(in.Scores, in.Truth, in.Labels, mopt)
		if err != nil {
			return badInput(err)
		}
		rin.Result = res
		rin.Sections = append(rin.Sections, report.HardestImages(res, in.Scores, in.Truth, in.Names, in.Paths, 12))
	}
	res, path, err := report.Evaluate(rin, out)
	if err != nil {
		if errors.Is(err, metric.ErrValue) || errors.Is(err, metric.ErrShape) {
			return badInput(err)
		}
		return err
	}
	if *jsonOut == "-" {
		data, err := res.MarshalJSON()
		if err != nil {
			return err
		}
		if _, err := evalStdout.Write(data); err != nil {
			return err
		}
	}
	if path != "" {
		fmt.Fprintf(os.Stderr, "report: %s\n", path)
	}
	return nil
}

// loadPredictionsAndTruth reads both files and aligns the predictions to the truth's
// images and vocabulary. Every problem is bad input.
func loadPredictionsAndTruth(predsPath, data string, dopt dataset.Options) (*evalData, error) {
	p, err := metric.LoadPredictionsCSV(predsPath)
	if err != nil {
		return nil, badInput(err)
	}
	d, err := dataset.Load(data, dopt)
	if err != nil {
		return nil, badInput(err)
	}
	// A list-layout CSV (and VOC) only names the labels that occur: the prediction
	// columns are then the vocabulary, the others all negative.
	if (d.Format == "csv-list" || d.Format == "voc") && !slices.Equal(d.Labels, p.Labels) {
		missing := false
		for _, l := range d.Labels {
			if !slices.Contains(p.Labels, l) {
				missing = true
			}
		}
		if !missing {
			dopt.Labels = p.Labels
			if d, err = dataset.Load(data, dopt); err != nil {
				return nil, badInput(err)
			}
		}
	}
	if len(d.Samples) == 0 {
		return nil, badInput(fmt.Errorf("%s: no labelled images", data))
	}
	names := make([]string, len(d.Samples))
	for i, s := range d.Samples {
		names[i] = s.Image
	}
	scores, err := p.Align(names, d.Labels)
	if err != nil {
		return nil, badInput(err)
	}
	return &evalData{
		Labels: d.Labels, Names: names, Paths: d.Paths(), Scores: scores, Truth: d.Truths(),
		Meta: [][2]string{{"predictions", predsPath}},
	}, nil
}
