#!/usr/bin/env bash
# Fine-tuning speed, same run: SqueezeNet 1.1 training steps (AdamW, BCE, linear head,
# 5 labels) in GoMLX on ONNX Runtime (sub-benchmark /onnx) and pure Go (/go) (package finetune: the tail-only design, fire9 on cached
# fire8 activations, batch 32; and the whole network on 224x224 images, batch 8)
# against PyTorch training the same tail (frozen prefix) and the whole network.
# Prints images/s of each and the ratios. Needs ../shared (SqueezeNet) for the Go side.
# Usage: [BACKEND=onnx|go] scripts/bench_finetune.sh [seconds-per-torch-mode]
# (`multilabel bench train`, i.e. finetune.BenchTrain, measures every row and backend.)
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=auto
secs="${1:-10}"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
go_out=$(go test -run '^$' -bench "^BenchmarkStep(Tail|Whole)\$/^${BACKEND:-onnx}\$" -benchtime 3x ./finetune/ | grep '^BenchmarkStep')
echo "$go_out"
torch_out=$(/usr/bin/python3 scripts/bench_finetune.py --threads "$(nproc)" --seconds "$secs")
echo "$torch_out"
rate() { echo "$1" | grep "$2" | sed -n 's/.* \([0-9.]*\) images\/s.*/\1/p'; }
trate() { echo "$torch_out" | grep "torch $1 " | sed -n 's/.*images_per_s=\([0-9.]*\).*/\1/p'; }
gt=$(rate "$go_out" BenchmarkStepTail); gw=$(rate "$go_out" BenchmarkStepWhole)
tt=$(trate tail); tw=$(trate whole)
awk -v gt="$gt" -v gw="$gw" -v tt="$tt" -v tw="$tw" 'BEGIN {
  printf "images/s  GoMLX (backend '"${BACKEND:-onnx}"'): tail %.2f, whole %.2f | PyTorch: tail %.2f, whole %.2f\n", gt, gw, tt, tw
  printf "tail-only vs whole network in Go: %.1fx faster; Go/PyTorch: tail %.2fx, whole %.2fx\n", gt/gw, gt/tt, gw/tw }'
