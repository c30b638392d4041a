#!/usr/bin/env bash
# RSS of `multilabel serve` over time across a reload under load: c=16 real traffic
# (curl, on its own core) for 40 s, POST /v1/reload at 5 s, the server's VmRSS printed
# every half second; at the end, the server's Go heap figures from /metrics.
#
#   scripts/bench-serve-reload.sh MODEL.mlb IMAGE.jpg
#
# Environment: MULTILABEL (binary, default multilabel), SERVER_BIN (server binary,
# default $MULTILABEL), SERVER_CPU (0), LOAD_CPU (1), PORT (18091), RELOAD (1; 0: the
# same run without the reload, the control: what the same load alone settles at).
set -euo pipefail
model=$1 image=$2
bin=${MULTILABEL:-multilabel}
server_bin=${SERVER_BIN:-$bin}
port=${PORT:-18091}
MULTILABEL_TOKEN=bench-reload taskset -c "${SERVER_CPU:-0}" "$server_bin" serve --model "$model" --addr 127.0.0.1:$port 2>reload-serve.log &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -sf http://127.0.0.1:$port/healthz >/dev/null && break
  sleep 0.1
done
hdr="Authorization: Bearer bench-reload"
# Reload over HTTP needs a token, which bench serve does not send: the load is 16 curl
# requests at a time.
taskset -c "${LOAD_CPU:-1}" bash -c "end=\$((SECONDS+40)); while [ \$SECONDS -lt \$end ]; do
  for i in \$(seq 16); do curl -s -o /dev/null -H '$hdr' --data-binary @'$image' -H 'Content-Type: image/jpeg' http://127.0.0.1:$port/v1/predict & done; wait; done" &
loadpid=$!
t0=$(date +%s.%N)
echo "# $(uptime)"
for i in $(seq 80); do
  if [ "$i" = 10 ] && [ "${RELOAD:-1}" = 1 ]; then
    curl -s -o /dev/null -w "# reload: %{http_code}\n" -X POST -H "$hdr" http://127.0.0.1:$port/v1/reload &
  fi
  printf '%5.1f s  %s\n' "$(echo "$(date +%s.%N) - $t0" | bc)" "$(grep VmRSS /proc/$pid/status)"
  sleep 0.5
done
wait $loadpid 2>/dev/null || true
echo "# after the load: $(grep -E 'VmRSS|VmHWM' /proc/$pid/status | tr -s ' \t\n' ' ')"
curl -s -H "$hdr" http://127.0.0.1:$port/metrics | grep -E '^go_memstats_(heap_inuse|heap_released|sys)_bytes' | sed 's/^/# /'
