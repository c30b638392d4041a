// Package model is a loaded multi-label classifier: Load (or New) opens a .mlb bundle
// (package bundle) on an inference engine (engine/auto: ONNX Runtime when its library is
// found, else pure Go), and a Model predicts labels and scores for images or files,
// extracts features, and evaluates on a labelled dataset. It links no training code, so
// a program that only loads and predicts stays small; training runs in package
// pipeline.
package model
