package main

import (
	"fmt"
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
	calibrate  calibrateFlag
	calibFolds int
	fs         *pflag.FlagSet
}

func (s *samplerFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&s.kind, "sampler", sampler.Uniform, "epoch sampler: "+strings.Join(sampler.Kinds, "|")+" (head training and fine-tuning)")
	fs.Float64Var(&s.threshold, "repeat-threshold", sampler.DefaultRepeatThreshold, "repeat-factor sampler: threshold t of r(c) = max(1, sqrt(t/f(c)))")
	fs.StringVar(&s.decision, "decision", "f1", "rule choosing the per-label thresholds (on out-of-fold or validation scores, see --calib-folds): f1|precision:P|recall:R (a label where it cannot be met keeps its F1 threshold, with a warning)")
	fs.Var(&s.calibrate, "calibrate", "fit a calibration map per label (on out-of-fold scores by default, see --calib-folds) and fold it into the head (calibrated scores everywhere the bundle goes): "+
		"platt (σ(a·z+b), the default for a bare --calibrate: lower test ECE on MIML, scripts/results/calib_miml_*.md) or temperature (σ(z/T)); none: off")
	fs.Lookup("calibrate").NoOptDefVal = calib.PlattMethod
	fs.IntVar(&s.calibFolds, "calib-folds", 0, "fit --calibrate's map and --decision's thresholds on out-of-fold scores of this many heads over the training and validation shares (0: on the validation share alone; default 5 with --calibrate or a precision/recall rule, else 0; head training only)")
	s.fs = fs
	fs.Float64Var(&s.rosPercent, "ros-percent", sampler.DefaultROSPercent, "ml-ros sampler: grow the training set by this percent of cloned minority-label images")
}

// defaultCalibFolds is --calib-folds when --calibrate or a precision/recall rule is
// given (measured on MIML: scripts/calib_study.go).
const defaultCalibFolds = 5

// folds returns --calib-folds as given, else its default: defaultCalibFolds when the
// temperatures or a precision/recall rule need fitting, else 0 (F1 thresholds on the
// validation share, as before).
func (s *samplerFlags) folds() (int, error) {
	if s.fs != nil && s.fs.Changed("calib-folds") {
		if s.calibFolds < 0 || s.calibFolds == 1 {
			return 0, usageErrorf("--calib-folds %d: want 0 (off) or at least 2", s.calibFolds)
		}
		return s.calibFolds, nil
	}
	d, err := calib.ParseDecision(s.decision)
	if s.calibrate != "" || (err == nil && (d.Kind == calib.Precision || d.Kind == calib.Recall)) {
		return defaultCalibFolds, nil
	}
	return 0, nil
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

// calibrateFlag is train's --calibrate [platt|temperature|none]: the calibration
// method, "" when off. A bare --calibrate is platt.
type calibrateFlag string

func (c *calibrateFlag) String() string { return string(*c) }

func (c *calibrateFlag) Set(v string) error {
	switch v {
	case calib.PlattMethod, calib.TemperatureMethod:
		*c = calibrateFlag(v)
	case "true":
		*c = calib.PlattMethod
	case "none", "false":
		*c = ""
	default:
		return fmt.Errorf("want platt, temperature or none")
	}
	return nil
}

func (c *calibrateFlag) Type() string { return "method" }

// joinCalibrateValue rewrites "--calibrate METHOD" (a separate word naming a method)
// as "--calibrate=METHOD": the flag's value is optional, so the flag parser alone
// would take the method for a positional argument.
func joinCalibrateValue(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		if a == "--calibrate" && i+1 < len(args) {
			switch args[i+1] {
			case calib.PlattMethod, calib.TemperatureMethod, "none":
				out = append(out, a+"="+args[i+1])
				i++
				continue
			}
		}
		out = append(out, a)
	}
	return out
}
