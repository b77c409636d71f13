#!/usr/bin/env bash
# KV comparison, same machine, same run: skeg-resp3 against Debian's redis-server at equal
# durability, driven by redis-benchmark over loopback.
#   pairs: skeg --durability kernel  vs  redis appendonly yes + appendfsync always
#          skeg --durability relaxed vs  redis appendonly yes + appendfsync everysec
#   tests: set,get,incr,mset with -c 50, at -P 1 and -P 16
#
#   bench/redis_compare.sh [requests=100000] [skeg-bin-dir=build/release/bin]
#   (requests per test at -P 1; pipelined tests run 5x as many)
# Environment: REPEAT=N (default 1) runs every (pipeline, pair) block N times; the table then
# shows the median of each column and of the per-run ratios, and the CSV has one row per run.
# PIPELINES (default "1 16") and PAIRS (default "kernel/always relaxed/everysec") pick blocks;
# OUT (default bench/results/redis_compare.csv) is where the CSV goes.
# Every block starts a fresh redis-server and a fresh skeg-resp3 (empty data directories), so
# background work left by one block (skeg compacting away the previous FLUSHALL, Redis
# rewriting its AOF) cannot slow the next, and waits for the kernel to write back the previous
# block's files (`sync`, then SETTLE seconds, default 2) before it starts, so that writeback
# does not land on whichever server runs first. Which server goes first alternates between runs.
# Prints a Markdown table (skeg/redis ratio per row) and writes bench/results/redis_compare.csv.
# Servers are pinned to CPU 0 and the benchmark client to CPU 1 (2-core machine).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
N="${1:-100000}"
BIN="${2:-$ROOT/build/release/bin}"
OUT="${OUT:-$ROOT/bench/results/redis_compare.csv}"
WORK="$(mktemp -d /tmp/skeg-redis-compare.XXXX)"
PIDS=()
# Stops the servers started so far (each block starts its own) and removes their directories.
stop_all() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; PIDS=(); rm -rf "$WORK"/redis-* "$WORK"/skeg-*; }
trap 'stop_all; rm -rf "$WORK"' EXIT

wait_ping() { for _ in $(seq 100); do redis-cli -p "$1" ping 2>/dev/null | grep -q PONG && return 0; sleep 0.1; done; return 1; }

start_redis() { # port fsync-policy
  mkdir -p "$WORK/redis-$1"
  taskset -c 0 redis-server --port "$1" --bind 127.0.0.1 --save '' --appendonly yes \
    --appendfsync "$2" --dir "$WORK/redis-$1" --daemonize no > "$WORK/redis-$1.log" 2>&1 &
  PIDS+=($!)
  wait_ping "$1"
}
start_skeg() { # port durability
  taskset -c 0 "$BIN/skeg-resp3" --data-dir "$WORK/skeg-$1" --addr "127.0.0.1:$1" \
    --durability "$2" --metrics-port 0 --log-level warn > "$WORK/skeg-$1.log" 2>&1 &
  PIDS+=($!)
  wait_ping "$1"
}
bench() { # port pipeline -> csv lines "test,rps,p50"
  redis-cli -p "$1" flushall > /dev/null
  # Pipelined tests run 5x the requests: at -P 16 100 000 GETs take ~0.15 s, too short a window
  # on a VM whose throughput swings by tens of percent from one moment to the next.
  local n="$N"; [ "$2" -gt 1 ] && n=$((N * 5))
  taskset -c 1 redis-benchmark -h 127.0.0.1 -p "$1" -t set,get,incr,mset -n "$n" -r 100000 \
    -d 100 -c 50 -P "$2" --csv 2>/dev/null | awk -F'","' 'NR>1{gsub(/"/,""); split($0,a,","); print a[1]","a[2]","a[5]}'
}

REPEAT="${REPEAT:-1}"
# Ports below the ephemeral range (32768+), where the benchmark's own client sockets could hold them.
P=$(( 20000 + RANDOM % 10000 ))
mkdir -p "$(dirname "$OUT")"
echo "run,pair,pipeline,test,skeg_rps,redis_rps,ratio,skeg_p50_ms,redis_p50_ms" > "$OUT"
SETTLE="${SETTLE:-2}"
for run in $(seq 1 "$REPEAT"); do
  for pipeline in ${PIPELINES:-1 16}; do
    for pair in ${PAIRS:-kernel/always relaxed/everysec}; do
      IFS=/ read -r durability fsync <<< "$pair"
      sync; sleep "$SETTLE"
      P=$((P + 2))
      start_redis "$P" "$fsync" || { echo "redis-server did not start:" >&2; cat "$WORK/redis-$P.log" >&2; exit 1; }
      start_skeg $((P + 1)) "$durability" || { echo "skeg-resp3 did not start:" >&2; cat "$WORK/skeg-$((P + 1)).log" >&2; exit 1; }
      if [ $((run % 2)) -eq 1 ]; then
        bench $((P + 1)) "$pipeline" > "$WORK/s.csv"; bench "$P" "$pipeline" > "$WORK/r.csv"
      else
        bench "$P" "$pipeline" > "$WORK/r.csv"; bench $((P + 1)) "$pipeline" > "$WORK/s.csv"
      fi
      stop_all
      join -t, <(sort "$WORK/s.csv") <(sort "$WORK/r.csv") | while IFS=, read -r t srps sp50 rrps rp50; do
        ratio=$(awk -v a="$srps" -v b="$rrps" 'BEGIN{printf "%.2f", (b>0)?a/b:0}')
        echo "$run,$pair,$pipeline,$t,$srps,$rrps,$ratio,$sp50,$rp50" >> "$OUT"
      done
    done
  done
done
echo "| durability (skeg/redis) | -P | test | skeg req/s | redis req/s | skeg/redis per run | median skeg/redis | skeg p50 ms | redis p50 ms |"
echo "|---|---:|---|---:|---:|---|---:|---:|---:|"
tail -n +2 "$OUT" | sort -t, -k2,2 -k3,3n -k4,4 -k1,1n | awk -F, '
  function med(s,   a, n, i, j, t) { n = split(s, a, " ");
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
    return (n % 2) ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2 }
  function flush() { if (key != "") printf "| %s | %s | %s | %.0f | %.0f | %s | **%.2f** | %.3f | %.3f |\n", pair, pl, test, med(s), med(r), ratios, med(q), med(sp), med(rp) }
  { k = $2 "," $3 "," $4
    if (k != key) { flush(); key = k; pair = $2; pl = $3; test = $4; s = r = q = sp = rp = ratios = "" }
    s = s " " $5; r = r " " $6; q = q " " $7; sp = sp " " $8; rp = rp " " $9; ratios = ratios (ratios == "" ? "" : " ") $7 }
  END { flush() }'
echo
echo "redis $(redis-server --version | awk '{print $3}'); $REPEAT run(s), medians; $N requests per test at -P 1, $((N * 5)) at -P 16, 100-byte values, 50 clients; servers on CPU 0, client on CPU 1"
