#!/usr/bin/env bash
# Head training on cached-feature-sized data (1,200 x 512 random features, 5 labels,
# 100 epochs, batch 64, AdamW + warmup/cosine + clipping + EMA, BCE): Go (train.Fit,
# GoMLX pure-Go backend) against the same training in PyTorch, in the same run.
# Prints wall and CPU seconds of each and the Go/PyTorch ratios (CPU time is the fairer
# figure on a busy machine). PyTorch runs one thread unless TORCH_THREADS is set: on this
# shared 2-core machine its OpenMP threads spin under load (MLP: 145 CPU-s with 2 threads
# against 18 CPU-s with 1). Go uses GOMAXPROCS threads; CPU seconds compare total work.
# The pure-Go backend uses its AVX-512/AVX2 matmul kernels only when built with
# GOEXPERIMENT=simd (set GOEXPERIMENT=simd in the environment to measure that build).
# Usage: scripts/bench_head.sh [linear|mlp] [repeats]
set -euo pipefail
cd "$(dirname "$0")/.."
head_kind="${1:-linear}"
reps="${2:-3}"
export GOTOOLCHAIN=auto
py=/usr/bin/python3
bench=BenchmarkFitLinear
[ "$head_kind" = mlp ] && bench=BenchmarkFitMLP

go_out=$(go test -run '^$' -bench "^${bench}\$" -benchtime 1x -count "$reps" ./train/ | grep "^${bench}")
echo "$go_out"
# Best of the repeats: ns/op is field 3, cpu-s/op field 5.
go_wall=$(echo "$go_out" | awk '{print $3/1e9}' | sort -g | head -1)
go_cpu=$(echo "$go_out" | awk '{print $5}' | sort -g | head -1)
torch_out=$($py scripts/bench_head.py --head "$head_kind" --threads "${TORCH_THREADS:-1}" --repeat "$reps")
echo "$torch_out"
t_wall=$(echo "$torch_out" | sed -n 's/.*wall_s=\([0-9.]*\).*/\1/p')
t_cpu=$(echo "$torch_out" | sed -n 's/.*cpu_s=\([0-9.]*\).*/\1/p')
awk -v gw="$go_wall" -v gc="$go_cpu" -v tw="$t_wall" -v tc="$t_cpu" -v h="$head_kind" 'BEGIN {
  printf "head %s: Go %.2fs wall %.2fs cpu | PyTorch %.2fs wall %.2fs cpu | Go/PyTorch wall %.2fx cpu %.2fx\n", h, gw, gc, tw, tc, gw/tw, gc/tc }'
