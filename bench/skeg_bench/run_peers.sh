#!/usr/bin/env bash
# Runs the peer engines of ../shared/bench on one dataset, writing their JSONL records next to
# skeg's (same file: $SKEG_BENCH_OUT/<dataset>.jsonl), each record with the command that reproduces it.
#
#   bench/skeg_bench/run_peers.sh DATASET_DIR [ENGINE ...]       recall-vs-QPS sweep of each ENGINE
#   bench/skeg_bench/run_peers.sh DATASET_DIR ENGINE key=val ...  one operating point (overrides)
#
# ENGINE: hnswlib faiss-hnsw usearch-f32 usearch-i8 lancedb faiss-ivfpq-ondisk (the default list),
#         or any other engine of ../shared/bench/run_peer.sh (faiss-flat, faiss-ivfpq, usearch-b1, ...).
# Environment:
#   SKEG_BENCH_OUT   results folder (default /tmp/skeg-bench/results)
#   SKEG_BENCH_WORK  staging folder: harness copy, node_modules, peer indexes (default /tmp/skeg-bench)
#   SHARED_BENCH     the shared harness to copy (default <repo>/../shared/bench)
#   METRIC           l2|ip|cos (default: the dataset's meta.json, else cos for a *cosine* folder, else l2)
#   SWEEP=1          sweep (default in the engine-list form); SWEEP=0 = each engine's default point
#   NQ, PASSES, SERVE_CPUS (default 0: serve pinned to CPU 0), COLD, REUSE, BUILD_THREADS: as run_peer.sh
#   STAGE_ONLY=1     only stage the harness (+ npm packages for the listed engines), print its folder
#
# The shared harness is copied, not edited: ../shared is read-only, and npm must install the node
# peers' packages (usearch 2.26.2, @lancedb/lancedb 0.39.0, apache-arrow 18.1.0, pinned by the shared
# package-lock.json) next to peer_node.mjs. `npm ci` rejects that lock with npm >= 11 (it lacks the
# other platforms' optional LanceDB binaries), so the fallback is `npm install` on the same lock, which
# installs the identical versions.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
[ $# -ge 1 ] || { sed -n 2,26p "$0"; exit 2; }
DS_ARG="$1"; DS="$(cd "$1" && pwd)"; shift
DSNAME="$(basename "$DS")"
SHARED_BENCH="${SHARED_BENCH:-$ROOT/../shared/bench}"
WORK="${SKEG_BENCH_WORK:-/tmp/skeg-bench}"
OUT="${SKEG_BENCH_OUT:-$WORK/results}"
H="$WORK/harness"
mkdir -p "$OUT" "$H" "$WORK/peers/results"

ENGINES=(); KV=()
for x in "$@"; do case "$x" in *=*) KV+=("$x") ;; *) ENGINES+=("$x") ;; esac; done
[ ${#ENGINES[@]} -gt 0 ] || ENGINES=(hnswlib faiss-hnsw usearch-f32 usearch-i8 lancedb faiss-ivfpq-ondisk)
if [ ${#KV[@]} -gt 0 ]; then
  [ ${#ENGINES[@]} -eq 1 ] || { echo "run_peers: key=val overrides need exactly one ENGINE" >&2; exit 2; }
  SWEEP="${SWEEP:-0}"
else
  SWEEP="${SWEEP:-1}"
fi

if [ -z "${METRIC:-}" ]; then
  METRIC="$(/usr/bin/python3 - "$DS" <<'PY'
import json, os, sys
ds = sys.argv[1]; p = os.path.join(ds, "meta.json")
m = json.load(open(p)).get("metric") if os.path.exists(p) else None
name = os.path.basename(ds)
if m is None:
    m = "cos" if ("cos" in name or "angular" in name) else "l2"
print({"cosine": "cos", "euclidean": "l2", "dot": "ip"}.get(m, m))
PY
)"
fi
export METRIC

# ---- stage the harness (copy of ../shared/bench) and its node packages
stage() {
  mkdir -p "$H/py" "$H/node" "$H/coresidence" "$H/machine"
  cp -f "$SHARED_BENCH/run_peer.sh" "$H/"
  cp -f "$SHARED_BENCH"/py/*.py "$H/py/"
  cp -f "$SHARED_BENCH/node/peer_node.mjs" "$SHARED_BENCH/node/package.json" "$H/node/"
  cp -f "$SHARED_BENCH/coresidence/rss_sampler.py" "$H/coresidence/"
  cp -f "$SHARED_BENCH/machine/memhog.c" "$H/machine/"
  chmod -R u+w "$H"
  chmod +x "$H/run_peer.sh"
}
need_node=0
for e in "${ENGINES[@]}"; do case "$e" in usearch*|lancedb) need_node=1 ;; esac; done
stage
if [ "$need_node" = 1 ]; then
  if ! cmp -s "$SHARED_BENCH/node/package-lock.json" "$H/node/.lock.src" || [ ! -d "$H/node/node_modules" ]; then
    echo "[run_peers] installing node packages into $H/node (npm registry)" >&2
    cp -f "$SHARED_BENCH/node/package-lock.json" "$H/node/package-lock.json"
    chmod u+w "$H/node/package-lock.json"
    ( cd "$H/node" && { npm ci --no-audit --no-fund >npm.log 2>&1 || npm install --no-audit --no-fund >>npm.log 2>&1; } ) \
      || { echo "[run_peers] npm install failed, see $H/node/npm.log" >&2; exit 1; }
    cp -f "$SHARED_BENCH/node/package-lock.json" "$H/node/.lock.src"
  fi
  ( cd "$H/node" && node -e "require('usearch')" && node --input-type=module -e "await import('@lancedb/lancedb')" ) \
    || { echo "[run_peers] node peers do not load (see $H/node/npm.log)" >&2; exit 1; }
fi
/usr/bin/python3 -c "import numpy, hnswlib, faiss" 2>/dev/null \
  || echo "[run_peers] warning: python peers need python3-numpy python3-hnswlib python3-faiss (apt)" >&2
[ "${STAGE_ONLY:-0}" = 1 ] && { echo "$H"; exit 0; }

# ---- run
RESULTS="$OUT/$DSNAME.jsonl"
for e in "${ENGINES[@]}"; do
  echo "=== $e on $DSNAME (METRIC=$METRIC SWEEP=$SWEEP) $(date +%T)" >&2
  TMPRES="$(mktemp "$WORK/peer-records.XXXXXX")"
  SWEEP="$SWEEP" RESULTS="$TMPRES" SKEG_PEERS_OUT="$WORK/peers" IDX_ROOT="${IDX_ROOT:-$WORK/idx}" \
    "$H/run_peer.sh" "$e" "$DS" ${KV[@]+"${KV[@]}"} >/dev/null || echo "!!! $e failed (log: $WORK/peers/results/)" >&2
  # add the reproducing command to each record, append next to skeg's records
  /usr/bin/python3 - "$TMPRES" "$RESULTS" "$DS_ARG" "$e" "$METRIC" ${KV[@]+"${KV[@]}"} <<'PY'
import json, shlex, sys
src, dst, ds, engine, metric, *kv = sys.argv[1:]
with open(src) as f, open(dst, "a") as out:
    for line in f:
        line = line.strip()
        if not line.startswith("{"):
            continue
        r = json.loads(line)
        pt = dict(r.get("search_params") or {})
        pt.update(dict(x.split("=", 1) for x in kv))
        args = [f"{k}={v}" for k, v in pt.items()]
        env = f"METRIC={metric} " if metric != "l2" else ""
        env += "COLD=1 " if r.get("cold") else ""
        r["cmd"] = env + shlex.join(["bench/skeg_bench/run_peers.sh", ds, engine] + args)
        r["sweep_cmd"] = env + shlex.join(["bench/skeg_bench/run_peers.sh", ds, engine])
        r["harness"] = "../shared/bench/run_peer.sh (staged copy)"
        out.write(json.dumps(r) + "\n")
        print(f"[run_peers] {engine} {' '.join(args)}: recall@10 {r['recall_at_10']:.4f} qps {r['qps']:.0f} "
              f"p99 {r['p99_ms']:.3f} ms", file=sys.stderr)
PY
  rm -f "$TMPRES"
done
echo "[run_peers] records appended to $RESULTS" >&2
