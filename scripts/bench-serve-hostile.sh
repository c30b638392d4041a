#!/usr/bin/env bash
# Measures `multilabel serve` under hostile clients the way issue 17 states its targets:
# the server pinned to one core, the load generator (`multilabel bench serve --url`) to
# another, so that neither steals the other's CPU; each hostile run is paired with a
# baseline run (same load, no hostile clients) right before it, and the pairs repeat to
# show the noise.
#
#   scripts/bench-serve-hostile.sh MODEL.mlb IMAGE.jpg [REPEATS] [DURATION] [MODES]
#
# MODES (default "bomb slow"): bomb = 4 clients looping the 616 KB PNG bomb; mpbomb =
# 4 clients looping a 32-part multipart request of it; slow = 256 connections sending
# their body at 1 byte/s. The real traffic is c=16 closed-loop requests of IMAGE.
# Environment: MULTILABEL (the binary, default multilabel), SERVER_CPU (0), LOAD_CPU (1),
# SERVER_BIN (the server binary, default $MULTILABEL: to compare two builds), PORT
# (18081), CONC (16).
set -euo pipefail
model=$1 image=$2 repeats=${3:-3} duration=${4:-15s} modes=${5:-bomb slow}
bin=${MULTILABEL:-multilabel}
server_bin=${SERVER_BIN:-$bin}
port=${PORT:-18081} conc=${CONC:-16}
url=http://127.0.0.1:$port/v1/predict
taskset -c "${SERVER_CPU:-0}" "$server_bin" serve --model "$model" --addr 127.0.0.1:$port 2>serve.log &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -sf http://127.0.0.1:$port/healthz >/dev/null && break
  sleep 0.1
done
load() { taskset -c "${LOAD_CPU:-1}" "$bin" bench serve --url "$url" --image "$image" --levels "$conc" \
  --duration "$duration" --server-pid $pid --max-requests 0 "$@"; }
echo "# $(uptime)"
for r in $(seq "$repeats"); do
  for m in $modes; do
    echo "## repeat $r: baseline"; load
    case $m in
      bomb) echo "## repeat $r: 4 PNG-bomb clients"; load --png-bomb 4 ;;
      mpbomb) echo "## repeat $r: 4 clients of a 32-part PNG bomb"; load --png-bomb 4 --bomb-parts 32 ;;
      slow) echo "## repeat $r: 256 slow bodies"; load --slow-bodies 256 ;;
    esac
  done
done
echo "# $(uptime)"
echo "# server peak RSS: $(grep VmHWM /proc/$pid/status)"
