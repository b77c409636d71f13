#!/usr/bin/env bash
# Issue-6 measurements of the Vamana disk backend, end to end (RESULTS.md beside this file).
#
#   bench/disk_index/run_all.sh [STEP ...]      steps: data builds recall sweep rss io report
#                                               (default: all, in that order; `peers` = the peers alone)
# Environment:
#   BIN        skeg binary (default build/release/bin/skeg)
#   W          work folder: data dirs, logs, JSONL (default /tmp/skeg-disk-index)
#   DATA       dataset folder parent (default /tmp/skeg-bench-data)
#   REPS       repetitions of every serve point and of the short builds (default 3)
#   BUILD_REPS repetitions of the full-GloVe builds (default 1: one takes minutes)
#   SMOKE=1    tiny sizes and one rep (checks the scripts, not the engine)
#   NO_PEERS=1 the sweep step without the interleaved peer sweeps
#   BUILDS     builds of the builds step (default "10k 100k-tight 100k full-tight full"; also: 200k)
#   RECALL_DBS data dirs of the recall step (default "g100k:<glove-100k> g100k-tight:... gfull:... gfull-tight:...")
# Every step appends JSONL records to $W/results/*.jsonl; `report` turns them into markdown
# ($W/results/report.md) and bench/results/disk_index/pareto-glove-100-cosine.png.
# Needs: /usr/bin/python3 with numpy redis matplotlib (+ hnswlib for the peers), node/npm for
# usearch (bench/skeg_bench/run_peers.sh stages the shared harness and its npm packages).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"
BIN="${BIN:-build/release/bin/skeg}"
W="${W:-/tmp/skeg-disk-index}"
DATA="${DATA:-/tmp/skeg-bench-data}"
REPS="${REPS:-3}"
BUILD_REPS="${BUILD_REPS:-1}"
R="$W/results"
DB="$W/db"
PY=/usr/bin/python3
DB_TOOL=(env SKEG_BENCH_PROG=bench/disk_index/diskbench.py "$PY" bench/disk_index/diskbench.py)
G100=../shared/data/glove-100-cosine
G10K="$DATA/glove-10k-cosine"
GFULL="$DATA/glove-full"
G200K="$DATA/glove-full-200k"
mkdir -p "$R" "$DB"
STEPS=("$@"); [ ${#STEPS[@]} -gt 0 ] || STEPS=(data builds recall sweep rss io report)

L_SWEEP=16,32,64,100,150,200; W_SWEEP=1,2,4,8; CACHES=32MiB,256MiB
TIGHT_100K=40MiB; TIGHT_FULL=40MiB
if [ "${SMOKE:-0}" = 1 ]; then L_SWEEP=16,100; W_SWEEP=default; CACHES=32MiB; REPS=1; G100="$G10K"; fi

say() { echo "=== [run_all $(date +%T)] $* | $(uptime)" >&2; }
run() { echo "+ $*" >&2; "$@"; }

for step in "${STEPS[@]}"; do
  case "$step" in
  data)
    say "data"
    [ -f "$GFULL/gt.ivecs" ] || run "$PY" bench/disk_index/glove_full.py --out "$GFULL"
    [ -f "$G10K/gt.ivecs" ] || run bench/skeg-bench subset --dataset "$G100" --n 10000 --nq 1000 --out "$G10K"
    # an extra point for the RSS slope: the first 200 000 rows of the full set (same 1 000 queries)
    [ "${SMOKE:-0}" = 1 ] || [ -f "$G200K/gt.ivecs" ] || run bench/skeg-bench subset --dataset "$GFULL" --n 200000 --nq 1000 --out "$G200K"
    ;;
  builds)  # measurement 3: build time and peak RSS; default (in-RAM) and tight budget (partitioned)
    say "builds"
    for b in ${BUILDS:-10k 100k-tight 100k full-tight full}; do
      case "$b" in
        10k)        args=(--input "$G10K/base.fvecs" --db "$DB/g10k" --reps 1) ;;
        100k)       args=(--input "$G100/base.fvecs" --db "$DB/g100k" --reps "$REPS") ;;
        200k)       args=(--input "$G200K/base.fvecs" --db "$DB/g200k" --reps 1) ;;
        100k-tight) args=(--input "$G100/base.fvecs" --db "$DB/g100k-tight" --reps "$REPS" --build-memory-bytes "$TIGHT_100K") ;;
        full)       args=(--input "$GFULL/base.fvecs" --db "$DB/gfull" --reps "$BUILD_REPS") ;;
        full-tight) args=(--input "$GFULL/base.fvecs" --db "$DB/gfull-tight" --reps "$BUILD_REPS" --build-memory-bytes "$TIGHT_FULL") ;;
        *) echo "unknown build $b" >&2; exit 2 ;;
      esac
      [ "${SMOKE:-0}" = 1 ] && [[ "$b" == full* || "$b" == 200k ]] && continue
      label="build-$b"; [[ "$b" == *tight ]] || label="build-$b-default"
      run "${DB_TOOL[@]}" build --bin "$BIN" "${args[@]}" --label "$label" --out "$R/builds.jsonl"
    done
    ;;
  recall)  # recall@10 of every build at the default l_search (VSEARCH l_search 0 = the server's 100), W default
    say "recall at default l_search"
    for b in ${RECALL_DBS:-g100k:$G100 g100k-tight:$G100 gfull:$GFULL gfull-tight:$GFULL}; do
      d="${b%%:*}"; ds="${b#*:}"
      [ -d "$DB/$d" ] || continue
      run "${DB_TOOL[@]}" serve --bin "$BIN" --db "$DB/$d" --dataset "$ds" --cache 32MiB --l-search 0 --threads 1,2 \
        --reps "$REPS" --label "recall-$d" --out "$R/recall.jsonl"
    done
    ;;
  sweep)  # measurement 1: L x W x clients x cache on glove-100k, each rep followed by one peer sweep
          # (hnswlib + usearch-f32 of the shared harness; index built at rep 1, reused after)
    say "sweep + peers"
    for i in $(seq 1 "$REPS"); do
      run "${DB_TOOL[@]}" serve --bin "$BIN" --db "$DB/g100k" --dataset "$G100" --cache "$CACHES" --beam-width "$W_SWEEP" \
        --l-search "$L_SWEEP" --threads 1,2 --reps 1 --first-rep "$i" --ping --label sweep-100k --out "$R/sweep.jsonl"
      [ "${NO_PEERS:-0}" = 1 ] && continue
      say "peers rep $i"
      reuse=1; [ "$i" = 1 ] && [ ! -f "$W/work/idx/$(basename "$G100")/.hnswlib.build.json" ] && reuse=0
      run env REUSE=$reuse SKEG_BENCH_WORK="$W/work" SKEG_BENCH_OUT="$R/peers" \
        bench/skeg_bench/run_peers.sh "$G100" hnswlib usearch-f32
    done
    ;;
  peers)   # the peers alone (REPS sweeps), when the sweep ran with NO_PEERS=1
    say "peers"
    for i in $(seq 1 "$REPS"); do
      reuse=1; [ "$i" = 1 ] && [ ! -f "$W/work/idx/$(basename "$G100")/.hnswlib.build.json" ] && reuse=0
      run env REUSE=$reuse SKEG_BENCH_WORK="$W/work" SKEG_BENCH_OUT="$R/peers" \
        bench/skeg_bench/run_peers.sh "$G100" hnswlib usearch-f32
    done
    ;;
  rss)     # measurement 2: RSS vs index size, cache fixed at 32 MiB, L 100, W default, 1 client, 3 passes
    say "rss vs size"
    for i in $(seq 1 "$REPS"); do
      for b in g10k:$G10K g100k:$G100 g200k:$G200K gfull:$GFULL; do
        d="${b%%:*}"; ds="${b#*:}"
        [ -d "$DB/$d" ] || continue
        run "${DB_TOOL[@]}" serve --bin "$BIN" --db "$DB/$d" --dataset "$ds" --cache 32MiB --l-search 100 --threads 1 \
          --passes 3 --reps 1 --first-rep "$i" --label rss-vs-n --out "$R/rss.jsonl"
      done
    done
    ;;
  io)      # io_uring vs pread on the same index, cache 32 MiB (pass 1 = cold cache), interleaved
    say "io_uring vs pread"
    for i in $(seq 1 "$REPS"); do
      for io in uring pread; do
        run "${DB_TOOL[@]}" serve --bin "$BIN" --db "$DB/g100k" --dataset "$G100" --cache 32MiB --l-search 100 \
          --threads 1,2 --reps 1 --first-rep "$i" --io "$io" --label io-100k --out "$R/io.jsonl"
      done
    done
    ;;
  report)
    say "report"
    mkdir -p bench/results/disk_index
    P=(); PJ="$R/peers/$(basename "$G100").jsonl"; [ -f "$PJ" ] && P=(--peers "$PJ")
    run "${DB_TOOL[@]}" report "$R"/*.jsonl "${P[@]}" --sweep-label sweep-100k --rss-label rss-vs-n \
      --md "$R/report.md" --png-dir bench/results/disk_index >/dev/null
    echo "report: $R/report.md" >&2
    ;;
  *) echo "unknown step $step" >&2; exit 2 ;;
  esac
done
