#!/usr/bin/env python3
"""skeg-bench: benchmark a running skeg server over the network and compare it with the peers.

  bench/skeg-bench run --dataset DIR --kind f32 --backend flat [--protocol resp|native]
                       [--threads 1,2] [--l-search 32,64,100,200] [--k 10] [--nq 1000] [--n N]
                       [--spawn BIN [--data-dir D] [--cache-bytes 32MiB] [--server-cpus 0]]
                       | [--addr HOST:PORT --native-addr HOST:PORT --pid PID]
                       [--schedule idle:5,burst:3000,...] [--out-dir DIR]
  bench/skeg-bench peers DATASET_DIR [ENGINE ...]          (= bench/skeg_bench/run_peers.sh)
  bench/skeg-bench report [RESULTS_DIR|FILE ...] --out-dir DIR
  bench/skeg-bench subset --dataset DIR --n N --nq Q --out DIR2   (smaller set, exact ground truth)
  bench/skeg-bench coresidence-record ...                  (used by bench/coresidence/run.sh)

`run` creates the index (SKEG.VINDEX.CREATE over RESP, which carries the metric), ingests the
dataset with pipelined SKEG.VMSET batches (RESP) or pipelined VSET frames (native), calls
SKEG.VINDEX.CONSOLIDATE for disk indexes, then for every l_search x client count runs a query burst
(each client its own process and connection, one query in flight per client), and measures QPS,
p50/p99/p99.9 latency, recall@10 (and recall@100 with --k 100 when the ground truth has 100
columns). A background thread samples the server's VmRSS / RssAnon / RssFile every 100 ms through
ingest, bursts and the idle gaps between them (needs the server's pid: known with --spawn, else
--pid). Progress goes to stderr; one JSON document to stdout (and --out-dir), one JSONL record per
operating point (fields as in ../shared/bench: qps, p50_ms, p99_ms, recall_at_10,
serve_rss_anon_mib, ...), each with the command that reproduces it. See README.md beside this file.
"""
from __future__ import annotations

import argparse
import csv
import glob
import json
import multiprocessing as mp
import os
import platform
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "clients" / "python"))
sys.path.insert(0, str(ROOT / "bench"))
PROG = os.environ.get("SKEG_BENCH_PROG", "bench/skeg-bench")
DEFAULT_OUT = os.environ.get("SKEG_BENCH_OUT", "/tmp/skeg-bench/results")
TOOL_VERSION = 1

# ================================================================================ datasets
BASE_NAMES = ["base.fvecs", "base.bvecs", "base.npy", "base.fbin", "base.u8bin", "base.i8bin"]
QUERY_NAMES = ["query.fvecs", "query.bvecs", "query.npy", "query.fbin", "query.u8bin", "query.i8bin"]
GT_NAMES = ["gt.ivecs", "gt.npy", "gt.ibin"]
_BIN = {".fbin": np.float32, ".u8bin": np.uint8, ".i8bin": np.int8, ".ibin": np.int32}
# metrics of the shared datasets that carry no meta.json (../shared/data/README.md)
KNOWN_METRICS = {"glove-100-cosine": "cosine", "wordnet-use512-cosine": "cosine", "sift-5k": "l2"}
METRIC_ALIASES = {"cos": "cosine", "cosine": "cosine", "angular": "cosine", "l2": "l2", "euclidean": "l2",
                  "ip": "ip", "dot": "ip"}


def open_vecs(path):
    """(n, d) array view (memory-mapped) of a .fvecs/.ivecs/.bvecs/.npy/.fbin/.u8bin/.i8bin/.ibin file."""
    path = str(path)
    ext = os.path.splitext(path)[1]
    if ext in (".fvecs", ".ivecs"):
        d = int(np.fromfile(path, dtype=np.int32, count=1)[0])
        raw = np.memmap(path, dtype=np.int32, mode="r").reshape(-1, d + 1)
        return raw[:, 1:].view(np.float32) if ext == ".fvecs" else raw[:, 1:]
    if ext == ".bvecs":
        d = int(np.fromfile(path, dtype=np.int32, count=1)[0])
        return np.memmap(path, dtype=np.uint8, mode="r").reshape(-1, d + 4)[:, 4:]
    if ext == ".npy":
        return np.load(path, mmap_mode="r")
    if ext in _BIN:
        n, d = (int(v) for v in np.fromfile(path, dtype=np.int32, count=2))
        return np.memmap(path, dtype=_BIN[ext], mode="r", offset=8, shape=(n, d))
    raise ValueError(f"unknown vector file format: {path}")


def find_file(ds, names, required=True):
    for nm in names:
        p = os.path.join(ds, nm)
        if os.path.exists(p):
            return p
    if required:
        raise SystemExit(f"skeg-bench: none of {names} in {ds}")
    return None


class Dataset:
    def __init__(self, path, nq=1000, n_limit=0, metric=None, gt_k=100):
        self.path = os.path.abspath(path)
        self.name = os.path.basename(os.path.normpath(path))
        meta_path = os.path.join(path, "meta.json")
        self.meta = json.load(open(meta_path)) if os.path.exists(meta_path) else {}
        self.base_path = find_file(path, BASE_NAMES)
        self.base = open_vecs(self.base_path)
        self.n_file, self.d = int(self.base.shape[0]), int(self.base.shape[1])
        self.n = min(self.n_file, n_limit) if n_limit else self.n_file
        q = open_vecs(find_file(path, QUERY_NAMES))
        self.queries = np.ascontiguousarray(q[: min(nq, q.shape[0])], dtype=np.float32)
        self.nq = len(self.queries)
        m = metric or self.meta.get("metric") or KNOWN_METRICS.get(self.name)
        if m is None and ("cos" in self.name or "angular" in self.name):
            m = "cosine"
        if m is None:
            raise SystemExit(f"skeg-bench: metric of {self.name} unknown (no meta.json): pass --metric")
        if m not in METRIC_ALIASES:
            raise SystemExit(f"skeg-bench: unknown metric {m}")
        self.metric = METRIC_ALIASES[m]
        gt_path = find_file(path, GT_NAMES, required=False)
        if gt_path and self.n == self.n_file:
            self.gt = np.ascontiguousarray(open_vecs(gt_path)[: self.nq], dtype=np.int64)
            self.gt_source = os.path.basename(gt_path)
        else:  # subset of the base (or no gt file): exact ground truth by numpy brute force
            import gen_synth  # bench/gen_synth.py

            t0 = time.time()
            sub = self.base[: self.n]
            self.gt = gen_synth.exact_knn(sub, self.queries, min(gt_k, self.n),
                                          {"cosine": "cos", "l2": "l2", "ip": "ip"}[self.metric]).astype(np.int64)
            self.gt_source = f"numpy brute force over the first {self.n} rows ({time.time() - t0:.1f} s)"

    def rows(self, s, e):
        return np.ascontiguousarray(self.base[s:min(e, self.n)], dtype=np.float32)

    def describe(self):
        return dict(name=self.name, path=self.path, n=self.n, n_in_file=self.n_file, d=self.d, nq=self.nq,
                    metric=self.metric, gt_source=self.gt_source, gt_k=int(self.gt.shape[1]),
                    base_file=os.path.basename(self.base_path), base_dtype=str(self.base.dtype))


def recall_at(ids, gt, at):
    """Mean |first `at` result ids ∩ first `at` gt ids| / at."""
    hit = 0
    for r, g in zip(ids, gt):
        hit += len(set(int(x) for x in r[:at] if x >= 0) & set(int(x) for x in g[:at]))
    return hit / (len(gt) * at)


# ================================================================================ RSS sampling
STATUS_FIELDS = ("VmRSS", "RssAnon", "RssFile", "RssShmem", "VmSwap", "VmHWM")
CSV_COLS = ["t", "phase", "VmRSS", "RssAnon", "RssFile", "RssShmem", "VmSwap", "MemAvailable", "Cached",
            "MemFree", "cg_usage", "cg_cache", "cg_rss", "cg_mapped_file"]


def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in STATUS_FIELDS:
                out[k] = int(v.split()[0]) / 1024.0
    return out


def meminfo():
    out = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("MemAvailable", "Cached", "MemFree"):
                out[k] = int(v.split()[0]) / 1024.0
    return out


def cgroup_stats(d):
    out = {}
    try:
        out["cg_usage"] = int(open(os.path.join(d, "memory.usage_in_bytes")).read()) / 2**20
        for line in open(os.path.join(d, "memory.stat")):
            k, v = line.split()
            if k in ("total_cache", "total_rss", "total_mapped_file"):
                out["cg_" + k[6:]] = int(v) / 2**20
    except OSError:
        pass
    return out


def proc_cpu_seconds(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            parts = f.read().rsplit(")", 1)[1].split()
        return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def pctl(xs, p):
    if not len(xs):
        return None
    return round(float(np.percentile(np.asarray(xs, dtype=np.float64), p)), 1)


def phase_kind(name):
    return name.split(":")[0].rstrip("0123456789") or name


class Sampler(threading.Thread):
    """Samples /proc/PID/status (+ /proc/meminfo, optional cgroup-v1 stats) every `interval` s; every
    sample carries the current phase name. Same CSV columns as ../shared/bench/coresidence/rss_sampler.py."""

    def __init__(self, pid, interval=0.1, csv_path=None, phase_file=None, cgroup=None):
        super().__init__(daemon=True)
        self.pid, self.interval, self.csv_path, self.phase_file, self.cgroup = pid, interval, csv_path, phase_file, cgroup
        self.phase = "start"
        self.rows = []
        self.latest = {}
        self.pid_gone = False
        self._stop_evt = threading.Event()
        self._lock = threading.Lock()
        self._w = None
        self.t0 = time.monotonic()

    def set_phase(self, name):
        if self.is_alive() and self.phase != name:
            self.sample()  # every phase, however short, ends with at least one sample
        self.phase = name
        if self.phase_file:
            with open(self.phase_file + ".tmp", "w") as f:
                f.write(name)
            os.replace(self.phase_file + ".tmp", self.phase_file)

    def run(self):
        fo = open(self.csv_path, "w", newline="") if self.csv_path else None
        w = csv.DictWriter(fo, fieldnames=CSV_COLS, extrasaction="ignore") if fo else None
        if w:
            w.writeheader()
        self._w = w
        nxt = time.monotonic()
        while not self._stop_evt.is_set():
            if not self.sample():
                break
            nxt += self.interval
            self._stop_evt.wait(max(0.0, nxt - time.monotonic()))
        with self._lock:
            self._w = None
            if fo:
                fo.close()

    def sample(self):
        """Takes one sample now (sampler thread, or the main thread at a phase change)."""
        with self._lock:
            try:
                st = proc_status(self.pid)
            except (FileNotFoundError, ProcessLookupError):
                self.pid_gone = True
                return False
            row = dict(t=round(time.monotonic() - self.t0, 3), phase=self.phase, **st, **meminfo())
            if self.cgroup:
                row.update(cgroup_stats(self.cgroup))
            self.rows.append(row)
            self.latest = row
            if self._w:
                self._w.writerow({k: (round(v, 2) if isinstance(v, float) else v) for k, v in row.items()})
            return True

    def stop(self):
        self._stop_evt.set()
        self.join(timeout=5)

    @staticmethod
    def _summ(rows, cg):
        out = dict(n=len(rows))
        for f in ("VmRSS", "RssAnon", "RssFile"):
            vals = [r.get(f, 0.0) for r in rows]
            out[f"{f}_p50_mib"] = pctl(vals, 50)
            out[f"{f}_max_mib"] = pctl(vals, 100)
        out["MemAvailable_min_mib"] = pctl([r["MemAvailable"] for r in rows if "MemAvailable" in r], 0)
        if cg:
            out["cg_usage_max_mib"] = pctl([r.get("cg_usage", 0.0) for r in rows], 100)
        return out

    def summary(self):
        """rss_sampler.py's format: per phase kind ('burst', 'idle', 'ingest', 'load', ..., 'all') plus
        'phases': per exact phase name; p50 / max of VmRSS, RssAnon, RssFile in MiB."""
        rows = list(self.rows)
        out = dict(pid=self.pid, interval_s=self.interval, samples=len(rows),
                   seconds=rows[-1]["t"] if rows else 0, all=self._summ(rows, self.cgroup), phases={})
        kinds, names = {}, {}
        for r in rows:
            kinds.setdefault(phase_kind(r["phase"]), []).append(r)
            names.setdefault(r["phase"], []).append(r)
        for k, rs in kinds.items():
            out[k] = self._summ(rs, self.cgroup)
        for k, rs in names.items():
            out["phases"][k] = self._summ(rs, self.cgroup)
        return out

    def phase_rows(self, name):
        return [r for r in self.rows if r["phase"] == name]


# ================================================================================ progress
class Progress:
    def __init__(self, quiet=False):
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.last = 0.0
        self.sampler = None

    def _rss(self):
        s = self.sampler.latest if self.sampler else None
        if not s:
            return ""
        return f"  rss {s.get('VmRSS', 0):.0f} MiB (anon {s.get('RssAnon', 0):.0f} / file {s.get('RssFile', 0):.0f})"

    def update(self, msg):
        if self.quiet:
            return
        now = time.monotonic()
        if self.tty and now - self.last >= 0.2:
            sys.stderr.write("\r\x1b[2K[skeg-bench] " + msg + self._rss())
            sys.stderr.flush()
            self.last = now
        elif not self.tty and now - self.last >= 5.0:
            sys.stderr.write("[skeg-bench] " + msg + self._rss() + "\n")
            self.last = now

    def line(self, msg):
        if self.quiet:
            return
        sys.stderr.write(("\r\x1b[2K" if self.tty else "") + "[skeg-bench] " + msg + self._rss() + "\n")
        sys.stderr.flush()
        self.last = 0.0


# ================================================================================ server
def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_addr(text, default_port):
    host, _, port = (text or "").rpartition(":")
    if not host:
        return text or "127.0.0.1", default_port
    return host, int(port)


def dir_bytes(path):
    tot = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                tot += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    return tot


class Server:
    """A skeg process this tool starts (its pid is then known for RSS sampling)."""

    def __init__(self, a, data_dir, log_path):
        self.bin = os.path.abspath(a.spawn)
        self.data_dir = data_dir
        self.log_path = log_path
        self.resp = ("127.0.0.1", free_port())
        self.native = ("127.0.0.1", free_port())
        cmd = [self.bin, "--data-dir", data_dir, "--addr", f"127.0.0.1:{self.native[1]}",
               "--resp-addr", f"127.0.0.1:{self.resp[1]}", "--metrics-port", "0",
               "--durability", a.durability, "--log-level", "info"]
        if a.cache_bytes:
            cmd += ["--cache-bytes", a.cache_bytes]
        if a.workers:
            cmd += ["--workers", str(a.workers)]
        cmd += shlex.split(a.server_args or "")
        if a.server_cpus:
            cmd = ["taskset", "-c", a.server_cpus] + cmd  # taskset execs: same pid
        self.cmd = cmd
        self.proc = None
        self.cgroup, self.oom_adj = a.cgroup, a.oom_score_adj
        self.startup_seconds = None

    def _pre(self):
        if self.oom_adj is not None:
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write(str(self.oom_adj))
        if self.cgroup:
            with open(os.path.join(self.cgroup, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))

    def start(self):
        self.log = open(self.log_path, "ab")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(self.cmd, stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=self._pre)
        return t0

    def wait_ready(self, t0, timeout=600):
        deadline = time.monotonic() + timeout
        pending = [self.resp, self.native]
        while pending:
            if self.proc.poll() is not None:
                raise SystemExit(f"skeg-bench: server exited with {self.proc.returncode} during startup; log:\n"
                                 + self.log_tail())
            if time.monotonic() > deadline:
                raise SystemExit("skeg-bench: server did not start listening in time")
            try:
                socket.create_connection(pending[0], timeout=0.2).close()
                pending.pop(0)
            except OSError:
                time.sleep(0.02)
        self.startup_seconds = round(time.perf_counter() - t0, 3)

    def log_tail(self, n=20):
        try:
            return "".join(open(self.log_path, errors="replace").readlines()[-n:])
        except OSError:
            return ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=120):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


# ================================================================================ clients
def resp_conn(addr):
    import redis

    return redis.Redis(host=addr[0], port=addr[1], socket_timeout=3600, socket_connect_timeout=10)


def open_searcher(proto, addr, index):
    """A function (query_bytes, k, l_search) -> [ids] over one connection."""
    if proto == "resp":
        r = resp_conn(addr)

        def search(blob, k, l):
            rep = r.execute_command("SKEG.VSEARCH", index, k, l, blob)
            return [int(x) for x in rep[0::2]]
        return search, r.close
    import skeg

    c = skeg.Client(addr[0], addr[1], timeout=3600)

    def search(blob, k, l):
        return [i for i, _ in c.vsearch(index, k, blob, l)]
    return search, c.close


def info_dict(r, index):
    rep = r.execute_command("SKEG.VINDEX.INFO", index)
    out = {}
    items = rep.items() if isinstance(rep, dict) else zip(rep[0::2], rep[1::2])
    for k, v in items:
        k = k.decode() if isinstance(k, bytes) else str(k)
        if isinstance(v, bytes):
            v = v.decode(errors="replace")
            try:
                v = int(v)
            except ValueError:
                try:
                    v = float(v)
                except ValueError:
                    pass
        out[k] = v
    return out


# ================================================================================ query bursts
_Q_BLOBS: list = []  # query vectors as bytes; set before forking the client processes


def _client_proc(conn, counter, slot, proto, addr, index, k, l, idx, start_evt):
    try:
        search, close = open_searcher(proto, addr, index)
        search(_Q_BLOBS[idx[0]], k, l)  # connection warm-up, not measured
        conn.send("ready")
        start_evt.wait()
        lat = np.empty(len(idx), dtype=np.float64)
        ids = np.full((len(idx), k), -1, dtype=np.int64)
        errors = 0
        t0 = time.perf_counter()
        for j, i in enumerate(idx):
            s = time.perf_counter_ns()
            try:
                r = search(_Q_BLOBS[i], k, l)
            except Exception:  # noqa: BLE001 - counted, the burst goes on
                r = []
                errors += 1
            lat[j] = (time.perf_counter_ns() - s) / 1e6
            ids[j, :min(k, len(r))] = r[:k]
            if j % 16 == 0:
                counter[slot] = j
        t1 = time.perf_counter()
        counter[slot] = len(idx)
        close()
        conn.send((t0, t1, lat, ids, errors))
    except BaseException as e:  # noqa: BLE001
        conn.send(("error", repr(e)))
    finally:
        conn.close()


def run_burst(proto, addr, index, k, l, clients, qidx, progress, label, server_pid=None):
    """qidx: query row numbers to send (may cycle). Client c sends qidx[c::clients]. Returns latencies
    (ms), result ids in qidx order, wall seconds and server CPU seconds."""
    ctx = mp.get_context("fork")
    counter = ctx.RawArray("l", clients)
    start_evt = ctx.Event()
    procs, pipes, parts = [], [], []
    for c in range(clients):
        part = np.asarray(qidx[c::clients], dtype=np.int64)
        parts.append(part)
        a, b = ctx.Pipe(duplex=False)
        p = ctx.Process(target=_client_proc, args=(b, counter, c, proto, addr, index, k, l, part, start_evt))
        p.start()
        b.close()
        procs.append(p)
        pipes.append(a)
    for a in pipes:
        msg = a.recv()
        if msg != "ready":
            raise SystemExit(f"skeg-bench: client failed: {msg}")
    cpu0 = proc_cpu_seconds(server_pid) if server_pid else None
    start_evt.set()
    total = len(qidx)
    results = [None] * clients
    while any(r is None for r in results):
        for c, a in enumerate(pipes):
            if results[c] is None and a.poll(0.05):
                results[c] = a.recv()
        progress.update(f"{label}: {sum(counter[:])}/{total} queries")
    for p in procs:
        p.join()
    cpu1 = proc_cpu_seconds(server_pid) if server_pid else None
    for r in results:
        if r[0] == "error":
            raise SystemExit(f"skeg-bench: client failed: {r[1]}")
    t0 = min(r[0] for r in results)
    t1 = max(r[1] for r in results)
    lat = np.concatenate([r[2] for r in results])
    ids = np.full((total, k), -1, dtype=np.int64)
    for c, r in enumerate(results):
        ids[c::clients] = r[3]
    return dict(lat=lat, ids=ids, wall=t1 - t0, errors=sum(r[4] for r in results),
                server_cpu_s=(cpu1 - cpu0) if cpu0 is not None and cpu1 is not None else None)


def burst_metrics(res, ds, qidx, k):
    lat, wall = res["lat"], res["wall"]
    gt = ds.gt[np.asarray(qidx) % ds.nq]
    out = dict(queries=len(lat), qps=round(len(lat) / wall, 1),
               p50_ms=round(float(np.percentile(lat, 50)), 4), p99_ms=round(float(np.percentile(lat, 99)), 4),
               p999_ms=round(float(np.percentile(lat, 99.9)), 4), mean_ms=round(float(lat.mean()), 4),
               max_ms=round(float(lat.max()), 4), recall_at_10=round(recall_at(res["ids"], gt, min(10, k)), 4),
               errors=res["errors"])
    if k >= 100 and gt.shape[1] >= 100:
        out["recall_at_100"] = round(recall_at(res["ids"], gt, 100), 4)
    if res["server_cpu_s"] is not None:
        out["server_cpu_s"] = round(res["server_cpu_s"], 3)
        out["server_cpu_util"] = round(res["server_cpu_s"] / wall, 3)  # cores busy in the server
    out["loadavg_1m"] = float(open("/proc/loadavg").read().split()[0])
    return out


# ================================================================================ ingest
def ingest(a, ds, admin, addrs, progress):
    n, batch = ds.n, a.batch
    t0 = time.perf_counter()
    done = 0
    if a.ingest_protocol == "resp":
        pipe = admin.pipeline(transaction=False)
        for s in range(0, n, batch):
            rows = ds.rows(s, s + batch)
            args = []
            for i in range(len(rows)):
                args += [s + i, rows[i].tobytes(), b""]
            pipe.execute_command("SKEG.VMSET", a.index, *args)
            if len(pipe) >= a.pipeline:
                done += sum(int(x) for x in pipe.execute())
                progress.update(f"ingest {done}/{n} ({done / (time.perf_counter() - t0):.0f} vec/s)")
        done += sum(int(x) for x in pipe.execute())
    else:
        import skeg

        c = skeg.Client(addrs["native"][0], addrs["native"][1], timeout=3600)
        p = c.pipeline()
        for s in range(0, n, batch):
            rows = ds.rows(s, s + batch)
            for i in range(len(rows)):
                p.vset(a.index, s + i, rows[i].tobytes())
            if len(p) >= batch * a.pipeline:
                done += len(p.execute())
                progress.update(f"ingest {done}/{n} ({done / (time.perf_counter() - t0):.0f} vec/s)")
        done += len(p.execute())
        c.close()
    secs = time.perf_counter() - t0
    if done != n:
        raise SystemExit(f"skeg-bench: server acknowledged {done} of {n} vectors")
    return secs


# ================================================================================ run
def csv_ints(text):
    return [int(x) for x in str(text).split(",") if x.strip() != ""]


def narrowed_cmd(argv, **repl):
    """The run's argv with --l-search / --threads narrowed to one operating point."""
    out, skip = [], False
    flags = {"--" + k.replace("_", "-"): v for k, v in repl.items()}
    for i, t in enumerate(argv):
        if skip:
            skip = False
            continue
        key = t.split("=", 1)[0]
        if key in flags:
            out.append(f"{key}={flags[key]}" if "=" in t else key)
            if "=" not in t:
                out.append(str(flags[key]))
                skip = True
            continue
        out.append(t)
    for k, v in flags.items():
        if k not in [t.split("=", 1)[0] for t in argv]:
            out += [k, str(v)]
    return out


def git_rev():
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def idle(sampler, progress, name, seconds):
    if seconds <= 0:
        return
    if sampler:
        sampler.set_phase(name)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        progress.update(f"{name} {end - time.monotonic():.1f} s left")
        time.sleep(min(0.2, max(0.0, end - time.monotonic())))


def cmd_run(a):
    global _Q_BLOBS
    progress = Progress(a.quiet)
    argv = [PROG] + sys.argv[1:] if os.environ.get("SKEG_BENCH_PROG") else \
        [os.path.relpath(__file__, os.getcwd())] + sys.argv[1:]
    ds = Dataset(a.dataset, nq=a.nq, n_limit=a.n, metric=a.metric, gt_k=max(100, a.k))
    a.index = a.index or f"bench_{ds.name}_{a.kind}_{a.backend}".replace("-", "_")
    engine = f"skeg-{a.kind}-{a.backend}"
    ts = time.strftime("%Y%m%dT%H%M%S")
    out_dir = Path(a.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    run_id = f"{ds.name}.{engine}.{a.protocol}.{ts}"
    samples_csv = a.samples_csv or str(out_dir / f"{run_id}.samples.csv")
    progress.line(f"dataset {ds.name}: n={ds.n} d={ds.d} nq={ds.nq} metric={ds.metric} gt={ds.gt_source}")

    # ---- server
    server, tmp_data, pid = None, None, a.pid
    if a.spawn:
        data_dir = a.data_dir
        if not data_dir:
            tmp_data = tempfile.mkdtemp(prefix="skeg-bench-", dir=a.tmp_dir)
            data_dir = os.path.join(tmp_data, "data")
        os.makedirs(os.path.dirname(os.path.abspath(data_dir)) or ".", exist_ok=True)
        server = Server(a, data_dir, str(out_dir / f"{run_id}.server.log"))
        t_spawn = server.start()
        pid = server.proc.pid
        addrs = dict(resp=server.resp, native=server.native)
    else:
        addrs = dict(resp=parse_addr(a.addr, 6379), native=parse_addr(a.native_addr, 7379))
    sampler = None
    if pid:
        sampler = Sampler(pid, a.interval, samples_csv, a.phase_file, a.cgroup)
        sampler.set_phase("load")
        sampler.start()
        progress.sampler = sampler
    doc = dict(tool="skeg-bench", tool_version=TOOL_VERSION, kind="run", run_id=run_id, engine=engine,
               argv=argv, cwd=os.getcwd(), ts=ts, host=platform.node(), git_rev=git_rev(),
               dataset=ds.describe(),
               params=dict(kind=a.kind, backend=a.backend, metric=ds.metric, protocol=a.protocol, k=a.k,
                           index=a.index, durability=a.durability if server else None,
                           cache_bytes=(a.cache_bytes or None) if server else None, server_cpus=a.server_cpus or None,
                           passes=a.passes, batch=a.batch, pipeline=a.pipeline, ingest_protocol=a.ingest_protocol),
               server=dict(spawned=bool(server), pid=pid, cmd=server.cmd if server else None,
                           addrs={k: f"{h}:{p}" for k, (h, p) in addrs.items()}),
               samples_csv=samples_csv if sampler else None, points=[], schedule=[])
    admin = None
    try:
        if server:
            server.wait_ready(t_spawn)
            doc["server"]["startup_seconds"] = server.startup_seconds
            progress.line(f"server pid {pid} ready in {server.startup_seconds} s "
                          f"(resp {addrs['resp'][1]}, native {addrs['native'][1]})")
        admin = resp_conn(addrs["resp"])
        # ---- create + ingest
        existing = {}
        try:
            existing = info_dict(admin, a.index)
        except Exception:  # noqa: BLE001 - absent
            existing = {}
        if a.no_ingest:
            if not existing:
                raise SystemExit(f"skeg-bench: --no-ingest but index {a.index} does not exist")
            if int(existing.get("n_vectors", -1)) != ds.n:
                progress.line(f"warning: index {a.index} holds {existing.get('n_vectors')} vectors, dataset {ds.n}")
            doc["ingest"] = dict(skipped=True, n_vectors=existing.get("n_vectors"))
        else:
            if existing:
                admin.execute_command("SKEG.VINDEX.DROP", a.index)
            create = ["SKEG.VINDEX.CREATE", a.index, ds.d, a.kind, a.backend, "METRIC", ds.metric]
            create += shlex.split(a.create_args or "")
            admin.execute_command(*create)
            idle(sampler, progress, "idle:before-ingest", a.idle)
            if sampler:
                sampler.set_phase("ingest")
            secs = ingest(a, ds, admin, addrs, progress)
            ing = dict(n=ds.n, seconds=round(secs, 3), rate_per_s=round(ds.n / secs, 1), protocol=a.ingest_protocol,
                       create=create[:2] + [str(x) for x in create[2:]])
            progress.line(f"ingest: {ds.n} vectors in {secs:.2f} s ({ds.n / secs:.0f} vec/s)")
            if a.backend == "disk" or a.consolidate:
                if sampler:
                    sampler.set_phase("consolidate")
                t0 = time.perf_counter()
                admin.execute_command("SKEG.VINDEX.CONSOLIDATE", a.index)
                ing["consolidate_seconds"] = round(time.perf_counter() - t0, 3)
                progress.line(f"consolidate: {ing['consolidate_seconds']} s")
            ing["build_seconds"] = round(secs + ing.get("consolidate_seconds", 0.0), 3)
            doc["ingest"] = ing
        info = info_dict(admin, a.index)
        doc["index_info"] = info
        if server:
            doc["server"]["data_dir_bytes"] = dir_bytes(server.data_dir)
        idle(sampler, progress, "idle:after-ingest", a.idle)

        if a.ingest_only:
            pass
        else:
            _Q_BLOBS = [q.tobytes() for q in ds.queries]
            exact = a.backend == "flat" and not a.force_l_sweep
            l_values = [0] if exact else (csv_ints(a.l_search) or [0])
            clients = csv_ints(a.threads) or [1]
            if a.schedule:
                run_schedule(a, ds, addrs, sampler, progress, doc, l_values[0], clients[0], pid)
            else:
                for l in l_values:
                    for T in clients:
                        pt = run_point(a, ds, addrs, sampler, progress, l, T, pid)
                        nar = dict(threads=T) if exact else dict(l_search=l, threads=T)
                        pt["cmd"] = shlex.join(narrowed_cmd(argv, **nar))
                        doc["points"].append(pt)
                        idle(sampler, progress, f"idle:after-l{l}-c{T}", a.idle)
        if server:
            doc["server"]["alive_at_end"] = server.alive()
    except (Exception, SystemExit) as e:  # noqa: BLE001 - the document is written anyway
        doc["error"] = str(e) or repr(e)
        progress.line(f"error: {doc['error']}")
        if server:
            doc["server"]["alive_at_end"] = server.alive()
    finally:
        if admin is not None:
            admin.close()
        if server:
            if sampler:
                sampler.set_phase("shutdown")
            rc = server.stop()
            doc["server"]["exit_code"] = rc
            # survived: still running when asked to stop, and stopped cleanly (not OOM-killed: -9/137)
            doc["server"]["survived"] = bool(doc["server"].get("alive_at_end")) and rc in (0, -15)
        if sampler:
            sampler.stop()
            progress.sampler = None
            doc["rss"] = sampler.summary()
            hwm = [r["VmHWM"] for r in sampler.rows if "VmHWM" in r]
            doc["rss"]["VmHWM_max_mib"] = round(max(hwm), 1) if hwm else None
            if isinstance(doc.get("ingest"), dict) and not doc["ingest"].get("skipped"):
                doc["ingest"]["rss"] = {p: doc["rss"]["phases"][p] for p in ("ingest", "consolidate")
                                        if p in doc["rss"]["phases"]}
        if tmp_data and not a.keep_data:
            shutil.rmtree(tmp_data, ignore_errors=True)
    # ---- records
    records = [point_record(doc, ds, pt) for pt in doc["points"]]
    for rec, pt in zip(records, doc["points"]):
        pt["record"] = rec
    out_json = a.out or str(out_dir / f"{run_id}.json")
    with open(out_json, "w") as f:
        json.dump(doc, f, indent=1)
    jsonl = a.jsonl or str(out_dir / f"{ds.name}.jsonl")
    if records:
        with open(jsonl, "a") as f:
            for r in records:
                f.write(json.dumps(r) + "\n")
    progress.line(f"wrote {out_json}" + (f" and {len(records)} records to {jsonl}" if records else ""))
    json.dump(doc, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 1 if doc.get("error") else 0


def run_point(a, ds, addrs, sampler, progress, l, T, pid):
    addr = addrs[a.protocol]
    label = f"burst l_search={l or 'default'} clients={T}"
    qidx = list(range(ds.nq))
    pt = dict(l_search=l, clients=T, protocol=a.protocol, k=a.k)
    for p in range(a.passes):
        name = f"burst:l{l}-c{T}-pass{p + 1}"
        if sampler:
            sampler.set_phase(name)
        res = run_burst(a.protocol, addr, a.index, a.k, l, T, qidx, progress, f"{label} pass {p + 1}/{a.passes}", pid)
        m = burst_metrics(res, ds, qidx, a.k)
        if p == 0 and a.passes > 1:
            pt.update(first_pass_qps=m["qps"], first_pass_p50_ms=m["p50_ms"], first_pass_p99_ms=m["p99_ms"])
        if sampler:
            rows = sampler.phase_rows(name) or ([sampler.latest] if sampler.latest else [])
            m["rss"] = Sampler._summ(rows, a.cgroup) if rows else None
    pt.update(m)
    progress.line(f"{label}: recall@10 {m['recall_at_10']:.4f}"
                  + (f" recall@100 {m['recall_at_100']:.4f}" if "recall_at_100" in m else "")
                  + f"  {m['qps']:.0f} QPS  p50 {m['p50_ms']:.3f} ms  p99 {m['p99_ms']:.3f} ms"
                  f"  p99.9 {m['p999_ms']:.3f} ms")
    return pt


def run_schedule(a, ds, addrs, sampler, progress, doc, l, T, pid):
    """Co-residence schedule: idle:S sleeps S seconds, burst:N sends N queries (cycling through the
    query set) with T clients; one record per phase (as peer_py.py / peer_node.mjs `schedule`)."""
    qi = 0
    for j, item in enumerate(a.schedule.split(",")):
        kind, _, val = item.partition(":")
        name = f"{kind}{j}"
        if kind == "idle":
            idle(sampler, progress, name, float(val))
            rec = dict(phase=name, seconds=float(val))
        elif kind == "burst":
            if sampler:
                sampler.set_phase(name)
            nq = int(val)
            qidx = [(qi + i) % ds.nq for i in range(nq)]
            qi += nq
            res = run_burst(a.protocol, addrs[a.protocol], a.index, a.k, l, T, qidx, progress, name, pid)
            rec = dict(phase=name, l_search=l, clients=T, **burst_metrics(res, ds, qidx, a.k))
            progress.line(f"{name}: {rec['qps']:.0f} QPS p50 {rec['p50_ms']:.3f} ms p99 {rec['p99_ms']:.3f} ms "
                          f"recall@10 {rec['recall_at_10']:.4f}")
        else:
            raise SystemExit(f"skeg-bench: bad schedule item {item!r}")
        if sampler and sampler.latest:
            rec.update({k: round(sampler.latest[k], 1) for k in ("VmRSS", "RssAnon", "RssFile") if k in sampler.latest})
        doc["schedule"].append(rec)


def point_record(doc, ds, pt):
    """One JSONL record per operating point, with the field names of ../shared/bench/run_peer.sh."""
    ing, info, rss = doc.get("ingest", {}), doc.get("index_info", {}), (pt.get("rss") or {})
    p = doc["params"]
    rec = dict(engine=f"{doc['engine']}-{p['protocol']}", dataset=ds.name,
               params=dict(kind=p["kind"], backend=p["backend"], protocol=p["protocol"],
                           l_search=pt["l_search"] if p["backend"] != "flat" else "exact", clients=pt["clients"]),
               n=ds.n, d=ds.d, metric={"cosine": "cos"}.get(ds.metric, ds.metric), nq=ds.nq, k=pt["k"],
               build_seconds=ing.get("build_seconds"), ingest_seconds=ing.get("seconds"),
               ingest_rate_per_s=ing.get("rate_per_s"), ingest_protocol=ing.get("protocol"),
               consolidate_seconds=ing.get("consolidate_seconds"),
               index_bytes_on_disk=info.get("disk_bytes"), index_ram_bytes=info.get("ram_bytes"),
               data_dir_bytes=doc["server"].get("data_dir_bytes"), search=info.get("search"),
               qps=pt["qps"], p50_ms=pt["p50_ms"], p99_ms=pt["p99_ms"], p999_ms=pt["p999_ms"],
               mean_ms=pt["mean_ms"], recall_at_10=pt["recall_at_10"], recall_at_100=pt.get("recall_at_100"),
               first_pass_qps=pt.get("first_pass_qps"), first_pass_p99_ms=pt.get("first_pass_p99_ms"),
               steady_rss_mib=rss.get("VmRSS_p50_mib"), serve_rss_max_mib=rss.get("VmRSS_max_mib"),
               serve_rss_anon_mib=rss.get("RssAnon_p50_mib"), serve_rss_file_mib=rss.get("RssFile_p50_mib"),
               serve_rss_anon_max_mib=rss.get("RssAnon_max_mib"),
               ingest_rss_max_mib=((ing.get("rss") or {}).get("ingest") or {}).get("VmRSS_max_mib"),
               peak_rss_mib=(doc.get("rss") or {}).get("VmHWM_max_mib"),
               server_cpu_util=pt.get("server_cpu_util"), loadavg_1m=pt.get("loadavg_1m"), errors=pt.get("errors"),
               cache_bytes=p.get("cache_bytes"), server_cpus=p.get("server_cpus"), git_rev=doc.get("git_rev"),
               run_id=doc["run_id"], cmd=pt.get("cmd"), host=doc["host"], ts=doc["ts"])
    return rec


# ================================================================================ coresidence-record
def cmd_coresidence_record(a):
    """Merge one co-residence run folder into one JSONL record (printed)."""
    d = Path(a.dir)
    rec = dict(kind="coresidence", engine=a.engine, dataset=a.dataset, hog_mib=a.hog_mib, cap_mib=a.cap_mib or None,
               cold=a.cold, run_dir=str(d), cmd=a.cmd, exit_code=a.rc, ts=time.strftime("%Y-%m-%dT%H:%M:%S"),
               host=platform.node())
    phases, summary = [], {}
    if (d / "skeg.json").exists():
        doc = json.load(open(d / "skeg.json"))
        phases = doc.get("schedule", [])
        summary = doc.get("rss", {})
        rec["survived"] = bool(doc.get("server", {}).get("survived"))
        rec["exit_code"] = doc.get("server", {}).get("exit_code")
        rec["samples_csv"] = doc.get("samples_csv")
        rec["params"] = dict(doc.get("params", {}), l_search=phases[1]["l_search"] if len(phases) > 1 and
                             "l_search" in phases[1] else None)
        rec["startup_seconds"] = doc.get("server", {}).get("startup_seconds")
    else:
        if (d / "engine.jsonl").exists():
            for line in open(d / "engine.jsonl"):
                line = line.strip()
                if line.startswith("{"):
                    phases.append(json.loads(line))
        if (d / "summary.json").exists():
            txt = open(d / "summary.json").read().strip()
            summary = json.loads(txt.splitlines()[-1]) if txt else {}
        rec["samples_csv"] = str(d / "samples.csv")
        # survived: the schedule ran to its end and the process exited 0 (137 = SIGKILL, e.g. OOM killer)
        last = phases[-1]["phase"] if phases else ""
        rec["survived"] = a.rc == 0 and bool(phases) and len(phases) >= a.schedule_len + 1
        rec["last_phase"] = last
        head = phases[0] if phases else {}
        rec["params"] = head.get("search_params")
        rec["load_seconds"] = head.get("load_seconds")
    bursts = [p for p in phases if str(p.get("phase", "")).startswith("burst")]
    rec["bursts"] = [dict(qps=b.get("qps"), p50_ms=b.get("p50_ms"), p99_ms=b.get("p99_ms"),
                          recall_at_10=b.get("recall_at_10")) for b in bursts]
    rec["rss"] = {k: summary.get(k) for k in ("all", "burst", "idle", "load") if summary.get(k)}
    if rec.get("survived") is None:
        rec["survived"] = False
    if (d / "cgroup.txt").exists():
        rec["cgroup"] = dict(x.split("=", 1) for x in open(d / "cgroup.txt").read().split() if "=" in x)
    if (d / "hog.log").exists():
        rec["hog_log_tail"] = open(d / "hog.log").read().strip().splitlines()[-1:]
    print(json.dumps(rec))
    b = (rec.get("rss") or {}).get("burst") or {}
    sys.stderr.write(f"[coresidence] {rec['engine']}: survived={rec['survived']} (exit {rec['exit_code']}) bursts QPS "
                     + "/".join(str(round(x["qps"] or 0)) for x in rec["bursts"])
                     + f"; RssAnon p50/max {b.get('RssAnon_p50_mib')}/{b.get('RssAnon_max_mib')} MiB, RssFile p50 "
                     f"{b.get('RssFile_p50_mib')} MiB\n")
    return 0


# ================================================================================ subset
def cmd_subset(a):
    """A smaller dataset folder (first N base rows, first NQ queries) with exact ground truth, so that
    skeg and the peers can run on the same real data at smoke scale."""
    import gen_synth

    ds = Dataset(a.dataset, nq=a.nq, n_limit=a.n, metric=a.metric, gt_k=100)
    os.makedirs(a.out, exist_ok=True)
    t0 = time.time()
    gen_synth.write_vecs(os.path.join(a.out, "base.fvecs"), ds.rows(0, ds.n), np.float32)
    gen_synth.write_vecs(os.path.join(a.out, "query.fvecs"), ds.queries, np.float32)
    gen_synth.write_vecs(os.path.join(a.out, "gt.ivecs"), ds.gt, np.int32)
    meta = dict(name=os.path.basename(os.path.normpath(a.out)), source=ds.path, n=ds.n, d=ds.d, nq=ds.nq,
                metric={"cosine": "cos"}.get(ds.metric, ds.metric), gt_k=int(ds.gt.shape[1]), gt=ds.gt_source,
                made_by=f"{PROG} subset", seconds=round(time.time() - t0, 2))
    with open(os.path.join(a.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(json.dumps(meta))
    return 0


# ================================================================================ report
def load_records(paths):
    points, cores, docs = [], [], []
    files = []
    for p in paths:
        if os.path.isdir(p):
            files += sorted(glob.glob(os.path.join(p, "**", "*.jsonl"), recursive=True))
            files += sorted(glob.glob(os.path.join(p, "**", "*.json"), recursive=True))
        else:
            files.append(p)
    for f in files:
        if f.endswith(".jsonl"):
            for line in open(f):
                line = line.strip()
                if not line.startswith("{"):
                    continue
                try:
                    r = json.loads(line)
                except ValueError:
                    continue
                if r.get("kind") == "coresidence":
                    cores.append(r)
                elif "qps" in r and "recall_at_10" in r and "engine" in r:
                    # records carry k at top level, not in params: without this a --k 100 run would
                    # replace the k = 10 point with the same params ("latest record wins" below)
                    if r.get("k") not in (None, 10) and "k" not in (r.get("params") or {}):
                        r["params"] = {**(r.get("params") or {}), "k": r["k"]}
                    points.append(r)
        elif f.endswith(".json"):
            try:
                r = json.load(open(f))
            except (ValueError, OSError):
                continue
            if isinstance(r, dict) and r.get("tool") == "skeg-bench":
                docs.append(r)
    # latest record wins for an identical (dataset, engine, params)
    uniq = {}
    for r in points:
        key = (r.get("dataset"), r.get("engine"), json.dumps(r.get("params"), sort_keys=True), r.get("cold", False))
        if key not in uniq or str(r.get("ts", "")) >= str(uniq[key].get("ts", "")):
            uniq[key] = r
    cuniq = {}
    for r in cores:
        key = (r.get("dataset"), r.get("engine"), r.get("hog_mib"), r.get("cap_mib"))
        if key not in cuniq or str(r.get("ts", "")) >= str(cuniq[key].get("ts", "")):
            cuniq[key] = r
    return list(uniq.values()), list(cuniq.values()), docs


def md_cell(text):
    return str(text).replace("|", "\\|")


def is_skeg(r):
    return str(r.get("engine", "")).startswith("skeg")


_HIDDEN_PARAMS = {"clients", "index", "durability", "passes", "batch", "pipeline", "ingest_protocol", "k", "metric",
                  "server_cpus"}


def fmt_params(p):
    if not isinstance(p, dict):
        return str(p or "-")
    return " ".join(f"{k}={v}" for k, v in p.items()
                    if (k not in _HIDDEN_PARAMS or (k == "k" and v != 10)) and v is not None) or "-"


def f_num(v, nd=1, dash="-"):
    if v is None:
        return dash
    if isinstance(v, (int, float)):
        return f"{v:.{nd}f}"
    return str(v)


def pareto(points):
    """Points (recall, qps) not dominated by another point with recall >= and qps >=."""
    pts = sorted(points, key=lambda r: (-r["recall_at_10"], -r["qps"]))
    out, best_q = [], -1.0
    for r in pts:
        if r["qps"] > best_q:
            out.append(r)
            best_q = r["qps"]
    return sorted(out, key=lambda r: r["recall_at_10"])


def series_key(r):
    if is_skeg(r):
        c = (r.get("params") or {}).get("clients", 1)
        return r["engine"] + ("" if c == 1 else f" ({c} clients)")
    return r["engine"] + (" (cold)" if r.get("cold") else "")


def peer_cmd(r):
    if r.get("cmd"):
        return r["cmd"]
    sp = r.get("search_params") or {}
    kv = " ".join(f"{k}={v}" for k, v in sp.items())
    env = "METRIC=cos " if r.get("metric") == "cos" else ""
    return f"{env}bench/skeg_bench/run_peers.sh DATASET_DIR {r['engine']} {kv}".strip()


RECALL_TOL = 0.005


def best_peer(peers, floor):
    cands = [p for p in peers if p["recall_at_10"] >= floor]
    return max(cands, key=lambda p: p["qps"]) if cands else None


def vs_peer_text(r, peers, target=None):
    """skeg's QPS against the fastest peer point with recall@10 >= target (summary tables), or >= the
    row's own recall minus RECALL_TOL (table of every point)."""
    if not is_skeg(r):
        return "-"
    if not peers:
        return "no peer results"
    floor = target if target is not None else r["recall_at_10"] - RECALL_TOL
    bp = best_peer(peers, floor)
    if bp is None:
        top = max(peers, key=lambda p: (p["recall_at_10"], p["qps"]))
        ratio = r["qps"] / top["qps"] if top["qps"] else float("inf")
        return (f"no peer reaches r@10 {floor:.3f} (best: {top['engine']} r@10 {top['recall_at_10']:.4f} at "
                f"{top['qps']:.0f} QPS; skeg {ratio:.2f}x that QPS)")
    ratio = r["qps"] / bp["qps"] if bp["qps"] else float("inf")
    txt = (f"{ratio:.2f}x QPS of {bp['engine']} ({fmt_params(bp.get('search_params') or bp.get('params'))}, "
           f"r@10 {bp['recall_at_10']:.4f})")
    ra, pa = r.get("serve_rss_anon_mib"), bp.get("serve_rss_anon_mib")
    if ra is not None and pa:
        txt += f"; anon RSS {ra / pa:.2f}x"
    if ratio < 1.0:
        txt = "**LOSES**: " + txt
    return txt


TABLE_HEAD = ("| engine | params | recall@10 | QPS 1 / N clients | p50 / p99 ms | RSS anon / file MiB | "
              "index MiB disk / RAM | build (ingest) s | vs best peer | command |\n"
              "|---|---|---:|---:|---:|---:|---:|---:|---|---|")


def table_row(r, by_group, peers, target=None):
    qn = "-"
    if is_skeg(r):
        g = by_group.get(group_key(r), [])
        multi = [x for x in g if (x.get("params") or {}).get("clients", 1) > 1]
        if multi:
            m = max(multi, key=lambda x: x["params"]["clients"])
            qn = f"{m['qps']:.0f} ({m['params']['clients']})"
    disk = r.get("index_bytes_on_disk")
    ram = r.get("index_ram_bytes")
    idx = f"{f_num(disk / 2**20 if disk else None)} / {f_num(ram / 2**20 if ram else None)}"
    build = f_num(r.get("build_seconds"))
    if is_skeg(r) and r.get("ingest_seconds") is not None and r.get("consolidate_seconds"):
        build += f" ({r['ingest_seconds']:.1f} + consolidate {r['consolidate_seconds']:.1f})"
    params = fmt_params(r.get("params"))
    cmd = (r.get("cmd") if is_skeg(r) else peer_cmd(r)) or "-"
    return (f"| {r['engine']} | {params} | {r['recall_at_10']:.4f} | {r['qps']:.0f} / {qn} | "
            f"{f_num(r.get('p50_ms'), 3)} / {f_num(r.get('p99_ms'), 3)} | "
            f"{f_num(r.get('serve_rss_anon_mib'))} / {f_num(r.get('serve_rss_file_mib'))} | {idx} | {build} | "
            f"{vs_peer_text(r, peers, target)} | `{md_cell(cmd)}` |")


def group_key(r):
    p = dict(r.get("params") or {})
    p.pop("clients", None)
    return (r["engine"], json.dumps(p, sort_keys=True))


def cmd_report(a):
    global RECALL_TOL
    RECALL_TOL = a.recall_tol
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = a.inputs or [DEFAULT_OUT]
    points, cores, docs = load_records(paths)
    out = Path(a.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    targets = [float(x) for x in a.targets.split(",")]
    md = [f"<!-- generated by {PROG} report {' '.join(shlex.quote(p) for p in paths)} -->", ""]
    groups = sorted({(r["dataset"], r.get("n")) for r in points}, key=lambda x: (x[0], x[1] or 0))
    multi_n = {g[0] for g in groups if sum(1 for h in groups if h[0] == g[0]) > 1}
    for dsname, n in groups:
        rs = [r for r in points if r["dataset"] == dsname and r.get("n") == n]
        dsn = f"{dsname}-n{n}" if dsname in multi_n else dsname
        peers = [r for r in rs if not is_skeg(r) and not r.get("cold")]
        skeg1 = [r for r in rs if is_skeg(r) and (r.get("params") or {}).get("clients", 1) == 1]
        by_group = {}
        for r in rs:
            if is_skeg(r):
                by_group.setdefault(group_key(r), []).append(r)
        r0 = rs[0]
        md += [f"## {dsn}: n={r0.get('n')}, d={r0.get('d')}, metric {r0.get('metric')}, {r0.get('nq')} queries", ""]
        # ---- Pareto plot
        fig, ax = plt.subplots(figsize=(9, 6))
        series = {}
        for r in rs:
            series.setdefault(series_key(r), []).append(r)
        for name in sorted(series, key=lambda s: (not s.startswith("skeg"), s)):
            pts = series[name]
            sk = name.startswith("skeg")
            marker = "o" if sk else "."
            sc = ax.scatter([p["recall_at_10"] for p in pts], [p["qps"] for p in pts], s=40 if sk else 18,
                            marker=marker, alpha=0.5)
            front = pareto(pts)
            ax.plot([p["recall_at_10"] for p in front], [p["qps"] for p in front], "-" if sk else "--",
                    color=sc.get_facecolor()[0][:3], lw=2.5 if sk else 1.2, label=name, marker=marker)
        ax.set_yscale("log")
        ax.set_xlabel("recall@10")
        ax.set_ylabel("queries per second (log)")
        ax.set_title(f"{dsn}: recall@10 vs QPS (skeg over the network; peers in process, 1 thread)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="best")
        png = out / f"pareto-{dsn}.png"
        fig.tight_layout()
        fig.savefig(png, dpi=110)
        plt.close(fig)
        md += [f"![recall@10 vs QPS, {dsn}]({png.name})", ""]
        # ---- tables
        for t in targets:
            md += [f"**Fastest point per engine with recall@10 >= {t}** (engines that never reach it: their "
                   f"highest-recall point, marked; 'vs best peer' = against the fastest peer point with "
                   f"recall@10 >= {t})", "", TABLE_HEAD]
            engines = sorted({r["engine"] for r in skeg1 + peers}, key=lambda e: (not e.startswith("skeg"), e))
            for e in engines:
                es = [r for r in (skeg1 if e.startswith("skeg") else peers) if r["engine"] == e]
                ok = [r for r in es if r["recall_at_10"] >= t]
                if ok:
                    row = table_row(max(ok, key=lambda r: r["qps"]), by_group, peers, t)
                else:
                    best = max(es, key=lambda r: (r["recall_at_10"], r["qps"]))
                    row = table_row(best, by_group, peers, t).replace(f"| {e} |", f"| {e} (max recall "
                                                                    f"{best['recall_at_10']:.3f} < {t}) |", 1)
                md.append(row)
            md.append("")
        all_md = out / f"{dsn}.all.md"
        lines = [f"# {dsn}: every operating point", "",
                 f"'vs best peer': against the fastest peer point with recall@10 >= the row's minus {RECALL_TOL}", "",
                 TABLE_HEAD]
        for r in sorted(rs, key=lambda r: (not is_skeg(r), r["engine"], -r["recall_at_10"])):
            lines.append(table_row(r, by_group, peers))
        all_md.write_text("\n".join(lines) + "\n")
        md += [f"Every operating point: [{all_md.name}]({all_md.name}).", ""]
    # ---- co-residence
    if cores:
        md += ["## Co-residence (memory hog holding most of RAM; RSS sampled every 100 ms)", "",
               "| dataset | engine | params | hog MiB | cap MiB | survived (exit) | bursts: QPS | bursts: p50 / p99 ms | "
               "recall@10 | RssAnon p50 / max (burst) MiB | RssFile p50 (burst) MiB | VmRSS p50 / max (burst) MiB | "
               "RssAnon p50 (idle) MiB | cgroup max MiB | MemAvailable min MiB | command |",
               "|---|---|---|---:|---:|---|---|---|---:|---|---:|---|---:|---:|---:|---|"]
        for r in sorted(cores, key=lambda r: (r["dataset"], not r["engine"].startswith("skeg"), r["engine"])):
            b, i = (r.get("rss") or {}).get("burst") or {}, (r.get("rss") or {}).get("idle") or {}
            bursts = r.get("bursts") or []
            lat = " , ".join(f"{f_num(x.get('p50_ms'), 2)} / {f_num(x.get('p99_ms'), 1)}" for x in bursts) or "-"
            rec10 = bursts[-1].get("recall_at_10") if bursts else None
            surv = ("yes" if r.get("survived") else "**NO**") + f" ({r.get('exit_code')})"
            md.append(f"| {r['dataset']} | {r['engine']} | {fmt_params(r.get('params'))} | {r.get('hog_mib')} | "
                      f"{r.get('cap_mib') or '-'} | {surv} | {' / '.join(f_num(x.get('qps'), 0) for x in bursts) or '-'} | "
                      f"{lat} | {f_num(rec10, 4)} | {f_num(b.get('RssAnon_p50_mib'))} / {f_num(b.get('RssAnon_max_mib'))} | "
                      f"{f_num(b.get('RssFile_p50_mib'))} | {f_num(b.get('VmRSS_p50_mib'))} / {f_num(b.get('VmRSS_max_mib'))} | "
                      f"{f_num(i.get('RssAnon_p50_mib'))} | {f_num(b.get('cg_usage_max_mib') or (r.get('cgroup') or {}).get('max_usage_mib'))} | "
                      f"{f_num(((r.get('rss') or {}).get('all') or {}).get('MemAvailable_min_mib'))} | "
                      f"`{md_cell(r.get('cmd') or '-')}` |")
        md.append("")
        for dsn in sorted({r["dataset"] for r in cores}):
            runs = [r for r in cores if r["dataset"] == dsn and r.get("samples_csv") and os.path.exists(r["samples_csv"])]
            runs.sort(key=lambda r: (not r["engine"].startswith("skeg"), r["engine"]))
            if not runs:
                continue
            png = out / f"coresidence-{dsn}.png"
            plot_rss(plt, [(f"{r['engine']} (hog {r.get('hog_mib')} MiB"
                            f"{', cap ' + str(r['cap_mib']) + ' MiB' if r.get('cap_mib') else ''}"
                            f"{'' if r.get('survived') else ', KILLED'})", r["samples_csv"]) for r in runs],
                     png, f"{dsn}: RSS over time next to a memory hog")
            md += [f"![co-residence RSS over time, {dsn}]({png.name})", ""]
    # ---- RSS over time of the skeg runs (ingest, bursts, idle gaps)
    rss_runs = [(d["run_id"], d["samples_csv"]) for d in docs if d.get("samples_csv") and os.path.exists(d["samples_csv"])
                and d.get("kind") == "run" and d.get("points")]
    if rss_runs:
        rss_runs = sorted(rss_runs)[-a.max_rss_plots:]
        png = out / "rss-skeg-runs.png"
        plot_rss(plt, rss_runs, png, "skeg server RSS over time (ingest, query bursts, idle gaps)")
        md += ["## skeg server RSS over time", "", f"![skeg RSS over time]({png.name})", ""]
    text = "\n".join(md) + "\n"
    (out / "report.md").write_text(text)
    print(text)
    sys.stderr.write(f"[skeg-bench] wrote {out / 'report.md'} and {len(list(out.glob('*.png')))} PNG files\n")
    return 0


def plot_rss(plt, runs, png, title):
    fig, axes = plt.subplots(len(runs), 1, figsize=(10, 2.6 * len(runs) + 0.6), squeeze=False, sharex=False)
    for ax, (label, path) in zip(axes[:, 0], runs):
        rows = list(csv.DictReader(open(path)))
        if not rows:
            continue
        t = [float(r["t"]) for r in rows]
        for f, style in (("VmRSS", "-"), ("RssAnon", "-"), ("RssFile", "--")):
            ax.plot(t, [float(r.get(f) or 0) for r in rows], style, label=f, lw=1.3)
        # shade ingest / consolidate (blue)
        ing = [float(r["t"]) for r in rows if str(r["phase"]) in ("ingest", "consolidate")]
        if ing:
            ax.axvspan(min(ing), max(ing), color="tab:blue", alpha=0.08, lw=0)
        # shade bursts
        start = None
        for k, r in enumerate(rows + [{"phase": "", "t": t[-1]}]):
            isb = str(r["phase"]).startswith("burst")
            if isb and start is None:
                start = float(r["t"])
            elif not isb and start is not None:
                ax.axvspan(start, float(r["t"]), color="orange", alpha=0.15, lw=0)
                start = None
        ax.set_title(label, fontsize=9)
        ax.set_ylabel("MiB")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    axes[-1, 0].set_xlabel("seconds (orange: query bursts; blue: ingest)")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / (2.6 * len(runs) + 0.6)))
    fig.savefig(png, dpi=100)
    plt.close(fig)


# ================================================================================ main
def main(argv=None):
    ap = argparse.ArgumentParser(prog="skeg-bench", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="ingest a dataset into skeg and measure recall / QPS / latency / RSS")
    r.add_argument("--dataset", required=True, help="folder with base.{fvecs,bvecs,npy,...}, query.*, gt.ivecs")
    r.add_argument("--index", default="", help="index name (default bench_<dataset>_<kind>_<backend>)")
    r.add_argument("--kind", default="f32", help="f32 int8 binary tq1 tq2 tq4 pq")
    r.add_argument("--backend", default="flat", choices=["flat", "disk"])
    r.add_argument("--metric", default=None, help="cosine|l2|ip (default: meta.json / known dataset)")
    r.add_argument("--create-args", default="", help="extra SKEG.VINDEX.CREATE args, e.g. 'M 64 EF_CONSTRUCTION 200'")
    r.add_argument("--protocol", default="resp", choices=["resp", "native"])
    r.add_argument("--ingest-protocol", default="resp", choices=["resp", "native"],
                   help="resp: pipelined SKEG.VMSET batches (default); native: pipelined VSET, one frame per vector "
                        "(protocol v1 has no batch vector op, so every vector is its own write)")
    r.add_argument("--threads", default="1", help="client counts to measure, e.g. 1,2 (one process + connection each)")
    r.add_argument("--l-search", default="32,64,100,200", help="l_search sweep (flat indexes: one exact point)")
    r.add_argument("--force-l-sweep", action="store_true", help="sweep l_search on flat indexes too")
    r.add_argument("--k", type=int, default=10)
    r.add_argument("--nq", type=int, default=1000, help="queries used (default 1000)")
    r.add_argument("--n", type=int, default=0, help="ingest only the first N base rows (gt then by brute force)")
    r.add_argument("--passes", type=int, default=2, help="passes over the queries per point; the last is reported")
    r.add_argument("--batch", type=int, default=500, help="vectors per VMSET (RESP) / per pipeline step (native)")
    r.add_argument("--pipeline", type=int, default=4, help="VMSET commands in flight per pipeline flush")
    r.add_argument("--consolidate", action="store_true", help="call CONSOLIDATE for flat indexes too")
    r.add_argument("--idle", type=float, default=1.0, help="idle gap (s) after ingest and after each burst")
    r.add_argument("--schedule", default="", help="co-residence schedule instead of the sweep, e.g. "
                   "idle:5,burst:3000,idle:10,burst:3000 (first --l-search, first --threads)")
    r.add_argument("--no-ingest", action="store_true", help="the index already exists (e.g. --spawn on a kept data dir)")
    r.add_argument("--ingest-only", action="store_true", help="create + ingest (+ consolidate), no queries")
    r.add_argument("--addr", default="127.0.0.1:6379", help="RESP address of a running server (admin + resp)")
    r.add_argument("--native-addr", default="127.0.0.1:7379", help="native address of a running server")
    r.add_argument("--pid", type=int, default=0, help="pid of a running server (RSS sampling)")
    r.add_argument("--spawn", default="", help="skeg binary to start (then its pid is known)")
    r.add_argument("--data-dir", default="", help="with --spawn: data dir (kept); default a temp dir (removed)")
    r.add_argument("--tmp-dir", default=None, help="parent of the temp data dir (default $TMPDIR)")
    r.add_argument("--keep-data", action="store_true")
    r.add_argument("--cache-bytes", default="", help="with --spawn: --cache-bytes of the server")
    r.add_argument("--workers", type=int, default=0, help="with --spawn: --workers of the server")
    r.add_argument("--durability", default="relaxed", help="with --spawn: --durability (default relaxed)")
    r.add_argument("--server-cpus", default="", help="with --spawn: taskset CPU list for the server")
    r.add_argument("--server-args", default="", help="with --spawn: extra server flags")
    r.add_argument("--cgroup", default="", help="with --spawn: cgroup-v1 memory dir the server is put into")
    r.add_argument("--oom-score-adj", type=int, default=None, help="with --spawn: oom_score_adj of the server")
    r.add_argument("--interval", type=float, default=0.1, help="RSS sampling period (s)")
    r.add_argument("--samples-csv", default="", help="RSS samples CSV (default OUT_DIR/<run>.samples.csv)")
    r.add_argument("--phase-file", default="", help="also write the current phase name here")
    r.add_argument("--out-dir", default=DEFAULT_OUT)
    r.add_argument("--out", default="", help="JSON document path (default OUT_DIR/<run>.json)")
    r.add_argument("--jsonl", default="", help="JSONL to append records to (default OUT_DIR/<dataset>.jsonl)")
    r.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p = sub.add_parser("peers", help="run the peer engines on a dataset (bench/skeg_bench/run_peers.sh)")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    rp = sub.add_parser("report", help="plots + markdown tables from results")
    rp.add_argument("inputs", nargs="*", help=f"result folders / .jsonl / .json files (default {DEFAULT_OUT})")
    rp.add_argument("--out-dir", default=os.path.join(os.path.dirname(DEFAULT_OUT), "report"))
    rp.add_argument("--targets", default="0.9,0.95", help="recall@10 targets of the summary tables")
    rp.add_argument("--max-rss-plots", type=int, default=4)
    rp.add_argument("--recall-tol", type=float, default=0.005,
                    help="'vs best peer' compares with peer points of recall@10 >= skeg's minus this")
    sb = sub.add_parser("subset", help="first N rows / NQ queries of a dataset, with exact ground truth")
    sb.add_argument("--dataset", required=True)
    sb.add_argument("--n", type=int, required=True)
    sb.add_argument("--nq", type=int, default=1000)
    sb.add_argument("--metric", default=None)
    sb.add_argument("--out", required=True)
    c = sub.add_parser("coresidence-record", help="merge one co-residence run folder into a JSONL record")
    c.add_argument("--dir", required=True)
    c.add_argument("--engine", required=True)
    c.add_argument("--dataset", required=True)
    c.add_argument("--hog-mib", type=int, default=0)
    c.add_argument("--cap-mib", type=int, default=0)
    c.add_argument("--cold", type=int, default=0)
    c.add_argument("--rc", type=int, default=0)
    c.add_argument("--schedule-len", type=int, default=0, help="number of schedule items (peers: completeness)")
    c.add_argument("--cmd", default="")
    a = ap.parse_args(argv)
    if a.cmd == "run":
        return cmd_run(a)
    if a.cmd == "peers":
        os.execv("/bin/bash", ["bash", str(HERE / "run_peers.sh")] + a.rest)
    if a.cmd == "report":
        return cmd_report(a)
    if a.cmd == "subset":
        return cmd_subset(a)
    return cmd_coresidence_record(a)


if __name__ == "__main__":
    sys.exit(main())
