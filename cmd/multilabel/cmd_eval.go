package main

import (
	"errors"
	"fmt"
	"slices"

	"github.com/spf13/cobra"

	"github.com/multilabel/multilabel/calib"
	"github.com/multilabel/multilabel/dataset"
	"github.com/multilabel/multilabel/metric"
	"github.com/multilabel/multilabel/model"
	"github.com/multilabel/multilabel/report"
)

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

const evalUsage = `(--predictions P.csv | --model M.mlb) --data T.csv [--images DIR] [--threshold 0.5 | --thresholds F] [--top-k 3] [--json | --json-out out.json] [--report DIR]`

const evalLong = `Evaluate predictions (or a model) against labelled data.

P.csv has a header "image,<label>,..." and one row of probabilities in [0,1] per image.
The truth (--data) is any format the dataset package reads (CSV list or one-hot, COCO
JSON, VOC). Rows are matched by image name: first the exact name as the truth writes it,
then, for rows left over, the base name when it is unique on both sides. Every truth
image needs a row and every row a truth image; the label columns must be the truth's
vocabulary (with a CSV list-layout truth, which names only the labels present, the
prediction columns are the vocabulary). --thresholds F reads per-class thresholds from a
JSON object {"label": t, ...} (or a metrics JSON with a "thresholds" object) or from
"label,threshold" lines.`

func newEvalCmd(e *env) *cobra.Command {
	var (
		preds, modelPath, data, thresholds, decision, jsonOut, reportDir string
		rf                                                               readerFlags
		ef                                                               engineFlags
		es                                                               evalShardFlags
		js                                                               jsonSwitch
		threshold                                                        float64
		topK, bootstrap                                                  int
		seed                                                             uint64
	)
	c := &cobra.Command{
		Use:   "eval " + evalUsage,
		Short: "evaluate predictions (or a model) against labelled data: mAP, CP/CR/CF1, OP/OR/OF1, report",
		Long:  evalLong,
		// One positional argument is the deprecated "--json FILE" spelling (see below).
		Args: cobra.MaximumNArgs(1),
	}
	fs := c.Flags()
	fs.StringVar(&preds, "predictions", "", "predictions CSV: image,<label>... with one row of probabilities per image")
	fs.StringVar(&modelPath, "model", "", "model bundle (.mlb) to predict the images with, instead of --predictions")
	fs.StringVar(&data, "data", "", "truth: label file (CSV, COCO JSON) or VOC root")
	rf.register(fs, "with --model, fail when an image cannot be read (default: leave it out and say so)")
	fs.Lookup("images").Usage = "directory the truth's image names are relative to; with --report, adds a gallery of the hardest images"
	ef.register(fs, true)
	fs.Lookup("engine").Usage = "with --model: " + fs.Lookup("engine").Usage
	fs.Float64Var(&threshold, "threshold", metric.DefaultThreshold, "global decision threshold in (0,1]")
	fs.StringVar(&decision, "decision", "", "with --model: decision rule instead of the bundle's: f1|precision:P|recall:R (thresholds from the bundle's validation curves)")
	fs.StringVar(&thresholds, "thresholds", "", "file of per-class thresholds (JSON object label->threshold, or label,threshold lines)")
	fs.IntVar(&topK, "top-k", metric.DefaultTopK, "k of the top-k figures (0: leave them out)")
	addJSONSwitch(fs, &js, "print the metrics as JSON instead of the table")
	fs.StringVar(&jsonOut, "json-out", "", "also write the metrics as JSON to this file ('-': stdout, instead of the table)")
	fs.StringVar(&reportDir, "report", "", "write a self-contained HTML report (index.html) into this directory")
	fs.IntVar(&bootstrap, "bootstrap", 0, "resamples for a bootstrap confidence interval of mAP (e.g. 1000; 0: none)")
	fs.Uint64Var(&seed, "seed", 1, "bootstrap seed")
	es.register(fs)
	c.RunE = func(c *cobra.Command, args []string) error {
		ctx := c.Context()
		// The deprecated spellings --json=FILE and --json FILE of --json-out FILE.
		deprecated := js.file
		if len(args) == 1 {
			if !js.on || deprecated != "" {
				return usageErrorf("unexpected argument %q", args[0])
			}
			deprecated = args[0]
		}
		if deprecated != "" {
			if jsonOut != "" {
				return usageErrorf("give --json-out only")
			}
			fmt.Fprintf(e.stderr, "multilabel eval: --json %s is deprecated and will be removed; use --json-out %s\n", deprecated, deprecated)
			jsonOut = deprecated
		} else if js.on {
			if jsonOut != "" && jsonOut != "-" {
				return usageErrorf("give --json (to stdout) or --json-out FILE, not both")
			}
			jsonOut = "-"
		}
		switch {
		case data == "":
			return usageErrorf("--data is required")
		case (preds == "") == (modelPath == ""):
			return usageErrorf("give exactly one of --predictions and --model")
		case fs.Changed("threshold") && thresholds != "":
			return usageErrorf("give --threshold or --thresholds, not both")
		case fs.Changed("threshold") && !(threshold > 0 && threshold <= 1):
			return usageErrorf("--threshold %v is not in (0,1]", threshold)
		case topK < 0:
			return usageErrorf("--top-k %d is negative", topK)
		case bootstrap < 0:
			return usageErrorf("--bootstrap %d is negative", bootstrap)
		case decision != "" && modelPath == "":
			return usageErrorf("--decision needs --model (a predictions CSV carries no decision rule)")
		}
		if err := checkDecisionFlag(decision, fs.Changed("threshold") || thresholds != ""); err != nil {
			return err
		}
		if d, _ := calib.ParseDecision(decision); d.Kind == calib.TopK {
			return usageErrorf("--decision %s: eval measures per-label thresholds; a top-K cap is a predict and serve rule (evaluate f1, precision:P or recall:R)", decision)
		}
		rs, err := newRemote(modelPath, preds, data, rf.images, es.out, reportDir, jsonOut)
		if err != nil {
			return err
		}
		defer rs.close()
		truth, modelName, reportURL, jsonURL := data, modelPath, reportDir, jsonOut
		if jsonOut != "-" {
			jsonOut = rs.localOut(jsonOut)
		}
		reportDir = rs.localOut(reportDir)
		// Tar shards in a bucket are read by range (rs.loader), not downloaded.
		if !rs.byRange(data, rf.images) {
			if err := rs.stageData(ctx, &rf, &data); err != nil {
				return err
			}
		}
		load := rs.loader(ctx, rf.strict)
		if err := rs.fetchIn(ctx, &modelPath); err != nil {
			return err
		}
		if err := rs.fetchIn(ctx, &preds); err != nil {
			return err
		}
		dopt := rf.options()

		var in *evalData
		if modelPath != "" {
			kind, err := ef.parse()
			if err != nil {
				return err
			}
			if done, err := es.run(ctx, e, rs, load, modelPath, data, dopt, model.Options{Engine: kind, ORTLib: ef.ortLib, Threads: ef.threads, Decision: decision}); done || err != nil {
				return err
			}
			if in, err = evalWithModel(ctx, e, load, modelPath, modelName, data, dopt, model.Options{Engine: kind, ORTLib: ef.ortLib, Threads: ef.threads, Decision: decision}, rf.strict); err != nil {
				return err
			}
		} else if in, err = loadPredictionsAndTruth(load, preds, data, dopt); err != nil {
			return err
		}

		mopt := metric.Options{Threshold: threshold, TopK: topK, Bootstrap: bootstrap, Seed: seed}
		if topK == 0 {
			mopt.TopK = -1
		}
		switch {
		case thresholds != "":
			if mopt.Thresholds, err = metric.LoadThresholds(thresholds, in.Labels); err != nil {
				return badInput(err)
			}
		case !fs.Changed("threshold") && in.Thresholds != nil:
			mopt.Thresholds = in.Thresholds
		}

		rin := report.Input{
			Title:   "Multi-label evaluation",
			Meta:    append([][2]string{{"truth", truth}}, in.Meta...),
			Labels:  in.Labels,
			Scores:  in.Scores,
			Truth:   in.Truth,
			Options: mopt,
		}
		out := report.Outputs{Table: e.stdout, ReportDir: reportDir}
		switch jsonOut {
		case "":
		case "-":
			out.Table = nil
		default:
			out.JSONPath = jsonOut
		}
		if reportDir != "" && rf.images != "" {
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
		if jsonOut == "-" {
			raw, err := res.MarshalJSON()
			if err != nil {
				return err
			}
			if _, err := e.stdout.Write(raw); err != nil {
				return err
			}
		}
		if jsonURL != "-" && jsonURL != "" {
			if err := rs.publishFile(ctx, jsonOut, jsonURL); err != nil {
				return err
			}
		}
		if reportDir != "" {
			if err := rs.publishDir(ctx, reportDir, reportURL); err != nil {
				return err
			}
			if path != "" && reportURL != reportDir {
				path = reportURL
			}
		}
		if path != "" {
			fmt.Fprintf(e.stderr, "report: %s\n", path)
		}
		return nil
	}
	return c
}

// loadPredictionsAndTruth reads both files and aligns the predictions to the truth's
// images and vocabulary. Every problem is bad input.
func loadPredictionsAndTruth(load datasetLoader, predsPath, data string, dopt dataset.Options) (*evalData, error) {
	p, err := metric.LoadPredictionsCSV(predsPath)
	if err != nil {
		return nil, badInput(err)
	}
	d, err := load(data, dopt)
	if err != nil {
		return nil, err
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
			if d, err = load(data, dopt); err != nil {
				return nil, err
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
