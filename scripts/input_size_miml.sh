#!/usr/bin/env bash
# MIML study of input resolution for frozen SqueezeNet 1.1 features (issue 14, no
# fine-tuning): `multilabel train --head mlp` on the seeded 70/10/20 split, seeds 1-3
# (SEEDS), at each size in SIZES ("" = the backbone's own 224x224 centre crop; WxH =
# `--input-size WxH`, the whole image squished to that size). One JSON line per run is
# appended to $OUT (default /tmp/input_size_miml.jsonl); summarise with
#   /usr/bin/python3 scripts/heads_cooc.py $OUT
# The feature cache (CACHE_DIR) is shared by all runs: each size is extracted once.
# Usage: SIZES="384x256 480x320" [FLAGS="--hidden 1024"] scripts/input_size_miml.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=auto
shared=${SHARED:-../shared}
out=${OUT:-/tmp/input_size_miml.jsonl}
bin=${BIN:-/tmp/input_size_miml_multilabel}
cache=${CACHE_DIR:-/tmp/heads_miml_cache}
seeds=${SEEDS:-1 2 3}
sizes=${SIZES:-384x256 480x320}
head=${HEAD:-mlp}
flags=${FLAGS:-} # extra train flags, space-separated, e.g. FLAGS="--hidden 1024 --dropout 0.5"
[ -x "$bin" ] && [ -z "${REBUILD:-}" ] || go build -o "$bin" ./cmd/multilabel
args=(--data "$shared/data/miml-scenes/labels_onehot.csv" --backbone "$shared/models/squeezenet1.1/squeezenet1.1-fp16.onnx"
	--split 0.7,0.1,0.2 --cache-dir "$cache" --head "$head")
for size in $sizes; do
	for seed in $seeds; do
		sargs=()
		[ "$size" = 224 ] || sargs=(--input-size "$size")
		# shellcheck disable=SC2086 # flags are space-separated words on purpose
		r=$("$bin" train "${args[@]}" "${sargs[@]}" $flags --seed "$seed" --json --quiet 2>/dev/null |
			/usr/bin/python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin)))')
		echo "{\"set\":\"miml\",\"head\":\"$head $size${flags:+ $flags}\",\"pool\":\"avg\",\"seed\":$seed,\"load\":\"$(cut -d' ' -f1-3 /proc/loadavg)\",\"result\":$r}" >>"$out"
		echo "$head $size seed $seed done" >&2
	done
done
