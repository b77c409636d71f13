#!/usr/bin/env bash
# Co-residence: each engine serves query bursts separated by idle gaps while a memory hog (stand-in
# for a local LLM holding its weights) owns all but RESERVE_MIB of RAM; the engine's RSS is sampled
# every 100 ms. Method: ../shared/bench/COResidence.md (this is its run_coresidence.sh, adapted: skeg as
# an engine, memhog compiled into a temp dir, the engine made the OOM killer's preferred victim
# (oom_score_adj 1000) so that global pressure kills it rather than the hog, and a `survived`
# verdict per engine).
#
#   bench/coresidence/run.sh DATASET_DIR [ENGINE ...]
#
# ENGINE: skeg (SKEG_KIND / SKEG_BACKEND below) | hnswlib | faiss-hnsw | usearch-f32 | usearch-i8 |
#         lancedb | faiss-ivfpq-ondisk | any engine of ../shared/bench/run_peer.sh.
#         Default: skeg hnswlib usearch-f32 lancedb faiss-ivfpq-ondisk
# Environment:
#   HOG_MIB        anonymous MiB the hog allocates and touches (default: MemAvailable - RESERVE_MIB,
#                  computed just before each engine's run, after its index is built); 0 = no hog
#   RESERVE_MIB    RAM left to the engine when HOG_MIB is computed (default 2048)
#   CAP_MIB        optional cgroup-v1 memory cap for the engine (anon + page cache it faults in)
#   COLD=1         sync + drop the page cache after the hog is resident, before the engine starts
#   SCHEDULE       default idle:5,burst:3000,idle:10,burst:3000,idle:10,burst:3000,idle:5
#   INTERVAL=0.1   RSS sampling period (s)
#   SERVE_CPUS=0   engine / skeg server CPU list (taskset); CLIENT_CPUS=1: skeg's benchmark client
#   NQ             distinct queries cycled through (default 1000)
#   SKEG_BIN       default <repo>/build/release/bin/skeg
#   SKEG_KIND=f32 SKEG_BACKEND=disk SKEG_CACHE_BYTES=64MiB SKEG_PROTOCOL=resp SKEG_L_SEARCH=64
#   SKEG_BUILD     how skeg's disk index is built: offline = `skeg build --input DS/base.<ext> --output
#                  SKEG_DATA --name bench_<dataset>_<kind>_disk --kind SKEG_KIND --metric <dataset metric>
#                  --R SKEG_R --L SKEG_L --progress lines` (log: SKEG_DATA.build.log); network = ingest
#                  over RESP (VMSET) + CONSOLIDATE with `skeg-bench run --ingest-only`. Default: offline
#                  for a disk backend when the dataset has >= 500 000 rows (meta.json "n", else the base
#                  file's size), else network. SKEG_R=64 SKEG_L=128 (offline only)
#   REUSE=1        reuse built indexes (skeg: $SKEG_BENCH_WORK/skeg-data/<dataset>.<kind>.<backend>)
#   SKEG_BENCH_OUT (default /tmp/skeg-bench/results), SKEG_BENCH_WORK (default /tmp/skeg-bench)
# Output: $SKEG_BENCH_OUT/coresidence/<dataset>.<engine>.hog<MiB>[.cap<MiB>].<time>/ (samples.csv,
# summary.json or skeg.json, engine.jsonl, hog.log, cgroup.txt) and one record per engine appended to
# $SKEG_BENCH_OUT/coresidence.jsonl (read by `bench/skeg-bench report`).
#
# CAUTION: with the default HOG_MIB the machine is left with RESERVE_MIB of RAM: do not run it while
# other people use the machine (their processes may be OOM-killed). Smoke runs: HOG_MIB=512.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
[ $# -ge 1 ] || { sed -n 2,39p "$0"; exit 2; }
DS_ARG="$1"; DS="$(cd "$1" && pwd)"; shift
DSNAME="$(basename "$DS")"
ENGINES=("$@")
[ ${#ENGINES[@]} -gt 0 ] || ENGINES=(skeg hnswlib usearch-f32 lancedb faiss-ivfpq-ondisk)
WORK="${SKEG_BENCH_WORK:-/tmp/skeg-bench}"
OUT="${SKEG_BENCH_OUT:-$WORK/results}"
SHARED_BENCH="${SHARED_BENCH:-$ROOT/../shared/bench}"
RESERVE_MIB="${RESERVE_MIB:-2048}"; CAP_MIB="${CAP_MIB:-}"; COLD="${COLD:-1}"; REUSE="${REUSE:-1}"
export SCHEDULE="${SCHEDULE:-idle:5,burst:3000,idle:10,burst:3000,idle:10,burst:3000,idle:5}"
export NQ="${NQ:-1000}"
INTERVAL="${INTERVAL:-0.1}"; SERVE_CPUS="${SERVE_CPUS-0}"; CLIENT_CPUS="${CLIENT_CPUS-1}"
SKEG_BIN="${SKEG_BIN:-$ROOT/build/release/bin/skeg}"
SKEG_KIND="${SKEG_KIND:-f32}"; SKEG_BACKEND="${SKEG_BACKEND:-disk}"; SKEG_CACHE_BYTES="${SKEG_CACHE_BYTES:-64MiB}"
SKEG_PROTOCOL="${SKEG_PROTOCOL:-resp}"; SKEG_L_SEARCH="${SKEG_L_SEARCH:-64}"
SKEG_BUILD="${SKEG_BUILD:-}"; SKEG_R="${SKEG_R:-64}"; SKEG_L="${SKEG_L:-128}"
BENCH=(/usr/bin/python3 "$ROOT/bench/skeg_bench/skeg_bench.py")
export SKEG_BENCH_PROG=bench/skeg-bench
NSCHED="$(tr ',' '\n' <<<"$SCHEDULE" | grep -c .)"
mkdir -p "$OUT/coresidence"

TMPD="$(mktemp -d /tmp/skeg-cores.XXXXXX)"
cc -O2 -o "$TMPD/memhog" "$SHARED_BENCH/machine/memhog.c" || { echo "cannot compile memhog" >&2; exit 1; }
HOGPID=""; CG=""
cleanup() {
  if [ -n "$HOGPID" ]; then kill "$HOGPID" 2>/dev/null; wait "$HOGPID" 2>/dev/null; HOGPID=""; fi
  if [ -n "$CG" ] && [ -d "$CG" ]; then rmdir "$CG" 2>/dev/null; fi
  CG=""
}
trap 'cleanup; rm -rf "$TMPD"' EXIT

mem_avail_mib() { awk '/MemAvailable/{print int($2/1024)}' /proc/meminfo; }
SP_PREFIX=(); [ -n "$SERVE_CPUS" ] && SP_PREFIX=(taskset -c "$SERVE_CPUS")
CL_PREFIX=(); [ -n "$CLIENT_CPUS" ] && CL_PREFIX=(taskset -c "$CLIENT_CPUS")

for ENGINE in "${ENGINES[@]}"; do
  echo "=== co-residence $ENGINE on $DSNAME $(date +%T)" >&2
  # ---- 1. build the index before the hog exists
  if [ "$ENGINE" = skeg ]; then
    SKEG_DATA="$WORK/skeg-data/$DSNAME.$SKEG_KIND.$SKEG_BACKEND"
    if [ "$REUSE" != 1 ] || [ ! -f "$SKEG_DATA/.built" ]; then
      rm -rf "$SKEG_DATA"; mkdir -p "$(dirname "$SKEG_DATA")"
      # base file, row count and metric of the dataset (for the offline builder and the default)
      read -r SK_BASE SK_N SK_METRIC < <(/usr/bin/python3 - "$DS" <<'PY'
import json, os, sys
d = sys.argv[1]; meta = {}
if os.path.exists(os.path.join(d, "meta.json")):
    meta = json.load(open(os.path.join(d, "meta.json")))
base = next((os.path.join(d, "base." + e) for e in ("fvecs", "bvecs", "npy") if os.path.exists(os.path.join(d, "base." + e))), "")
n = meta.get("n") or 0
if not n and base.endswith("vecs"):
    with open(base, "rb") as f:
        dim = int.from_bytes(f.read(4), "little")
    n = os.path.getsize(base) // (4 + dim * (4 if base.endswith("fvecs") else 1))
m = meta.get("metric") or ("cosine" if "cos" in os.path.basename(d) else "l2")
m = {"cos": "cosine"}.get(m, m)
print(base or "-", int(n), m)
PY
)
      BUILD_MODE="$SKEG_BUILD"
      if [ -z "$BUILD_MODE" ]; then
        if [ "$SKEG_BACKEND" = disk ] && [ "${SK_N:-0}" -ge 500000 ] && [ "$SK_BASE" != - ]; then BUILD_MODE=offline; else BUILD_MODE=network; fi
      fi
      if [ "$BUILD_MODE" = offline ]; then
        SK_NAME="$(tr '-' '_' <<<"bench_${DSNAME}_${SKEG_KIND}_${SKEG_BACKEND}")"
        echo "[coresidence] skeg offline build of $SK_BASE ($SK_N rows, $SK_METRIC) -> $SKEG_DATA ($SK_NAME)" >&2
        "$SKEG_BIN" build --input "$SK_BASE" --output "$SKEG_DATA" --name "$SK_NAME" --kind "$SKEG_KIND" \
          --metric "$SK_METRIC" --R "$SKEG_R" --L "$SKEG_L" --progress lines > "$SKEG_DATA.build.log" 2>&1 \
          || { echo "!!! skeg build failed (log $SKEG_DATA.build.log)" >&2; continue; }
      else
        "${BENCH[@]}" run --dataset "$DS" --kind "$SKEG_KIND" --backend "$SKEG_BACKEND" --protocol "$SKEG_PROTOCOL" \
          --spawn "$SKEG_BIN" --data-dir "$SKEG_DATA" --ingest-only --idle 0 --out-dir "$WORK/skeg-data/logs" >/dev/null \
          || { echo "!!! skeg ingest failed" >&2; continue; }
      fi
      touch "$SKEG_DATA/.built"
    fi
  else
    H="$(STAGE_ONLY=1 "$ROOT/bench/skeg_bench/run_peers.sh" "$DS" "$ENGINE")" || { echo "!!! staging failed" >&2; continue; }
    if [ -z "${METRIC:-}" ]; then
      METRIC="$(/usr/bin/python3 -c 'import json,os,sys; d=sys.argv[1]; p=os.path.join(d,"meta.json"); m=json.load(open(p)).get("metric") if os.path.exists(p) else None; n=os.path.basename(d); m=m or ("cos" if "cos" in n else "l2"); print({"cosine":"cos"}.get(m,m))' "$DS")"
    fi
    export METRIC SKEG_PEERS_OUT="$WORK/peers" IDX_ROOT="$WORK/idx"
    REUSE="$REUSE" BUILD_ONLY=1 "$H/run_peer.sh" "$ENGINE" "$DS" >/dev/null || { echo "!!! $ENGINE build failed" >&2; continue; }
  fi

  # ---- 2. the hog
  HOG="${HOG_MIB:-}"
  [ -n "$HOG" ] || HOG=$(( $(mem_avail_mib) - RESERVE_MIB ))
  [ "$HOG" -lt 0 ] && HOG=0
  RUN="$OUT/coresidence/$DSNAME.$ENGINE.hog$HOG${CAP_MIB:+.cap$CAP_MIB}.$(date +%Y%m%dT%H%M%S)"
  mkdir -p "$RUN"
  if [ "$HOG" -gt 0 ]; then
    "$TMPD/memhog" "$HOG" -1 > "$RUN/hog.log" 2>&1 &
    HOGPID=$!
    # the engine runs with oom_score_adj 1000, so under global pressure the kernel kills it, not the
    # hog (lowering the hog's score as well needs CAP_SYS_RESOURCE, which a container may not have)
    echo -1000 > "/proc/$HOGPID/oom_score_adj" 2>/dev/null || true
    for _ in $(seq 1 1200); do grep -q holding "$RUN/hog.log" && break; kill -0 "$HOGPID" 2>/dev/null || break; sleep 0.5; done
    grep -q holding "$RUN/hog.log" || { echo "!!! hog did not reach $HOG MiB" >&2; cleanup; continue; }
  fi
  echo "MemAvailable_after_hog_mib=$(mem_avail_mib)" >> "$RUN/hog.log"
  echo "[coresidence] hog $HOG MiB (pid ${HOGPID:-none}); MemAvailable $(mem_avail_mib) MiB" >&2
  # ---- 3. cold page cache, 4. optional cgroup cap
  if [ "$COLD" = 1 ]; then sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || echo "warning: cannot drop caches (not root?)" >&2; fi
  if [ -n "$CAP_MIB" ]; then
    CG="/sys/fs/cgroup/memory$(grep ':memory:' /proc/self/cgroup | cut -d: -f3)/skeg_cores.$$"
    mkdir "$CG" && echo $((CAP_MIB << 20)) > "$CG/memory.limit_in_bytes" || { echo "!!! cgroup setup failed" >&2; cleanup; continue; }
  fi
  # ---- 5. the engine follows $SCHEDULE, sampled every $INTERVAL s
  if [ "$ENGINE" = skeg ]; then
    CMD=("${CL_PREFIX[@]}" "${BENCH[@]}" run --dataset "$DS" --kind "$SKEG_KIND" --backend "$SKEG_BACKEND"
         --protocol "$SKEG_PROTOCOL" --spawn "$SKEG_BIN" --data-dir "$SKEG_DATA" --no-ingest --schedule "$SCHEDULE"
         --l-search "$SKEG_L_SEARCH" --threads 1 --nq "$NQ" --cache-bytes "$SKEG_CACHE_BYTES" --server-cpus "$SERVE_CPUS"
         --interval "$INTERVAL" --idle 0 --oom-score-adj 1000 --samples-csv "$RUN/samples.csv" --phase-file "$RUN/phase"
         --out "$RUN/skeg.json" --out-dir "$RUN" ${CG:+--cgroup "$CG"})
    "${CMD[@]}" > /dev/null 2> "$RUN/engine.err"; RC=$?
    REPRO="bench/coresidence/run.sh $DS_ARG skeg  # SKEG_KIND=$SKEG_KIND SKEG_BACKEND=$SKEG_BACKEND SKEG_CACHE_BYTES=$SKEG_CACHE_BYTES SKEG_L_SEARCH=$SKEG_L_SEARCH"
  else
    export PHASE_FILE="$RUN/phase"; echo load > "$PHASE_FILE"
    (
      [ -n "$CG" ] && echo "$BASHPID" > "$CG/cgroup.procs"
      echo 1000 > "/proc/$BASHPID/oom_score_adj" 2>/dev/null
      SERVE_CPUS="$SERVE_CPUS" RUN_MODE=schedule REUSE=1 exec "$H/run_peer.sh" "$ENGINE" "$DS"
    ) > "$RUN/engine.jsonl" 2> "$RUN/engine.err" &
    ENGPID=$!
    /usr/bin/python3 "$H/coresidence/rss_sampler.py" --pid "$ENGPID" --interval "$INTERVAL" --phase-file "$PHASE_FILE" \
      ${CG:+--cgroup "$CG"} --out "$RUN/samples.csv" --label "$ENGINE hog=$HOG cap=${CAP_MIB:-none}" > "$RUN/summary.json" &
    SAMPPID=$!
    wait "$ENGPID"; RC=$?
    wait "$SAMPPID"
    REPRO="bench/coresidence/run.sh $DS_ARG $ENGINE"
  fi
  [ -n "${METRIC:-}" ] && [ "$METRIC" != l2 ] && [ "$ENGINE" != skeg ] && REPRO="METRIC=$METRIC $REPRO"
  REPRO="HOG_MIB=$HOG${CAP_MIB:+ CAP_MIB=$CAP_MIB} COLD=$COLD $REPRO"
  echo "[coresidence] $ENGINE exit $RC" >&2
  if [ -n "$CG" ]; then
    echo "failcnt=$(cat "$CG/memory.failcnt") max_usage_mib=$(( $(cat "$CG/memory.max_usage_in_bytes") >> 20 )) oom_kill=$(awk '/oom_kill /{print $2}' "$CG/memory.oom_control")" > "$RUN/cgroup.txt"
  fi
  cleanup
  # ---- 6. one record
  "${BENCH[@]}" coresidence-record --dir "$RUN" --engine "$([ "$ENGINE" = skeg ] && echo "skeg-$SKEG_KIND-$SKEG_BACKEND-$SKEG_PROTOCOL" || echo "$ENGINE")" \
    --dataset "$DSNAME" --hog-mib "$HOG" --cap-mib "${CAP_MIB:-0}" --cold "$COLD" --rc "$RC" --schedule-len "$NSCHED" \
    --cmd "$REPRO" >> "$OUT/coresidence.jsonl"
done
echo "[coresidence] records in $OUT/coresidence.jsonl" >&2
