// Package multilabel is the documentation root of the multilabel module: a toolkit that
// builds multi-label image classifiers by transfer learning from pretrained ONNX
// backbones, evaluates them with the metrics papers report, and serves them. The package
// itself holds no code; the library is the packages below, and the `multilabel` command
// (cmd/multilabel) is a thin layer over them — a Go program can do everything the CLI
// does through them.
//
// # The library (public packages)
//
// Data and images:
//
//   - dataset: label-file readers (CSV, COCO, VOC, tar shards), vocabulary, splits, stats.
//   - imageio: safe, size-bounded decoding; resize/crop, normalisation, augmentation, the
//     parallel loader.
//
// Backbones and engines:
//
//   - backbone: load an ONNX classifier, find and cut the feature node, preprocessing
//     spec, the model zoo, weight rewriting.
//   - engine: run a graph on a batch; engine/ort (ONNX Runtime, the fast path),
//     engine/gomlx (pure Go), engine/auto (picks the best available).
//   - featcache: persistent, content-addressed feature store and extraction.
//
// Training:
//
//   - head, loss: GoMLX classification heads and multi-label losses.
//   - train: fits a head on features (the epoch / early-stopping / checkpoint loop).
//   - finetune: fine-tunes the last backbone blocks together with the head.
//   - metric: multi-label metrics, threshold tuning, calibration (plain Go).
//
// Models and their use:
//
//   - bundle: the .mlb model-bundle format: write, read, verify, export to ONNX.
//   - model: a loaded model: predict and evaluate.
//   - pipeline: a training run: splits, backbone, engine and features prepared once;
//     fit → fine-tune → finalize.
//   - report: self-contained HTML + SVG evaluation reports.
//   - serve: the HTTP prediction service (batching, limits, Prometheus metrics).
//   - prediction: the one JSON shape of a prediction (CLI, HTTP, model.Prediction).
//   - errkind: the kinds of error shared by the packages above, matched with errors.Is.
//
// At scale:
//
//   - shard: split work over worker processes (--shard I/N, $JOB_COMPLETION_INDEX),
//     and the manifest-checked row files that a merge joins.
//   - objstore: s3://, gs://, azblob://, file:// through gocloud.dev/blob, with retries.
//   - stage: a run's inputs from object storage to local files and its outputs back.
//
// Everything under internal/ — the demo (internal/demo), its synthetic world
// (internal/synth, internal/synth/cnn), the benchmarks (internal/bench) and small
// helpers — serves the command and the tests and is not part of the library's API.
package multilabel
