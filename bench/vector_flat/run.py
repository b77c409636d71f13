#!/usr/bin/env python3
"""Flat vector search: skeg (every index kind, over RESP) side by side with faiss IndexFlat and
IndexScalarQuantizer (in process), same data, same queries, same run.

    bench/vector_flat/run.py [--bin-dir build/release/bin] [--glove-rows 100000]
                             [--wordnet-rows 40000] [--queries 1000] [--out FILE.md]

For each dataset (../shared/data/glove-100-cosine, wordnet-use512-cosine; cosine), it starts a
fresh `skeg-resp3` (durability relaxed, its own temp data dir), loads every kind (f32, int8,
binary, tq1, tq2, tq4, pq) with pipelined SKEG.VMSET batches, then sends the queries one at a
time (k = 10, one client, sequential) and measures queries per second and recall@10 against the
dataset's exact ground truth (gt.ivecs when the whole base is loaded, numpy brute force
otherwise). skeg's figures include a loopback TCP round trip and RESP encoding per query; faiss
runs in this process, one query per call, one thread (omp_set_num_threads(1)), so both sides
use one core per query (faiss's all-queries-in-one-call QPS is reported beside it: that path
batches through BLAS, which a server answering one query per request cannot). skeg's "index
RAM" is SKEG.VINDEX.INFO ram_bytes (rows, maps, metadata, with growth slack); faiss's is
code bytes x n. faiss SQ8/SQ4 report faiss's own approximate ranking (no re-rank);
skeg re-ranks every quantized kind with exact f32 (docs/vectors.md).

Requires python3-redis, python3-numpy and python3-faiss (scripts/install-deps.sh).
"""

import argparse
import os
import pathlib
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

import numpy as np
import redis

ROOT = pathlib.Path(__file__).resolve().parents[2]
DATA = pathlib.Path(os.environ.get("SKEG_SHARED_DATA", ROOT.parent / "shared" / "data"))
KINDS = ["f32", "int8", "binary", "tq1", "tq2", "tq4", "pq"]
K = 10


def read_vecs(path, max_rows, dtype):
    raw = np.fromfile(path, dtype=np.int32)
    d = int(raw[0])
    rows = raw.reshape(-1, d + 1)[:max_rows, 1:]
    return np.ascontiguousarray(rows.view(dtype) if dtype == np.float32 else rows)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ground_truth(name, base, queries, full):
    if full:
        return read_vecs(DATA / name / "gt.ivecs", len(queries), np.int32)[:, :K]
    unit = base / np.linalg.norm(base, axis=1, keepdims=True)
    qn = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    out = np.empty((len(queries), K), dtype=np.int64)
    for start in range(0, len(queries), 100):
        sims = qn[start:start + 100] @ unit.T
        out[start:start + 100] = np.argsort(-sims, axis=1, kind="stable")[:, :K]
    return out


def recall(results, truth):
    hits = sum(len(set(r[:K]) & set(t[:K].tolist())) for r, t in zip(results, truth))
    return hits / (K * len(truth))


class Skeg:
    def __init__(self, bin_dir):
        self.dir = tempfile.mkdtemp(prefix="skeg-vbench-")
        self.port = free_port()
        self.log = open(os.path.join(self.dir, "skeg.log"), "wb")
        self.proc = subprocess.Popen(
            [str(bin_dir / "skeg-resp3"), "--data-dir", os.path.join(self.dir, "data"),
             "--addr", f"127.0.0.1:{self.port}", "--metrics-port", "0",
             "--durability", "relaxed"],  # fmt: skip
            stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        self.r = redis.Redis(host="127.0.0.1", port=self.port)

    def close(self):
        self.r.close()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def bench_skeg(srv, kind, base, queries):
    name = f"b-{kind}"
    r = srv.r
    r.execute_command("SKEG.VINDEX.CREATE", name, base.shape[1], kind, "flat")
    t0 = time.perf_counter()
    pipe = r.pipeline(transaction=False)
    for start in range(0, len(base), 1000):
        args = []
        for i in range(start, min(start + 1000, len(base))):
            args += [i, base[i].tobytes(), b""]
        pipe.execute_command("SKEG.VMSET", name, *args)
        if len(pipe) == 8:
            pipe.execute()
    pipe.execute()
    load_s = time.perf_counter() - t0
    blobs = [q.tobytes() for q in queries]
    for b in blobs[:20]:  # warm up
        r.execute_command("SKEG.VSEARCH", name, K, 0, b)
    results = []
    t0 = time.perf_counter()
    for b in blobs:
        reply = r.execute_command("SKEG.VSEARCH", name, K, 0, b)
        results.append([int(reply[i]) for i in range(0, len(reply), 2)])
    secs = time.perf_counter() - t0
    info = r.execute_command("SKEG.VINDEX.INFO", name)
    info = dict(zip(info[::2], info[1::2]))
    r.execute_command("SKEG.VINDEX.DROP", name)
    return results, len(blobs) / secs, int(info[b"ram_bytes"]), load_s, int(
        info[b"rerank_candidates_per_k"])


def bench_faiss(factory, base, queries):
    import faiss

    faiss.omp_set_num_threads(1)
    unit = np.ascontiguousarray(base / np.linalg.norm(base, axis=1, keepdims=True), np.float32)
    qn = np.ascontiguousarray(queries / np.linalg.norm(queries, axis=1, keepdims=True), np.float32)
    t0 = time.perf_counter()
    index = factory(unit.shape[1])
    if not index.is_trained:
        index.train(unit)
    index.add(unit)
    load_s = time.perf_counter() - t0
    for i in range(20):
        index.search(qn[i:i + 1], K)
    results = []
    t0 = time.perf_counter()
    for i in range(len(qn)):
        _, ids = index.search(qn[i:i + 1], K)
        results.append(ids[0].tolist())
    secs = time.perf_counter() - t0
    t0 = time.perf_counter()
    index.search(qn, K)  # all queries in one call (BLAS for IndexFlat)
    batch_qps = len(qn) / (time.perf_counter() - t0)
    code_bytes = getattr(index, "code_size", unit.shape[1] * 4)
    return results, len(qn) / secs, code_bytes * len(unit), load_s, batch_qps


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin-dir", default=str(ROOT / "build" / "release" / "bin"))
    ap.add_argument("--glove-rows", type=int, default=100000)
    ap.add_argument("--wordnet-rows", type=int, default=40000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    import faiss

    lines = [
        f"skeg {args.bin_dir} (over RESP on loopback, one client, sequential queries) vs faiss "
        f"{faiss.__version__} (in process, 1 thread, one query per call); k = {K}, cosine.",
        "",
        "| dataset | n x d | engine / kind | recall@10 | QPS (1 query per call) | QPS (faiss: all "
        "queries in one call) | index RAM MiB | load s | re-rank x k |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, rows in (("glove-100-cosine", args.glove_rows),
                       ("wordnet-use512-cosine", args.wordnet_rows)):  # fmt: skip
        base = read_vecs(DATA / name / "base.fvecs", rows, np.float32)
        queries = read_vecs(DATA / name / "query.fvecs", args.queries, np.float32)
        total = len(np.fromfile(DATA / name / "base.fvecs", dtype=np.int32)) // (base.shape[1] + 1)
        truth = ground_truth(name, base, queries, full=len(base) == total)
        shape = f"{len(base)} x {base.shape[1]}"
        srv = Skeg(pathlib.Path(args.bin_dir))
        try:
            for kind in KINDS:
                res, qps, ram, load_s, mult = bench_skeg(srv, kind, base, queries)
                row = (f"| {name} | {shape} | skeg {kind} | {recall(res, truth):.4f} | {qps:.0f} | - | "
                       f"{ram / 2**20:.1f} | {load_s:.1f} | {mult or 'exact'} |")
                print(row, flush=True)
                lines.append(row)
        finally:
            srv.close()
        for label, factory in (
            ("faiss IndexFlatIP", lambda d: faiss.IndexFlatIP(d)),
            ("faiss SQ8", lambda d: faiss.IndexScalarQuantizer(
                d, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)),
            ("faiss SQ4", lambda d: faiss.IndexScalarQuantizer(
                d, faiss.ScalarQuantizer.QT_4bit, faiss.METRIC_INNER_PRODUCT)),
        ):  # fmt: skip
            res, qps, ram, load_s, batch_qps = bench_faiss(factory, base, queries)
            row = (f"| {name} | {shape} | {label} | {recall(res, truth):.4f} | {qps:.0f} | "
                   f"{batch_qps:.0f} | {ram / 2**20:.1f} | {load_s:.1f} | none |")
            print(row, flush=True)
            lines.append(row)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        pathlib.Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
