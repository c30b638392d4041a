package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/multilabel/multilabel/finetune"
)

// benchTrainRows maps the short row names of --rows to finetune's row names.
var benchTrainRows = map[string]string{
	"tail":   finetune.BenchSqueezeTail,
	"whole":  finetune.BenchSqueezeWhole,
	"linear": finetune.BenchHeadLinear,
	"mlp":    finetune.BenchHeadMLP,
}

func newBenchTrainCmd(e *env) *cobra.Command {
	var (
		squeeze, python, scripts, ortLib, backendsFlag, rowsFlag string
		seconds                                                  float64
		minSteps, headEpochs                                     int
		noTorch, jsonOut                                         bool
	)
	c := &cobra.Command{
		Use:   "train [--backends onnx,go] [--rows tail,whole,linear,mlp] [--json]",
		Short: "benchmark training steps (images/s) on every available backend against PyTorch, in one run",
		Long: "bench train measures AdamW training steps in one run: SqueezeNet 1.1's last block (b32) and\n" +
			"whole network (224x224, b32), and linear and MLP heads on cached 512-d features, on each\n" +
			"available GoMLX backend (onnx, xla, go) and in PyTorch when " + "--python has torch; the\n" +
			"ratio column is images/s divided by PyTorch's on the same row, measured just before.",
		Args: noArgs,
	}
	fs := c.Flags()
	fs.StringVar(&squeeze, "squeezenet", "../shared/models/squeezenet1.1/squeezenet1.1-fp16.onnx", "SqueezeNet 1.1 ONNX file (its rows are skipped when absent)")
	fs.StringVar(&backendsFlag, "backends", "", "comma-separated backends to measure: onnx, xla, go (default: every available one)")
	fs.StringVar(&rowsFlag, "rows", "", "comma-separated rows: tail, whole, linear, mlp (default: all)")
	fs.Float64Var(&seconds, "seconds", 3, "minimum measuring time per row and backend, after a warm-up step")
	fs.IntVar(&minSteps, "min-steps", 2, "minimum timed steps per row")
	fs.IntVar(&headEpochs, "head-epochs", 20, "epochs of the head rows")
	fs.StringVar(&python, "python", "/usr/bin/python3", "Python with torch for the PyTorch peers")
	fs.BoolVar(&noTorch, "no-torch", false, "skip the PyTorch peers (ratios are then 0)")
	fs.StringVar(&scripts, "scripts", "", "folder with bench_finetune.py and bench_head.py (default: the module's scripts/)")
	fs.StringVar(&ortLib, "ort-lib", "", "ONNX Runtime library for the onnx backend (default: $ONNXRUNTIME_LIB or the install place)")
	fs.BoolVar(&jsonOut, "json", false, `print {"rows":[{"name","backend","images_per_s","ratio_vs_torch","peak_rss_mb"}]}`)
	c.RunE = func(c *cobra.Command, args []string) error {
		opt := finetune.BenchOptions{SqueezeNet: squeeze, Seconds: seconds, MinSteps: minSteps, HeadEpochs: headEpochs,
			Python: python, NoTorch: noTorch, Scripts: scripts, ORTLib: ortLib, Logger: e.log}
		if backendsFlag != "" {
			for _, b := range strings.Split(backendsFlag, ",") {
				if _, err := finetune.ParseBackend(strings.TrimSpace(b)); err != nil {
					return usageErrorf("--backends: %v", err)
				}
				opt.Backends = append(opt.Backends, strings.TrimSpace(b))
			}
		}
		if rowsFlag != "" {
			for _, r := range strings.Split(rowsFlag, ",") {
				name, ok := benchTrainRows[strings.TrimSpace(r)]
				if !ok {
					return usageErrorf("--rows: unknown row %q (want tail, whole, linear or mlp)", r)
				}
				opt.Rows = append(opt.Rows, name)
			}
		}
		if seconds <= 0 || minSteps < 1 || headEpochs < 1 {
			return usageErrorf("--seconds, --min-steps and --head-epochs must be positive")
		}
		rows, err := finetune.BenchTrain(c.Context(), opt)
		if err != nil {
			return err
		}
		if jsonOut {
			enc := json.NewEncoder(e.stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(struct {
				Rows []finetune.BenchRow `json:"rows"`
			}{rows})
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "row\tbackend\timages/s\tvs PyTorch\tpeak RSS MiB")
		for _, r := range rows {
			ratio := "-"
			if r.RatioVsTorch > 0 {
				ratio = fmt.Sprintf("%.2fx", r.RatioVsTorch)
			}
			rss := "-"
			if r.PeakRSSMB > 0 {
				rss = fmt.Sprintf("%.0f", r.PeakRSSMB)
			}
			fmt.Fprintf(tw, "%s\t%s\t%.1f\t%s\t%s\n", r.Name, r.Backend, r.ImagesPerS, ratio, rss)
		}
		return tw.Flush()
	}
	return c
}
