// Package demo runs the project's whole story on a procedurally generated world with no
// downloads: generate a multi-label target task (package internal/synth), load the embedded
// backbone pretrained on the synth source task (or pretrain one afresh), train target
// heads three ways — from scratch, linear probe on transferred features, fine-tuned last
// stage — with BCE and with the asymmetric loss, evaluate them on a held-out test set and
// report a table and an HTML page.
//
// The three ways, all with the same CNN (package internal/synth/cnn) and the same seeds:
//
//   - scratch: the CNN randomly initialised and trained end to end on the target
//     training set, for as many epochs as the fine-tuning gets;
//   - linear-probe: features extracted from the ONNX backbone through exactly the path a
//     real backbone takes (backbone.LoadBytes → FeatureModel → engine/auto → featcache),
//     then a linear head trained by package train;
//   - fine-tune: the pretrained CNN's last residual stage and the probe's head trained
//     together (LP-FT), earlier stages frozen.
//
// The synth run adds GraphProbe rows: the graph head (train's "graph", label
// classifiers from graph convolutions over the training labels' co-occurrence) on the
// probe's features, and, outside the table (Result.Ablation), the same head on an empty
// label graph (GraphNoEdges); the summary states both differences, so that what label
// co-occurrence itself gives is measured, not assumed (on the quick world: -0.003 mAP).
//
// # Real data
//
// RunReal (`multilabel demo --backbone FILE|ZOO --data D`) runs the same comparison on a
// real data set and ONNX backbone, on the seeded split of `multilabel train` (it calls
// model.Train and model.FineTune, which split the data themselves):
//
//   - scratch: training a whole real backbone from random weights is out of reach in
//     pure Go, so the row is the same architecture with seeded random weights
//     (model.RandomizeONNX) whose last block and head are trained, exactly like the
//     fine-tuned row's (ScratchLabel says so in the output);
//   - linear-probe: model.Train on pretrained features (cached by featcache);
//   - fine-tune: model.FineTune with the last block unfrozen (LP-FT).
//
// Metrics are test-set figures at per-class thresholds tuned on the validation split;
// the best model's bundle and an HTML report are written. Methods and Limit (a
// stratified subset) keep a run short.
//
// # The embedded backbone
//
// backbone.onnx (about 130 KB) is the CNN pretrained with DefaultPretrain(). It is
// regenerated, byte for byte, by
//
//	GOTOOLCHAIN=auto go run ./internal/demo/cmd/pretrain
//
// (or `go generate ./internal/demo`; it writes the file atomically through internal/fsutil)
// (24,000 training images in all: about 4 minutes at the ~100 images/s the pure-Go
// backend trains this network on two idle cores; it took 28 minutes on the heavily
// shared machine it was made on; `multilabel demo --pretrain` does the same inside a demo
// run). Its held-out source-task accuracy is 0.289 over 36 classes (chance 0.028). Pretraining is deterministic: the pure-Go backend gives the same bytes with
// GOMAXPROCS 1, 2 and 4 (checked on linux/amd64), and TestPretrainDeterministic checks
// it on a tiny configuration.
package demo
