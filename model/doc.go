// Package model is a loaded multi-label classifier: Load (or New) opens a .mlb bundle
// (package bundle) on an inference engine (engine/auto: ONNX Runtime when its library is
// found, else pure Go), and a Model predicts labels and scores for images or files,
// extracts features, and evaluates on a labelled dataset. Opened with Options.Explain it
// also draws per-label activation maps — where on the image the head sees each label
// (LabelMap, ExplainFiles, MapWriter) — in the same engine run as the scores. It links
// no training code, so a program that only loads and predicts stays small; training
// runs in package pipeline.
package model
