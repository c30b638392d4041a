#!/usr/bin/env bash
# Measures `multilabel serve` under hostile clients the way issue 17 states its targets:
# the servers pinned to one core, the real-traffic load generator (`multilabel bench
# serve --url`) to another, and the hostile clients in a process of their own (`bench
# serve --hostile-only`), so that they share no Go scheduler with the real clients. Each
# hostile run is paired with a baseline run (same load, no hostile clients) right before
# it, on the same server; with several builds the builds take turns, in reversed order
# every other repeat.
#
#   scripts/bench-serve-hostile.sh MODEL.mlb IMAGE.jpg [REPEATS] [DURATION] [MODES]
#
# MODES (default "bomb slow"): bomb = 4 clients looping the 616 KB PNG bomb; mpbomb =
# 4 clients looping a 32-part multipart request of it; mpbomb-sb = the same with the
# bomb clients' socket send buffer at 256 KiB (--bomb-sndbuf-kb); slow = 256
# connections sending their body at 1 byte/s. The real traffic is c=CONC closed-loop
# requests of IMAGE.
#
# Environment: MULTILABEL (the load binary, default multilabel); SERVERS (builds to
# compare, "NAME=BINARY ...", default "new=$MULTILABEL"), each served on its own port
# from PORT (18081) up; SERVER_CPU (0), LOAD_CPU (1), HOSTILE_CPU (1); SPLIT (1: hostile
# clients in their own process; 0: in the real-traffic process, as before 2026-12-02);
# CONC (16).
#
# Output: a "## rep=R mode=M build=B phase=base|hostile load=L" line before each run,
# then the real-traffic process's JSON row, and for hostile runs "## hostile-process"
# and that process's JSON. scripts/bench-serve-table.py turns it into a table.
set -euo pipefail
model=$1 image=$2 repeats=${3:-3} duration=${4:-15s} modes=${5:-bomb slow}
bin=${MULTILABEL:-multilabel}
servers=${SERVERS:-new=$bin}
port=${PORT:-18081} conc=${CONC:-16} split=${SPLIT:-1}
secs=${duration%s}
names=() pids=() ports=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
for s in $servers; do
  name=${s%%=*} sbin=${s#*=}
  taskset -c "${SERVER_CPU:-0}" "$sbin" serve --model "$model" --addr 127.0.0.1:$port 2>"serve-$name.log" &
  names+=("$name") pids+=($!) ports+=("$port")
  for _ in $(seq 100); do
    curl -sf http://127.0.0.1:$port/healthz >/dev/null && break
    sleep 0.1
  done
  port=$((port + 1))
done
load() { # load PORT PID [hostile flags...]
  local p=$1 pid=$2
  shift 2
  taskset -c "${LOAD_CPU:-1}" "$bin" bench serve --url "http://127.0.0.1:$p/v1/predict" --image "$image" \
    --levels "$conc" --duration "$duration" --server-pid "$pid" --max-requests 0 --json "$@"
}
hostile_flags() {
  case $1 in
    bomb) echo --png-bomb 4 ;;
    mpbomb) echo --png-bomb 4 --bomb-parts 32 ;;
    mpbomb-sb) echo --png-bomb 4 --bomb-parts 32 --bomb-sndbuf-kb 256 ;;
    slow) echo --slow-bodies 256 ;;
    *) echo "unknown mode $1" >&2; exit 2 ;;
  esac
}
echo "# $(uptime)"
for r in $(seq "$repeats"); do
  order=$(seq 0 $((${#names[@]} - 1)))
  [ $((r % 2)) = 0 ] && order=$(echo "$order" | tac)
  for m in $modes; do
    for i in $order; do
      n=${names[$i]} p=${ports[$i]} pid=${pids[$i]}
      echo "## rep=$r mode=$m build=$n phase=base load=$(cut -d' ' -f1 /proc/loadavg)"
      load "$p" "$pid"
      echo "## rep=$r mode=$m build=$n phase=hostile load=$(cut -d' ' -f1 /proc/loadavg)"
      # shellcheck disable=SC2046
      if [ "$split" = 1 ]; then
        # The hostile process outlasts the real one (its warm-up, then DURATION) and
        # is stopped with SIGINT once the real run is done; it prints its row then.
        taskset -c "${HOSTILE_CPU:-1}" "$bin" bench serve --url "http://127.0.0.1:$p/v1/predict" --hostile-only \
          --levels 1 --duration "$((secs + 10))s" --json $(hostile_flags "$m") >hostile.json &
        hpid=$!
        sleep 1
        load "$p" "$pid"
        kill -INT "$hpid"
        wait "$hpid" || true
        echo "## hostile-process"
        cat hostile.json
      else
        load "$p" "$pid" $(hostile_flags "$m")
      fi
    done
  done
done
echo "# $(uptime)"
for i in "${!names[@]}"; do
  echo "# server ${names[$i]} peak RSS: $(grep VmHWM /proc/${pids[$i]}/status)"
done
