// Package finetune fine-tunes the last blocks of a backbone together with the head.
//
// The backbone's feature graph (an fp32 ONNX graph with a dynamic batch, as
// backbone.FeatureModel makes it) is cut at a block boundary (backbone.Block) into a
// frozen prefix and a trainable tail. The prefix runs in the fast inference engine
// (engine/auto: ONNX Runtime when present); its activations are computed once for
// un-augmented images and kept in memory, or computed on the fly for augmented views.
// The tail is imported into GoMLX with onnx-gomlx, every weight of it fed as a graph
// input, followed by the head (head.ForwardGraph) and the loss (package loss), and
// trained with AdamW using discriminative learning rates: the tail's learning rate is
// the head's times a factor (0.1 by default), with a linear warmup then cosine decay.
// This is the second stage of the fastai schedule; the first, training the head on
// frozen features, is train.Fit, whose head is the starting point here (its feature
// standardisation stays fixed).
//
// Batch normalisation in the tail is frozen by default: its running statistics are fed
// to the graph as constants and only its scale and shift train, which avoids the
// erratic training that batch statistics of small batches give. Config.TrainBN
// (--train-bn) instead rewrites each BatchNormalization of the training graph to
// normalise with the batch's statistics, with the full gradient through them, and
// updates the running statistics from them (ONNX momentum, unbiased variance);
// evaluation and the written-back graph use the running statistics.
//
// For speed on the pure-Go backend the training copy of the tail is rewritten with
// equivalent ops: 2-D convolutions become im2col (strided slices of the padded input)
// and one MatMul, GlobalAveragePool becomes ReduceMean, Identity a multiplication by one
// (GoMLX has no gradient for it). The weights keep their names and layout; tests check
// that the rewritten graph computes what the original computes.
//
// After training the tail's weights are written back into the same feature graph
// (Split.WriteBack replaces the initializers), so a bundle still holds one backbone
// graph and bundle.ExportONNX works unchanged; the tests check that ONNX Runtime, the
// pure-Go engine and the training graph give the same outputs.
//
// # Backends
//
// Training runs on one of three GoMLX backends, chosen by internal/backends (the same
// selection head training in package train uses): ONNX Runtime through
// github.com/gomlx/compute-onnx on the project's pinned library (the one the inference
// engine loads: --ort-lib, $ONNXRUNTIME_LIB, then scripts/install-onnxruntime.sh's
// place; compute-onnx's installer is switched off, nothing is downloaded); XLA (CPU or
// CUDA) through a PJRT plugin; or the pure-Go backend, which needs nothing installed.
// --backend auto (the default) takes ONNX Runtime when its library is found, else XLA
// when a plugin is found (cgo builds), else pure Go, and logs the choice and its reason
// once; Result.Backend and Result.BackendReason record them. --backend onnx, xla and go
// force one. For XLA plugins: for CPU, put pjrt_c_api_cpu_plugin.so from the
// gomlx/go-xla releases into ~/.local/lib/go-xla (or set PJRT_PLUGIN_LIBRARY_PATH to its
// directory); for CUDA, `pip install "jax[cuda12]"` ships pjrt_c_api_gpu_plugin.so
// inside the jax_cuda12_plugin package — point PJRT_PLUGIN_LIBRARY_PATH at that
// directory. FindPJRTPlugin lists the places searched.
//
// # Lowering per backend
//
// compute-onnx v0.1.13 refuses or gets wrong some of GoMLX's gradients: the input
// gradient of a strided convolution (ConvGeneral with input dilation), strided Slice and
// strided average pooling (Pad with interior padding), and overlapping max pooling
// (SelectAndScatter through ScatterElements without reduction="add": an input picked by
// two windows gets one gradient). On ONNX Runtime the tail is therefore lowered further
// (lower_taps.go): convolutions of group 1 without dilation stay native Conv ops (ONNX
// Runtime's kernels), and so do depthwise convolutions (one input channel per group), whose
// gradients are depthwiseGrads (convgrad.go): the input gradient a flipped-kernel
// depthwise Conv of the output gradient with zeros inserted between its rows and columns
// (a Concat and a Reshape), the kernel gradient one grouped Conv over the batch (the
// padded input's images as channels, the output gradient as a kernel dilated by the
// stride). Stride-1 kernel gradients of ordinary convolutions are MatMuls of the output
// gradient with the input's taps (one per tap on large maps, one over their Concat on
// small ones); strided ones with few input channels (RGB stems) take their taps from
// oneHotTaps, one native Conv with one-hot kernels. Every other convolution (grouped with
// several channels per group, as a batched MatMul per group; dilated) is im2col over
// kernel taps cut by one Reshape of the padded
// input into stride phases and unit-step Slices. MaxPool stays a native ONNX MaxPool
// whose gradient is maxPoolGradScatter (poolgrad.go): one native Conv with one-hot
// kernels lays out every tap of every window, ArgMax picks each window's first maximum
// (PyTorch's rule), and one ScatterSum (ScatterND, reduction "add") sums the output
// gradient there, so an input picked by several windows gets all of it; AveragePool is
// the mean of its taps, separably along W then H. Some gradients are GoMLX VJPs
// replaced for ONNX Runtime only (convgrad.go; GoMLX's own on every other backend): a
// native convolution's kernel gradient is one MatMul of the output gradient with the
// im2col of its input (GoMLX's, a convolution over the batch, is slow there); a strided
// one's input gradient (GoMLX's needs input dilation, refused) is one MatMul of the output
// gradient with the kernel summed back into the input by stride phases (plain Pads, a
// Stack and a Reshape: no interior padding, no scatter); and Max /
// Min (ReLU as imported, Clip's bounds) take one comparison as a 0/1 mask and a product,
// same values and ties as GoMLX's, also when one side is a scalar bound; Mul and Div with
// a broadcast operand (elemgrad.go) multiply by it as it is, not by a full-size Expand
// of it; and a batch norm trained with batch statistics (bngrad.go) takes its input
// gradient in closed form, its rewrite's nodes marked while the step graph is built
// (callTail), instead of GoMLX's differentiation of the decomposed mean and variance.
// Frozen batch norms (evaluation, and training without TrainBN) are folded on every
// backend into one per-channel scale and shift computed from the same named weights
// (foldBatchNorms). An op that cannot be lowered there is an error
// wrapping ErrNoGradient that names it — never a wrong gradient. The conformance suite
// (conformance_test.go) checks values and gradients of every op against PyTorch on every
// available backend, and TestONNXGaps confirms each gap that the lowering works around.
package finetune
