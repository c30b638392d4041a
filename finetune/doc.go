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
// Training runs on GoMLX's pure-Go backend (github.com/gomlx/compute/gobackend), which
// needs nothing installed, or on XLA (CPU or CUDA) through a PJRT plugin, which is much
// faster for convolutions. --backend auto (the default) uses XLA when a plugin is found
// and the binary was built with cgo (the usual case on Linux); --backend go and
// --backend xla force one. The go-xla backend is linked in (backend_xla.go) but loads
// the plugin with dlopen only when asked, and never downloads one. To install a plugin:
// for CPU, put pjrt_c_api_cpu_plugin.so from the gomlx/go-xla releases into
// ~/.local/lib/go-xla (or set PJRT_PLUGIN_LIBRARY_PATH to its directory); for CUDA,
// `pip install "jax[cuda12]"` ships pjrt_c_api_gpu_plugin.so inside the jax_cuda12_plugin
// package — point PJRT_PLUGIN_LIBRARY_PATH at that directory. FindPJRTPlugin lists the
// places searched.
package finetune
