// Package bundle is the .mlb model bundle format: one file holding the feature backbone
// as ONNX, the head weights, the label vocabulary, per-class thresholds, the
// preprocessing spec, the training configuration and history, and the validation/test
// metrics, with a sha256 manifest checked on read. It writes (Bundle.Save), reads and
// verifies (Read, Decode) and exports bundles to one ONNX graph (ExportONNX). It links
// no GoMLX and no training code; package model loads a bundle to predict.
//
// # Bundle format
//
// A bundle is an uncompressed tar archive. Its first member, manifest.json, names the
// format ("multilabel-bundle"), its version and every other member with its size and
// sha256; reading refuses a bundle whose members are missing, extra, resized or whose
// digests differ, naming the member. The other members are:
//
//	backbone.onnx     feature extractor: fp32 ONNX, input [N,C,H,W], output [N,D]
//	backbone.json     where the backbone came from (name, sha256, feature node, dim)
//	head.json         head parameters (headparams.Params)
//	labels.json       label vocabulary (JSON array of strings)
//	thresholds.json   per-label decision thresholds (JSON array of numbers)
//	preprocess.json   image preprocessing (imageio.Spec)
//	training.json     training configuration and per-epoch history (free-form JSON)
//	metrics.json      validation and test metrics (free-form JSON)
//
// The bundle id (Bundle.ID) is the sha256 of the manifest, which pins every member.
package bundle
