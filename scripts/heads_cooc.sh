#!/usr/bin/env bash
# Measures the heads that ignore label co-occurrence (linear, mlp) against the one that
# uses it (graph: train --head graph) on cached frozen-backbone features, seeds 1-3,
# average and max pooling, through `multilabel train --json` with its defaults. The row
# "graph-noedges" is the ablation: the same head with p = 1e-6 (--graph-p), so each
# label's classifier comes from its own node alone — what the graph head gains over it
# is what the co-occurrence gives; what it gains over linear comes from the
# parametrisation.
# Data sets: MIML (../shared, the 70/10/20 seeded split), coco-mini (../shared: train2017
# annotations as --data with a seeded validation share, val2017 as --test) and the demo
# world (`multilabel demo --quick --out DIR` writes its train/test CSVs and backbone).
# Writes one JSON line per run to $OUT (default /tmp/heads_cooc.jsonl); summarise with
#   /usr/bin/python3 scripts/heads_cooc.py /tmp/heads_cooc.jsonl
# Usage: scripts/heads_cooc.sh [miml|coco|demo ...]   (default: all three)
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=auto
shared=${SHARED:-../shared}
out=${OUT:-/tmp/heads_cooc.jsonl}
bin=${BIN:-/tmp/heads_cooc_multilabel}
go build -o "$bin" ./cmd/multilabel
sets=("$@")
[ ${#sets[@]} -eq 0 ] && sets=(miml coco demo)
sq="$shared/models/squeezenet1.1/squeezenet1.1-fp16.onnx"
for set in "${sets[@]}"; do
	case $set in
	miml) args=(--data "$shared/data/miml-scenes/labels_onehot.csv" --backbone "$sq" --split 0.7,0.1,0.2) pools=(avg max) ;;
	coco) args=(--data "$shared/data/coco-mini/annotations/instances_train2017.json"
		--test "$shared/data/coco-mini/annotations/instances_val2017.json" --backbone "$sq") pools=(avg max) ;;
	demo)
		dd=${DEMO_DIR:-/tmp/heads_cooc_demo}
		[ -f "$dd/data/train.csv" ] || "$bin" demo --quick --out "$dd" >/dev/null
		# The demo's CSVs name images relative to their split folder: prefix them.
		for s in train test; do
			awk -v p="$s" 'NR == 1 {print; next} {print p "/" $0}' "$dd/data/$s.csv" >"$dd/data/$s-paths.csv"
		done
		args=(--data "$dd/data/train-paths.csv" --test "$dd/data/test-paths.csv" --backbone "$dd/backbone.onnx")
		pools=(avg) ;; # the demo CNN's feature cut is already globally pooled
	*) echo "unknown data set $set" >&2; exit 2 ;;
	esac
	for seed in 1 2 3; do
		for pool in "${pools[@]}"; do
			for h in linear mlp graph graph-noedges; do
				hargs=(--head "$h")
				[ "$h" = graph-noedges ] && hargs=(--head graph --graph-p 0.000001)
				r=$("$bin" train "${args[@]}" --pool "$pool" "${hargs[@]}" --seed "$seed" --json 2>/dev/null |
					/usr/bin/python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin)))')
				echo "{\"set\":\"$set\",\"head\":\"$h\",\"pool\":\"$pool\",\"seed\":$seed,\"result\":$r}" >>"$out"
				echo "$set $h $pool seed $seed done" >&2
			done
		done
	done
done
