package main

import (
	"context"
	"io"
	"log/slog"

	"github.com/spf13/pflag"

	"github.com/multilabel/multilabel/pipeline"
)

// defaultSplitSentence states train's default split once, for --help and the README.
const defaultSplitSentence = "Without --val and --test, the data is split 70/10/20 (train/validation/test) by iterative stratification: --split 0.8,0.2, then --val-fraction 0.125 of the train part."

// protocolFlags are train's flags about which images go where.
type protocolFlags struct {
	allowOverlap          bool
	valVOCSet, testVOCSet string
}

func (p *protocolFlags) register(fs *pflag.FlagSet) {
	fs.BoolVar(&p.allowOverlap, "allow-overlap", false, "allow an image (same file or same bytes) in more than one of train, validation and test (default: an error)")
	fs.StringVar(&p.valVOCSet, "val-voc-set", "", "VOC image set of --val when it differs from --voc-set (e.g. val)")
	fs.StringVar(&p.testVOCSet, "test-voc-set", "", "VOC image set of --test when it differs from --voc-set (e.g. test: --data VOC --voc-set trainval --test VOC --test-voc-set test)")
}

// apply sets the protocol options of cfg.
func (p *protocolFlags) apply(cfg *pipeline.TrainConfig) {
	cfg.AllowOverlap, cfg.ValImageSet, cfg.TestImageSet = p.allowOverlap, p.valVOCSet, p.testVOCSet
}

// outputFlags say how much train prints.
type outputFlags struct {
	quiet, verbose bool
}

func (o *outputFlags) register(fs *pflag.FlagSet) {
	fs.BoolVar(&o.quiet, "quiet", false, "print only errors and the final line (no progress, no log)")
	fs.BoolVar(&o.verbose, "verbose", false, "print the per-class tables and all metrics of validation and test (default: a short summary; the report has them too)")
}

// apply lowers the log to errors under --quiet.
func (o *outputFlags) apply(e *env) {
	if o.quiet && e.level.Level() < slog.LevelError {
		e.level.Set(slog.LevelError)
	}
}

func (o *outputFlags) output(asJSON bool, report string) trainOutput {
	return trainOutput{json: asJSON, verbose: o.verbose, quiet: o.quiet, report: report}
}

// checkStrict is readerFlags.checkStrict for train's label sources, reading --val and
// --test with their own VOC image sets when --val-voc-set / --test-voc-set give them.
func (p *protocolFlags) checkStrict(ctx context.Context, rf readerFlags, w io.Writer, data, val, test string) error {
	if p.valVOCSet == "" && p.testVOCSet == "" {
		return rf.checkStrict(ctx, w, rf.images, data, val, test)
	}
	if err := rf.checkStrict(ctx, w, rf.images, data); err != nil {
		return err
	}
	for _, s := range []struct{ path, set string }{{val, p.valVOCSet}, {test, p.testVOCSet}} {
		f := rf
		if s.set != "" {
			f.vocSet = s.set
		}
		if err := f.checkStrict(ctx, w, rf.images, "", s.path); err != nil {
			return err
		}
	}
	return nil
}
