// Package pipeline runs a training run, the orchestration that `multilabel train` runs:
// load the label source and split it, load the backbone and open one inference engine,
// extract (and cache) the features once, then run the stages on what was prepared: fit
// the head on frozen features, optionally fine-tune the last backbone blocks with it
// (FineTune), and finalize — tune per-class thresholds on the validation set, compute
// validation and test metrics, and build (and write) the model bundle. Reports of a run
// are written by TrainResult.WriteReportFiles.
//
// The result types (TrainResult, FineTuneResult) are those that package model had
// before the split, with their bundles now of type *bundle.Bundle. Two things changed
// with the single run: a fine-tuned model's validation and test scores (and so its
// tuned thresholds) come from the fine-tuning's own forward pass of the kept weights
// (finetune.Result.ValLogits/TestLogits) instead of a third engine on the written-back
// graph — the bundle predicts them to within float rounding (tested to 1e-4); and the
// probe's training record in a fine-tuned bundle keeps the configuration's "out".
package pipeline
