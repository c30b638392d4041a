#!/usr/bin/env bash
# MIML study of issue 14's heads on cached frozen SqueezeNet 1.1 features (no
# fine-tuning): each configuration below is trained with `multilabel train --json` on the
# seeded 70/10/20 split, seeds 1-3 (SEEDS), and one JSON line per run is appended to $OUT
# (default /tmp/heads_miml.jsonl). Summarise with
#   /usr/bin/python3 scripts/heads_cooc.py /tmp/heads_miml.jsonl
# (mean ± sd over the seeds of test mAP, CF1, OF1, training seconds, per-label AP).
# A configuration is NAME:POOL:FLAGS (FLAGS space-separated); pick some with CONFIGS
# (NAME:POOL pairs, comma-separated, e.g. CONFIGS=mlp:avg,mlp+flip:avg), default all. The feature cache (CACHE_DIR) is shared by all
# runs, so each view of each image is extracted once.
# Usage: scripts/heads_miml.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=auto
shared=${SHARED:-../shared}
out=${OUT:-/tmp/heads_miml.jsonl}
bin=${BIN:-/tmp/heads_miml_multilabel}
cache=${CACHE_DIR:-/tmp/heads_miml_cache}
seeds=${SEEDS:-1 2 3}
[ -x "$bin" ] && [ -z "${REBUILD:-}" ] || go build -o "$bin" ./cmd/multilabel
args=(--data "$shared/data/miml-scenes/labels_onehot.csv" --backbone "$shared/models/squeezenet1.1/squeezenet1.1-fp16.onnx"
	--split 0.7,0.1,0.2 --cache-dir "$cache")
all=(
	"linear:avg:--head linear"
	"mlp:avg:--head mlp"
	"graph:avg:--head graph"
	"attention:-:--head attention"
	"linear:max:--head linear"
	"mlp:max:--head mlp"
	"graph:max:--head graph"
	"linear:gem:--head linear --epochs 30"
	"mlp:gem:--head mlp --epochs 30"
	"linear+flip:avg:--head linear --feature-views flip"
	"mlp+flip:avg:--head mlp --feature-views flip"
	"graph+flip:avg:--head graph --feature-views flip"
	"attention+flip:-:--head attention --feature-views flip"
	"mlp+flip d0.5:avg:--head mlp --feature-views flip --dropout 0.5"
	"auto+flip:avg:--feature-views flip"
	"auto:avg:"
	"mlp conv10:avg:--head mlp --feature-node conv10_2"
	"linear conv10:avg:--head linear --feature-node conv10_2"
	"mlp conv10+flip:avg:--head mlp --feature-node conv10_2 --feature-views flip"
)
want=",${CONFIGS:-},"
for seed in $seeds; do
	for c in "${all[@]}"; do
		name=${c%%:*} rest=${c#*:}
		pool=${rest%%:*} flags=${rest#*:}
		[ "$want" = ",," ] || [[ $want == *",$name:$pool,"* ]] || continue
		pargs=()
		[ "$pool" = - ] || pargs=(--pool "$pool")
		# shellcheck disable=SC2086 # flags are space-separated words on purpose
		r=$("$bin" train "${args[@]}" "${pargs[@]}" $flags --seed "$seed" --json --quiet 2>/dev/null |
			/usr/bin/python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin)))')
		echo "{\"set\":\"miml\",\"head\":\"$name\",\"pool\":\"$pool\",\"seed\":$seed,\"load\":\"$(cut -d' ' -f1-3 /proc/loadavg)\",\"result\":$r}" >>"$out"
		echo "$name $pool seed $seed done" >&2
	done
done
