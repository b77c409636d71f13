#!/usr/bin/env python3
"""diskbench: issue-6 measurements of skeg's SSD-resident Vamana backend (see RESULTS.md beside this file).

  diskbench.py build --bin BIN --input base.fvecs --db DIR [--name glove] [--reps 3]
                     [--build-memory-bytes B] [--label L] [--out OUT.jsonl] [-- extra skeg build flags]
      Runs `skeg build` REPS times into a fresh DIR (the last one is kept), under /usr/bin/time -v;
      one record per build: wall seconds, the builder's own summary (seconds, peak RSS), time's max RSS,
      CPU %, whether the build was partitioned (its progress lines), load average.

  diskbench.py serve --bin BIN --db DIR --dataset DS [--name glove] [--cache 32MiB,256MiB]
                     [--beam-width default,1,2,4,8] [--l-search 16,32,64,100,200] [--threads 1,2]
                     [--reps 3] [--passes 2] [--nq 1000] [--io uring|pread] [--label L] [--out OUT.jsonl]
      For each rep, cache size and beam width: starts `skeg --mode serve` on DIR (a fresh process, its
      own page cache), then for each l_search x client count sends PASSES passes over the first NQ
      queries (SKEG.VSEARCH over RESP, redis-py, one query in flight per client process; the last pass
      is reported, first_pass_* = pass 1) while sampling /proc/PID/status every 100 ms. One JSONL
      record per (rep, point). `--io pread` sets SKEG_IO_URING=off. W 'default' passes no flag (4).

  diskbench.py report OUT.jsonl ... [--peers PEERS.jsonl] [--md FILE] [--png-dir DIR]
      Medians over the reps of every configuration, tables (markdown), the RSS-vs-size slope, ratios
      against the peers (hnswlib, usearch-f32 from bench/skeg_bench/run_peers.sh), the Pareto PNG.

Client, timing and recall code are bench/skeg_bench/skeg_bench.py's (imported, unchanged).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "bench" / "skeg_bench"))
import skeg_bench as sb  # noqa: E402

PROG = "bench/disk_index/diskbench.py"


def loadavg():
    return [float(x) for x in open("/proc/loadavg").read().split()[:3]]


def bin_id(path):
    st = os.stat(path)
    h = hashlib.sha256(open(path, "rb").read()).hexdigest()[:12]
    return dict(bin=str(path), bin_sha256_12=h, bin_mtime=time.strftime("%Y-%m-%dT%H:%M:%S",
                                                                          time.localtime(st.st_mtime)))


def csv_list(text):
    return [x.strip() for x in str(text).split(",") if x.strip()]


def append(path, rec):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "a") as f:
        f.write(json.dumps(rec) + "\n")


def log(msg):
    sys.stderr.write(f"[diskbench {time.strftime('%H:%M:%S')}] {msg}\n")
    sys.stderr.flush()


# ================================================================================ build
SUMMARY_RE = re.compile(r"built index '(?P<name>[^']+)' in (?P<dir>\S+): n=(?P<n>\d+) dim=(?P<dim>\d+) in "
                        r"(?P<secs>[\d.]+) s \((?P<rate>[^)]*)\); peak RSS (?P<peak>[\d.]+) (?P<unit>[KMGT]i?B|B); "
                        r"index files [^(]*\((?P<bytes>\d+) bytes\)")
UNITS = {"B": 1 / 2**20, "KiB": 1 / 1024, "MiB": 1.0, "GiB": 1024.0, "TiB": 2**20}


def cmd_build(a, extra):
    out = a.out
    for rep in range(1, a.reps + 1):
        if os.path.exists(a.db):
            shutil.rmtree(a.db)
        cmd = [a.bin, "build", "--input", a.input, "--output", a.db, "--name", a.name, "--kind", a.kind,
               "--metric", a.metric, "--progress", "lines"]
        if a.build_memory_bytes:
            cmd += ["--build-memory-bytes", a.build_memory_bytes]
        if a.threads:
            cmd += ["--threads", str(a.threads)]
        cmd += extra
        logf = f"{os.path.splitext(out)[0]}.{a.label}.rep{rep}.build.log"
        la0 = loadavg()
        up0 = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
        log(f"build rep {rep}/{a.reps}: {shlex.join(cmd)}")
        t0 = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        with open(logf, "w") as f:
            f.write(p.stderr)
        if p.returncode != 0:
            raise SystemExit(f"build failed ({p.returncode}), log {logf}:\n" + p.stderr[-2000:])
        m = SUMMARY_RE.search(p.stderr)
        if not m:
            raise SystemExit(f"no summary line in {logf}")
        tv = {}
        for line in p.stderr.splitlines():
            k, _, v = line.strip().partition(": ")
            tv[k] = v
        phases = sorted({ln.split(":")[0] for ln in p.stderr.splitlines()
                         if re.match(r"^[a-z][a-z0-9 ]+: +\d+% ", ln)})
        rec = dict(kind="build", label=a.label, rep=rep, input=a.input, n=int(m["n"]), dim=int(m["dim"]),
                   build_memory_bytes=a.build_memory_bytes or "0 (default: in-RAM)", threads=a.threads or "all",
                   wall_seconds=round(wall, 2), builder_seconds=float(m["secs"]),
                   builder_peak_rss_mib=round(float(m["peak"]) * UNITS[m["unit"]], 1),
                   time_maxrss_mib=round(int(tv["Maximum resident set size (kbytes)"]) / 1024, 1),
                   cpu_pct=int(tv["Percent of CPU this job got"].rstrip("%")),
                   user_s=float(tv["User time (seconds)"]), sys_s=float(tv["System time (seconds)"]),
                   index_bytes=int(m["bytes"]), phases=phases,
                   partitioned=any("partition" in ph for ph in phases),
                   loadavg_before=la0, loadavg_after=loadavg(), uptime_before=up0,
                   cmd=shlex.join(cmd), log=logf, ts=time.strftime("%Y-%m-%dT%H:%M:%S"), **bin_id(a.bin))
        append(out, rec)
        log(f"  {rec['builder_seconds']} s, peak RSS {rec['builder_peak_rss_mib']} MiB (time: "
            f"{rec['time_maxrss_mib']} MiB), cpu {rec['cpu_pct']}%, partitioned={rec['partitioned']}, "
            f"load {la0} -> {rec['loadavg_after']}")
    return 0


# ================================================================================ serve
def ping_floor(addr, n=2000):
    """Client-side latency of PING over the same redis-py client: the per-request floor (loopback TCP,
    RESP encoding, Python) that every skeg VSEARCH latency includes and the in-process peers do not."""
    r = sb.resp_conn(addr)
    lat = np.empty(n)
    for i in range(n):
        t = time.perf_counter_ns()
        r.ping()
        lat[i] = (time.perf_counter_ns() - t) / 1e6
    r.close()
    return dict(p50_ms=round(float(np.percentile(lat, 50)), 4), p99_ms=round(float(np.percentile(lat, 99)), 4))


def rss_stats(rows):
    """p50 / max of RssAnon, RssFile, VmRSS in MiB, unrounded (the sampler reads kB)."""
    out = {}
    for f in ("RssAnon", "RssFile", "VmRSS"):
        v = np.array([r.get(f, 0.0) for r in rows], dtype=np.float64)
        out[f"{f}_p50_mib"] = round(float(np.percentile(v, 50)), 4) if len(v) else None
        out[f"{f}_max_mib"] = round(float(v.max()), 4) if len(v) else None
    return out


class SessionServer(sb.Server):
    """sb.Server, started in a session of its own (setsid): the kernel's autogroup scheduler then
    shares the CPUs between the server, the benchmark clients (this session) and whatever else runs,
    as for a daemon, instead of making the server and its clients share one autogroup's slice."""

    def start(self):
        self.log = open(self.log_path, "ab")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(self.cmd, stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=self._pre,
                                     start_new_session=True)
        return t0


def cmd_serve(a):
    ds = sb.Dataset(a.dataset, nq=a.nq)
    sb._Q_BLOBS = [q.tobytes() for q in ds.queries]
    caches, widths = csv_list(a.cache), csv_list(a.beam_width)
    ls, ts = [int(x) for x in csv_list(a.l_search)], [int(x) for x in csv_list(a.threads)]
    out = a.out
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    bid = bin_id(a.bin)
    base_argv = [PROG] + sys.argv[1:]
    progress = sb.Progress(quiet=True)
    log(f"serve {a.label}: dataset {ds.name} n={ds.n} nq={ds.nq}; cache {caches} W {widths} L {ls} T {ts} "
        f"reps {a.reps} io {a.io}; {bid}")
    for rep in range(a.first_rep, a.first_rep + a.reps):
        for cache in caches:
            for w in widths:
                extra = ["--mode", "serve"] + ([] if w == "default" else ["--beam-width", w]) + shlex.split(a.server_args)
                ns = SimpleNamespace(spawn=a.bin, cache_bytes=cache, workers=a.workers, durability="relaxed",
                                     server_args=shlex.join(extra), server_cpus=a.server_cpus, cgroup="",
                                     oom_score_adj=None)
                stem = f"{os.path.splitext(out)[0]}.{a.label}.c{cache}.w{w}.rep{rep}"
                env_old = os.environ.get("SKEG_IO_URING")
                if a.io == "pread":
                    os.environ["SKEG_IO_URING"] = "off"
                else:
                    os.environ.pop("SKEG_IO_URING", None)
                srv = (SessionServer if a.setsid else sb.Server)(ns, a.db, stem + ".server.log")
                t0 = srv.start()
                if env_old is None:
                    os.environ.pop("SKEG_IO_URING", None)
                else:
                    os.environ["SKEG_IO_URING"] = env_old
                sampler = sb.Sampler(srv.proc.pid, 0.1, stem + ".samples.csv")
                sampler.set_phase("load")
                sampler.start()
                try:
                    srv.wait_ready(t0)
                    admin = sb.resp_conn(srv.resp)
                    info = sb.info_dict(admin, a.name)
                    sb.idle(sampler, progress, "idle:open", 1.0)
                    open_rss = rss_stats(sampler.phase_rows("idle:open"))
                    floor = ping_floor(srv.resp) if a.ping else None
                    for l in ls:
                        for T in ts:
                            pt = dict(l_search=l, clients=T)
                            for p in range(a.passes):
                                name = f"burst:l{l}-c{T}-pass{p + 1}"
                                sampler.set_phase(name)
                                res = sb.run_burst("resp", srv.resp, a.name, 10, l, T, list(range(ds.nq)), progress,
                                                   name, srv.proc.pid)
                                m = sb.burst_metrics(res, ds, list(range(ds.nq)), 10)
                                m["rss"] = rss_stats(sampler.phase_rows(name) or [sampler.latest])
                                if p == 0 and a.passes > 1:
                                    pt.update(first_pass_qps=m["qps"], first_pass_p50_ms=m["p50_ms"],
                                              first_pass_p99_ms=m["p99_ms"], first_pass_recall_at_10=m["recall_at_10"])
                            pt.update(m)
                            rss = pt.pop("rss")
                            narrowed = sb.narrowed_cmd(base_argv, cache=cache, beam_width=w, l_search=l, threads=T,
                                                       reps=1)
                            rec = dict(kind="serve", label=a.label, rep=rep, dataset=ds.name, n=ds.n, d=ds.d,
                                       nq=ds.nq, index=a.name, cache=cache, beam_width=w,
                                       io=a.io, workers=a.workers, passes=a.passes, setsid=a.setsid, **pt,
                                       rss_anon_p50_mib=rss["RssAnon_p50_mib"], rss_anon_max_mib=rss["RssAnon_max_mib"],
                                       rss_file_p50_mib=rss["RssFile_p50_mib"], rss_file_max_mib=rss["RssFile_max_mib"],
                                       vmrss_p50_mib=rss["VmRSS_p50_mib"], vmrss_max_mib=rss["VmRSS_max_mib"],
                                       open_rss_anon_mib=open_rss["RssAnon_p50_mib"],
                                       open_rss_file_mib=open_rss["RssFile_p50_mib"],
                                       vmhwm_mib=round(sampler.latest.get("VmHWM", 0), 1),
                                       index_disk_bytes=info.get("disk_bytes"), index_ram_bytes=info.get("ram_bytes"),
                                       n_vectors=info.get("n_vectors"), ping_floor=floor,
                                       loadavg=loadavg(), startup_seconds=srv.startup_seconds,
                                       server_cmd=srv.cmd, cmd=shlex.join(narrowed),
                                       ts=time.strftime("%Y-%m-%dT%H:%M:%S"), **bid)
                            append(out, rec)
                            log(f"rep {rep} cache {cache} W {w} L {l} T {T}: recall {pt['recall_at_10']:.4f} "
                                f"{pt['qps']:.0f} QPS p50 {pt['p50_ms']:.3f} p99 {pt['p99_ms']:.3f} ms "
                                f"(pass1 {pt.get('first_pass_qps', 0):.0f} QPS) anon {rss['RssAnon_p50_mib']} "
                                f"file {rss['RssFile_p50_mib']} MiB cpu {pt.get('server_cpu_util')} "
                                f"load {rec['loadavg'][0]}")
                            sb.idle(sampler, progress, f"idle:after-l{l}-c{T}", a.idle)
                    admin.close()
                finally:
                    sampler.set_phase("shutdown")
                    rc = srv.stop()
                    sampler.stop()
                    if rc not in (0, -15):
                        log(f"!!! server exit code {rc}; log {stem}.server.log:\n{srv.log_tail()}")
    return 0


# ================================================================================ report
def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def read_jsonl(paths):
    out = []
    for p in paths:
        for line in open(p):
            line = line.strip()
            if line.startswith("{"):
                out.append(json.loads(line))
    return out


SERVE_KEYS = ("label", "dataset", "n", "cache", "beam_width", "io", "l_search", "clients")
SERVE_VALS = ("qps", "p50_ms", "p99_ms", "p999_ms", "mean_ms", "recall_at_10", "first_pass_qps",
              "first_pass_p50_ms", "first_pass_p99_ms", "rss_anon_p50_mib", "rss_anon_max_mib", "rss_file_p50_mib",
              "rss_file_max_mib", "vmrss_p50_mib", "open_rss_anon_mib", "open_rss_file_mib", "server_cpu_util",
              "index_disk_bytes")


def aggregate(recs):
    groups = {}
    for r in recs:
        if r.get("kind") != "serve":
            continue
        groups.setdefault(tuple(r.get(k) for k in SERVE_KEYS), []).append(r)
    rows = []
    for key, rs in groups.items():
        row = dict(zip(SERVE_KEYS, key))
        row["reps"] = len(rs)
        for v in SERVE_VALS:
            row[v] = med([r.get(v) for r in rs])
        row["qps_min"] = min(r["qps"] for r in rs)
        row["qps_max"] = max(r["qps"] for r in rs)
        row["load1"] = [r["loadavg"][0] for r in rs]
        row["ping_p50_ms"] = med([(r.get("ping_floor") or {}).get("p50_ms") for r in rs])
        row["cmd"] = rs[0]["cmd"]
        row["bin"] = sorted({r.get("bin_sha256_12") for r in rs})
        rows.append(row)
    return rows


def peer_rows(recs, engines=("hnswlib", "usearch-f32")):
    groups = {}
    for r in recs:
        if r.get("engine") not in engines or r.get("cold"):
            continue
        key = (r["engine"], json.dumps(r.get("search_params") or r.get("params"), sort_keys=True))
        groups.setdefault(key, []).append(r)
    rows = []
    for (eng, params), rs in groups.items():
        rows.append(dict(engine=eng, params=json.loads(params), reps=len(rs),
                         qps=med([r["qps"] for r in rs]), p50_ms=med([r["p50_ms"] for r in rs]),
                         p99_ms=med([r["p99_ms"] for r in rs]), recall_at_10=med([r["recall_at_10"] for r in rs]),
                         rss_anon=med([r.get("serve_rss_anon_mib") for r in rs]),
                         rss_file=med([r.get("serve_rss_file_mib") for r in rs]),
                         vmrss=med([r.get("steady_rss_mib") for r in rs]),
                         build_seconds=med([r.get("build_seconds") for r in rs]),
                         index_bytes=med([r.get("index_bytes_on_disk") for r in rs]),
                         load1=[r.get("loadavg_1m") for r in rs], cmd=rs[0].get("cmd")))
    return rows


def best_at(rows, target, key="qps"):
    ok = [r for r in rows if r["recall_at_10"] is not None and r["recall_at_10"] >= target]
    return max(ok, key=lambda r: r[key]) if ok else None


def fmt(x, nd=0):
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:,.{nd}f}"
    return f"{x:,}" if isinstance(x, int) else str(x)


def phase_seconds(log_path):
    """{phase: seconds} from a build log's final progress lines ('build pass 1: 100% ... in 2m16s')."""
    out = {}
    try:
        text = open(log_path).read()
    except OSError:
        return out
    for m in re.finditer(r"^([a-z][a-z0-9 ]*): 100% .* in (?:(\d+)h)?(?:(\d+)m)?([\d.]+)s$", text, re.M):
        out[m[1]] = int(m[2] or 0) * 3600 + int(m[3] or 0) * 60 + float(m[4])
    return out


def cmd_report(a):
    recs = read_jsonl(a.inputs)
    peers = peer_rows(read_jsonl(a.peers)) if a.peers else []
    rows = aggregate(recs)
    md = [f"<!-- generated by {PROG} report {' '.join(a.inputs)} --peers {' '.join(a.peers or [])} -->", ""]

    # ---- sweep tables
    for label in sorted({r["label"] for r in rows}):
        rs = sorted([r for r in rows if r["label"] == label],
                    key=lambda r: (r["n"], r["cache"], str(r["beam_width"]), r["io"], r["l_search"], r["clients"]))
        md += [f"### {label}", "",
               "| n | cache | W | io | L | clients | recall@10 | QPS (min-max) | p50 ms | p99 ms | pass-1 QPS | "
               "anon MiB | file MiB | server CPU | reps | load 1m |",
               "|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for r in rs:
            md.append(f"| {r['n']:,} | {r['cache']} | {r['beam_width']} | {r['io']} | {r['l_search']} | {r['clients']} | "
                      f"{r['recall_at_10']:.4f} | {fmt(r['qps'])} ({fmt(r['qps_min'])}-{fmt(r['qps_max'])}) | "
                      f"{r['p50_ms']:.3f} | {r['p99_ms']:.3f} | {fmt(r['first_pass_qps'])} | "
                      f"{fmt(r['rss_anon_p50_mib'], 1)} | {fmt(r['rss_file_p50_mib'], 1)} | "
                      f"{fmt(r['server_cpu_util'], 2)} | {r['reps']} | {'/'.join(str(x) for x in r['load1'])} |")
        md.append("")

    # ---- peers
    if peers:
        md += ["### peers (median of reps)", "",
               "| engine | params | recall@10 | QPS | p50 ms | p99 ms | anon MiB | file MiB | VmRSS MiB | build s | "
               "index MiB | reps | load 1m |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for p in sorted(peers, key=lambda p: (p["engine"], p["recall_at_10"])):
            md.append(f"| {p['engine']} | {' '.join(f'{k}={v}' for k, v in p['params'].items())} | "
                      f"{p['recall_at_10']:.4f} | {fmt(p['qps'])} | {p['p50_ms']:.3f} | {p['p99_ms']:.3f} | "
                      f"{fmt(p['rss_anon'], 1)} | {fmt(p['rss_file'], 1)} | {fmt(p['vmrss'], 1)} | "
                      f"{fmt(p['build_seconds'], 1)} | {fmt((p['index_bytes'] or 0) / 2**20, 1)} | {p['reps']} | "
                      f"{'/'.join(str(x) for x in p['load1'])} |")
        md.append("")

    # ---- ratios at recall targets
    if peers and a.sweep_label:
        sw = [r for r in rows if r["label"] in a.sweep_label.split(",") and r["io"] == "uring"]
        md += ["### skeg vs peers at equal recall@10 (fastest point with recall >= target; ratio = skeg / peer)", "",
               "| skeg point | skeg config | skeg recall | skeg QPS | p50 / p99 ms | anon MiB | hnswlib (recall) | QPS, p99 ms | "
               "anon MiB | usearch-f32 (recall) | QPS, p99 ms | anon MiB | QPS ratio skeg / hnswlib, / usearch | anon RSS ratio |",
               "|---:|---|---:|---:|---|---:|---|---:|---:|---|---:|---:|---|---|"]
        cases = []
        for cache in sorted({r["cache"] for r in sw}):
            for T in (1, 2):
                sel = [r for r in sw if r["cache"] == cache and r["clients"] == T]
                for target in [float(x) for x in a.targets.split(",")]:
                    cases.append((f"recall >= {target}", f"cache {cache}, {T} client(s)", best_at(sel, target), target))
                d = [r for r in sel if r["l_search"] == 100 and str(r["beam_width"]) in ("4", "default")]
                if d:
                    cases.append(("default L=100 W=4", f"cache {cache}, {T} client(s)", d[0],
                                  d[0]["recall_at_10"] - a.recall_tol))
        for what, cfg, s, target in cases:
            if not s:
                md.append(f"| {what} | {cfg}: never reaches it | | | | | | | | | | | | |")
                continue
            h = best_at([p for p in peers if p["engine"] == "hnswlib"], target)
            u = best_at([p for p in peers if p["engine"] == "usearch-f32"], target)

            def ratio(p):
                if not p:
                    return "-"
                x = s["qps"] / p["qps"]
                return ("**LOSES** " if x < 1 else "") + f"{x:.3f}x"

            def rr(p):
                return f"{s['rss_anon_p50_mib'] / p['rss_anon']:.2f}x" if p and p.get("rss_anon") else "-"

            def peer_cell(p):
                if not p:
                    return "- | - | - | "
                prm = " ".join(f"{k}={v}" for k, v in p["params"].items() if k != "rerank")
                return (f"{prm} ({p['recall_at_10']:.4f}) | {fmt(p['qps'])}, p99 {p['p99_ms']:.3f} | "
                        f"{fmt(p['rss_anon'], 1)} | ")
            md.append(f"| {what} | {cfg}, W={s['beam_width']}, L={s['l_search']} | {s['recall_at_10']:.4f} | "
                      f"{fmt(s['qps'])} | {s['p50_ms']:.3f} / {s['p99_ms']:.3f} | {fmt(s['rss_anon_p50_mib'], 1)} | "
                      + peer_cell(h) + peer_cell(u) + f"{ratio(h)} / {ratio(u)} | {rr(h)} / {rr(u)} |")
        md.append("")

    # ---- RSS vs size slope
    if a.rss_label:
        rr_ = sorted([r for r in rows if r["label"] == a.rss_label], key=lambda r: r["n"])
        if len({r["n"] for r in rr_}) >= 2:
            md += [f"### RSS vs index size ({a.rss_label})", "",
                   "| n | index file MiB | recall@10 | QPS | anon p50 MiB | anon max MiB | file p50 MiB | anon after open MiB |",
                   "|---:|---:|---:|---:|---:|---:|---:|---:|"]
            for r in rr_:
                md.append(f"| {r['n']:,} | {fmt((r['index_disk_bytes'] or 0) / 2**20, 1)} | {r['recall_at_10']:.4f} | "
                          f"{fmt(r['qps'])} | {r['rss_anon_p50_mib']:.2f} | {r['rss_anon_max_mib']:.2f} | "
                          f"{r['rss_file_p50_mib']:.2f} | {r['open_rss_anon_mib']:.2f} |")
            for lo in (0, 100000):
                sel = [r for r in rr_ if r["n"] >= lo]
                if len(sel) < 2:
                    continue
                xs = np.array([r["n"] for r in sel], dtype=np.float64)
                md.append(f"- points with n >= {lo:,} ({', '.join(f'{int(x):,}' for x in xs)}):")
                for field in ("rss_anon_p50_mib", "rss_anon_max_mib", "open_rss_anon_mib", "rss_file_p50_mib"):
                    ys = np.array([r[field] for r in sel]) * 2**20
                    slope = np.polyfit(xs, ys, 1)[0]
                    end = (ys[-1] - ys[0]) / (xs[-1] - xs[0])
                    md.append(f"  - {field}: least-squares slope **{slope:.3f} bytes/vector**, end-to-end "
                              f"({int(xs[0]):,} -> {int(xs[-1]):,}) {end:.3f} bytes/vector")
            md.append("")

    # ---- builds
    builds = [r for r in recs if r.get("kind") == "build"]
    if builds:
        md += ["### builds (median of reps)", "",
               "| label | n | memory budget | partitioned | builder s | wall s | CPU s (user+sys) | builder peak RSS MiB | "
               "time max RSS MiB | CPU % | index MiB | reps | load 1m before | phases (s, median) |",
               "|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"]
        bg = {}
        for b in builds:
            bg.setdefault(b["label"], []).append(b)
        for label, bs in bg.items():
            md.append(f"| {label} | {bs[0]['n']:,} | {bs[0]['build_memory_bytes']} | {bs[0]['partitioned']} | "
                      f"{med([b['builder_seconds'] for b in bs]):.1f} | {med([b['wall_seconds'] for b in bs]):.1f} | "
                      f"{med([b['user_s'] + b['sys_s'] for b in bs]):.1f} | "
                      f"{med([b['builder_peak_rss_mib'] for b in bs]):.1f} | {med([b['time_maxrss_mib'] for b in bs]):.1f} | "
                      f"{med([b['cpu_pct'] for b in bs]):.0f} | {bs[0]['index_bytes'] / 2**20:.1f} | {len(bs)} | "
                      f"{'/'.join(str(b['loadavg_before'][0]) for b in bs)} | "
                      + ", ".join(f"{ph} {med([phase_seconds(b['log']).get(ph) for b in bs]):.1f}"
                                  for ph in phase_seconds(bs[0]["log"]) if ph != "check") + " |")
        md.append("")

    text = "\n".join(md) + "\n"
    if a.md:
        with open(a.md, "w") as f:
            f.write(text)
    sys.stdout.write(text)
    if a.png_dir and a.sweep_label:
        plot(rows, peers, a)
    return 0


def pareto(points):
    """Upper-right front of (recall, qps)."""
    pts = sorted(points, key=lambda p: (-p[0], -p[1]))
    front, best = [], -1.0
    for x, y, *rest in pts:
        if y > best:
            front.append((x, y, *rest))
            best = y
    return sorted(front)


def plot(rows, peers, a):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(a.png_dir, exist_ok=True)
    labels = a.sweep_label.split(",")
    sw = [r for r in rows if r["label"] in labels and r["io"] == "uring"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), dpi=80)
    styles = {}
    for cache in sorted({r["cache"] for r in sw}):
        for T in sorted({r["clients"] for r in sw}):
            sel = [r for r in sw if r["cache"] == cache and r["clients"] == T]
            w4 = sorted([r for r in sel if str(r["beam_width"]) in ("4", "default")], key=lambda r: r["l_search"])
            front = pareto([(r["recall_at_10"], r["qps"], r["p99_ms"]) for r in sel])
            lab = f"skeg disk {cache}, {T} client{'s' if T > 1 else ''}"
            ln, = axes[0].plot([p[0] for p in front], [p[1] for p in front], "o-", ms=3, label=lab + " (best W)")
            styles[lab] = ln.get_color()
            if w4:
                axes[0].plot([r["recall_at_10"] for r in w4], [r["qps"] for r in w4], "x:", color=ln.get_color(), ms=4,
                             alpha=0.6)
                axes[1].plot([r["recall_at_10"] for r in w4], [r["p99_ms"] for r in w4], "o-", ms=3, color=ln.get_color(),
                             label=lab + " W=4")
    for eng, mode, mk in (("hnswlib", None, "s-"), ("usearch-f32", "load", "^-"), ("usearch-f32", "view", "v--")):
        ps = sorted([p for p in peers if p["engine"] == eng and p["params"].get("mode") == mode],
                    key=lambda p: p["recall_at_10"])
        name = eng + (f" {mode}" if mode else "")
        if ps:
            axes[0].plot([p["recall_at_10"] for p in ps], [p["qps"] for p in ps], mk, ms=4,
                         label=f"{name} (in-process, 1 thread)")
            axes[1].plot([p["recall_at_10"] for p in ps], [p["p99_ms"] for p in ps], mk, ms=4, label=name)
    axes[0].set_yscale("log")
    axes[0].set_xlabel("recall@10")
    axes[0].set_ylabel("QPS (log)")
    axes[0].set_title("glove-100-cosine 100K: recall vs QPS (x: W=4)")
    axes[1].set_yscale("log")
    axes[1].set_xlabel("recall@10")
    axes[1].set_ylabel("p99 latency ms (log)")
    axes[1].set_title("p99 latency (skeg: W=4)")
    for ax in axes:
        ax.grid(True, which="both", alpha=0.3)
        ax.set_xlim(left=max(0.5, ax.get_xlim()[0]))
    axes[0].legend(fontsize=7, loc="lower left")
    axes[1].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    out = os.path.join(a.png_dir, "pareto-glove-100-cosine.png")
    fig.savefig(out)
    log(f"wrote {out} ({os.path.getsize(out)} bytes)")


# ================================================================================ main
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("--bin", required=True)
    b.add_argument("--input", required=True)
    b.add_argument("--db", required=True, help="output data dir (removed and rebuilt each rep)")
    b.add_argument("--name", default="glove")
    b.add_argument("--kind", default="tq2")
    b.add_argument("--metric", default="cosine")
    b.add_argument("--threads", type=int, default=0)
    b.add_argument("--build-memory-bytes", default="")
    b.add_argument("--reps", type=int, default=1)
    b.add_argument("--label", required=True)
    b.add_argument("--out", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--bin", required=True)
    s.add_argument("--db", required=True)
    s.add_argument("--dataset", required=True)
    s.add_argument("--name", default="glove")
    s.add_argument("--cache", default="32MiB")
    s.add_argument("--beam-width", default="default")
    s.add_argument("--l-search", default="100")
    s.add_argument("--threads", default="1,2")
    s.add_argument("--reps", type=int, default=3)
    s.add_argument("--first-rep", type=int, default=1, help="number of the first rep (records only)")
    s.add_argument("--passes", type=int, default=2)
    s.add_argument("--nq", type=int, default=1000)
    s.add_argument("--io", default="uring", choices=["uring", "pread"])
    s.add_argument("--workers", type=int, default=2)
    s.add_argument("--server-cpus", default="")
    s.add_argument("--server-args", default="")
    s.add_argument("--idle", type=float, default=0.3)
    s.add_argument("--no-setsid", dest="setsid", action="store_false",
                   help="start the server in this session (default: a session of its own, see SessionServer)")
    s.add_argument("--ping", action="store_true", help="measure the PING round-trip floor after startup")
    s.add_argument("--label", required=True)
    s.add_argument("--out", required=True)
    r = sub.add_parser("report")
    r.add_argument("inputs", nargs="+")
    r.add_argument("--peers", nargs="*", default=[])
    r.add_argument("--sweep-label", default="", help="labels of the glove-100k sweep (comma-separated)")
    r.add_argument("--rss-label", default="")
    r.add_argument("--targets", default="0.9,0.95,0.98")
    r.add_argument("--recall-tol", type=float, default=0.005,
                   help="default-point comparison: peer recall >= skeg's minus this")
    r.add_argument("--md", default="")
    r.add_argument("--png-dir", default="")
    argv = sys.argv[1:]
    extra = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    a = ap.parse_args(argv)
    if a.cmd == "build":
        return cmd_build(a, extra)
    if a.cmd == "serve":
        return cmd_serve(a)
    return cmd_report(a)


if __name__ == "__main__":
    sys.exit(main())
