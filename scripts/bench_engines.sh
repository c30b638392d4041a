#!/usr/bin/env bash
# Benchmarks the engines against PyTorch on the same ONNX graphs, batch 32 at 224x224:
# ResNet-18 and MobileNetV2 exported by PyTorch with random weights (into a temp dir, never
# committed) and the SqueezeNet 1.1 of ../shared. Prints images/s of a bare ONNX Runtime
# session (the ceiling), the project's ONNX Runtime engine, the project's pure-Go engine
# (GO_ITERS iterations, default 1: it is slow) and PyTorch CPU, with the ratios.
#
# Needs: Debian python3-torch and python3-onnx (/usr/bin/python3), the ONNX Runtime library
# (scripts/install-onnxruntime.sh), ../shared for SqueezeNet (skipped when absent).
# Usage: scripts/bench_engines.sh [ITERS] [GO_ITERS]
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=${GOTOOLCHAIN:-auto}
ITERS=${1:-5}
GO_ITERS=${2:-1}
PY=${PYTHON:-/usr/bin/python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?') on $(nproc) cores" >&2
"$PY" scripts/bench_engines.py export "$tmp"
models=(resnet18="$tmp/resnet18.onnx" mobilenetv2="$tmp/mobilenetv2.onnx")
sq=../shared/models/squeezenet1.1/squeezenet1.1-fp16.onnx
sqarg=()
if [[ -f $sq ]]; then
	models+=(squeezenet1.1="$sq")
	sqarg=(--squeezenet "$sq")
else
	echo "note: $sq not found, SqueezeNet skipped" >&2
fi
go run scripts/bench_engines.go -batch 32 -iters "$ITERS" -go-iters "$GO_ITERS" "${models[@]}" | tee "$tmp/results.jsonl"
"$PY" scripts/bench_engines.py bench "$tmp" "${sqarg[@]}" --batch 32 --iters "$ITERS" | tee -a "$tmp/results.jsonl"
echo
"$PY" scripts/bench_engines.py table <"$tmp/results.jsonl"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?') on $(nproc) cores (figures are only comparable on an otherwise idle machine)"
