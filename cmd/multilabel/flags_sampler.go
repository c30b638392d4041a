package main

import (
	"strings"

	"github.com/multilabel/multilabel/calib"

	"github.com/spf13/pflag"

	"github.com/multilabel/multilabel/sampler"
)

// samplerFlags are train's --sampler, --repeat-threshold and --ros-percent (and
// --decision, the threshold rule).
type samplerFlags struct {
	kind       string
	threshold  float64
	rosPercent float64
	decision   string
	calibrate  bool
}

func (s *samplerFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&s.kind, "sampler", sampler.Uniform, "epoch sampler: "+strings.Join(sampler.Kinds, "|")+" (head training and fine-tuning)")
	fs.Float64Var(&s.threshold, "repeat-threshold", sampler.DefaultRepeatThreshold, "repeat-factor sampler: threshold t of r(c) = max(1, sqrt(t/f(c)))")
	fs.StringVar(&s.decision, "decision", "f1", "rule choosing the per-label thresholds on the validation share: f1|precision:P|recall:R (a label where it cannot be met keeps its F1 threshold, with a warning)")
	fs.BoolVar(&s.calibrate, "calibrate", false, "fit one temperature per label on the validation share and fold it into the head (calibrated scores everywhere the bundle goes)")
	fs.Float64Var(&s.rosPercent, "ros-percent", sampler.DefaultROSPercent, "ml-ros sampler: grow the training set by this percent of cloned minority-label images")
}

// config returns the sampler configuration; Validate (train.Config's) reports bad values.
func (s *samplerFlags) config() sampler.Config {
	return sampler.Config{Kind: s.kind, RepeatThreshold: s.threshold, ROSPercent: s.rosPercent}
}

// checkDecisionFlag checks predict's and eval's --decision: a rule that parses, and
// not together with a flag that sets the thresholds another way (exclusive).
func checkDecisionFlag(rule string, exclusive bool) error {
	if rule == "" {
		return nil
	}
	if _, err := calib.ParseDecision(rule); err != nil {
		return usageErrorf("--decision: %v", err)
	}
	if exclusive {
		return usageErrorf("--decision %s: give it without --top-k and --threshold", rule)
	}
	return nil
}
