// Package pipeline runs a training run, the orchestration that `multilabel train` runs:
// load the label source and split it, load the backbone and open one inference engine,
// extract (and cache) the features once, then run the stages on what was prepared: fit
// the head on frozen features, optionally fine-tune the last backbone blocks with it
// (FineTune), and finalize — tune per-class thresholds on the validation set, compute
// validation and test metrics, and build (and write) the model bundle. Reports of a run
// are written by TrainResult.WriteReportFiles.
//
// The result types (TrainResult, FineTuneResult) are those that package model had
// before the split, with their bundles now of type *bundle.Bundle.
package pipeline
