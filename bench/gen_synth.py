#!/usr/bin/env python3
"""Synthetic clustered-Gaussian ANN dataset generator with exact ground truth.

Adapted from ../shared/bench/gen_synth.py (same data model and, for n <= --chunk, the same random
stream, so `--n 100000 --d 128` reproduces the shared synth-100k-128 set bit for bit) so that it
scales to 1M x 768 on a 24 GiB machine: the base set is drawn and written in chunks, and the ground
truth is computed blockwise over queries AND base rows (the shared version needs ~12 GiB of float64
temporaries and an nq x n distance block at 1M x 768).

Writes OUT/{base.fvecs, query.fvecs, gt.ivecs, meta.json} (texmex formats) or, with
--format u8bin, OUT/{base.u8bin, query.u8bin, gt.ivecs, meta.json} (int32 n, int32 d, n*d uint8).

Data model: C cluster centres ~ N(0, I) scaled by a decaying per-dimension spectrum (anisotropic, like
real embeddings); each cluster has its own spread and its own random r-dimensional local basis B_c
(r = --intrinsic, default 32): x = centre + spread * (z @ B_c) * spectrum + noise * N(0, 1),
z ~ N(0, I_r). The local intrinsic dimensionality stays near r (real embeddings are low-LID; a
full-rank Gaussian is unrealistically hard). --intrinsic 0 = full-rank isotropic clusters (harder).
Queries are fresh draws from the same mixture (not copies of base rows).

Ground truth: exact top-k (default 100) under --metric (l2; cos = L2-normalised copies, inner
product; ip), float32 GEMM per (query block x base chunk) keeping k+64 candidates per query, merged
across chunks, then a float64 re-rank of the candidates (ties broken by the smaller id).

Cost on the 2-core box (measured, busy machine): 1M x 128 about 55 s (517 MB); 1M x 768 (3.08 GB)
75-140 s with a peak RSS of 5.5 GiB, of which about 2.9 GiB is the memory-mapped base file read back
for the ground truth (reclaimable page cache). Every run records gen_seconds, gt_seconds and
bytes_on_disk in meta.json.

Usage:
  /usr/bin/python3 bench/gen_synth.py --n 1000000 --d 768 --nq 1000 --out /tmp/skeg-bench-data/synth-1m-768
"""
import argparse
import json
import os
import time

import numpy as np


def fvecs_rows(x, dtype):
    x = np.ascontiguousarray(x, dtype=dtype)
    n, d = x.shape
    rec = np.empty((n, d + 1), dtype=dtype)
    if dtype == np.float32:
        rec[:, 0] = np.array([d], dtype=np.int32).view(np.float32)[0]
    else:
        rec[:, 0] = d
    rec[:, 1:] = x
    return rec


def write_vecs(path, x, dtype):
    with open(path, "wb") as f:
        fvecs_rows(x, dtype).tofile(f)


def open_base(path, d):
    """Memory-map the base rows of an fvecs or u8bin file as an (n, d) array."""
    if path.endswith(".fvecs"):
        raw = np.memmap(path, dtype=np.float32, mode="r").reshape(-1, d + 1)
        return raw[:, 1:]
    n = int(np.fromfile(path, dtype=np.int32, count=1)[0])
    return np.memmap(path, dtype=np.uint8, mode="r", offset=8, shape=(n, d))


def exact_knn(base, queries, k, metric="l2", qblock=1024, bchunk=131072):
    """Exact kNN of every query over base (an (n, d) array or memmap), blockwise.

    Returns int32 ids (nq, k), nearest first. Memory: one (qblock x bchunk) float32 block plus the
    candidate lists, independent of n."""
    n = base.shape[0]
    k = min(k, n)
    kk = min(n, k + 64)
    q_all = np.ascontiguousarray(queries, dtype=np.float32)
    if metric == "cos":
        q_all = q_all / np.maximum(np.linalg.norm(q_all, axis=1, keepdims=True), 1e-30)
    out = np.empty((len(q_all), k), dtype=np.int32)

    def prep(rows):
        rows = np.ascontiguousarray(rows, dtype=np.float32)
        if metric == "cos":
            rows = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-30)
        return rows

    def score(q, rows):  # smaller is better
        if metric == "l2":
            return (rows.astype(np.float64) ** 2).sum(1).astype(np.float32)[None, :] - 2.0 * (q @ rows.T)
        return -(q @ rows.T)

    for s in range(0, len(q_all), qblock):
        q = q_all[s:s + qblock]
        cand_id = np.empty((len(q), 0), dtype=np.int64)
        cand_sc = np.empty((len(q), 0), dtype=np.float32)
        for b in range(0, n, bchunk):
            rows = prep(base[b:b + bchunk])
            sc = score(q, rows)
            m = min(kk, sc.shape[1])
            part = np.argpartition(sc, m - 1, axis=1)[:, :m]
            cand_id = np.concatenate([cand_id, part + b], axis=1)
            cand_sc = np.concatenate([cand_sc, np.take_along_axis(sc, part, axis=1)], axis=1)
            if cand_id.shape[1] > kk:
                keep = np.argpartition(cand_sc, kk - 1, axis=1)[:, :kk]
                cand_id = np.take_along_axis(cand_id, keep, axis=1)
                cand_sc = np.take_along_axis(cand_sc, keep, axis=1)
        for i in range(len(q)):  # float64 re-rank of the k+64 candidates, ties by id
            c = cand_id[i]
            rows = prep(base[np.sort(c)]).astype(np.float64)
            c = np.sort(c)
            qi = q[i].astype(np.float64)
            if metric == "l2":
                dd = ((rows - qi) ** 2).sum(1)
            else:
                dd = -(rows @ qi)
            out[s + i] = c[np.lexsort((c, dd))[:k]]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100000)
    ap.add_argument("--d", type=int, default=128)
    ap.add_argument("--nq", type=int, default=1000)
    ap.add_argument("--clusters", type=int, default=0, help="default: ~sqrt(n)/2, min 16")
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--intrinsic", type=int, default=32, help="local intrinsic dim per cluster (0 = full rank)")
    ap.add_argument("--noise", type=float, default=0.05, help="isotropic noise std when --intrinsic>0")
    ap.add_argument("--metric", choices=["l2", "cos", "ip"], default="l2", help="ground-truth metric")
    ap.add_argument("--format", choices=["fvecs", "u8bin"], default="fvecs")
    ap.add_argument("--chunk", type=int, default=262144, help="base rows drawn and written per step")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    t0 = time.time()
    rng = np.random.default_rng(a.seed)
    C = a.clusters or max(16, int(np.sqrt(a.n) / 2))
    spectrum = (1.0 / np.sqrt(1.0 + np.arange(a.d) / 8.0)).astype(np.float32)  # decaying variance
    rng.shuffle(spectrum)
    centres = rng.standard_normal((C, a.d)).astype(np.float32) * spectrum * 2.0
    spread = rng.uniform(0.4, 1.2, size=C).astype(np.float32)
    weights = rng.dirichlet(np.full(C, 2.0))
    r = min(a.intrinsic, a.d)
    if r > 0:
        bases = rng.standard_normal((C, r, a.d)).astype(np.float32) / np.sqrt(r) * np.sqrt(a.d / r) ** 0.5

    def draw(m):
        lab = rng.choice(C, size=m, p=weights)
        x = np.empty((m, a.d), dtype=np.float32)
        if r == 0:
            for s in range(0, m, 65536):
                e = min(m, s + 65536)
                x[s:e] = centres[lab[s:e]] + spread[lab[s:e], None] * spectrum * rng.standard_normal(
                    (e - s, a.d), dtype=np.float32)
            return x
        for c in range(C):
            idx = np.nonzero(lab == c)[0]
            if len(idx) == 0:
                continue
            z = rng.standard_normal((len(idx), r), dtype=np.float32)
            x[idx] = centres[c] + spread[c] * (z @ bases[c]) * spectrum \
                + a.noise * rng.standard_normal((len(idx), a.d), dtype=np.float32)
        return x

    os.makedirs(a.out, exist_ok=True)
    ext = "u8bin" if a.format == "u8bin" else "fvecs"
    base_path = os.path.join(a.out, f"base.{ext}")
    lo = hi = None
    with open(base_path, "wb") as f:
        if a.format == "u8bin":
            np.array([a.n, a.d], dtype=np.int32).tofile(f)
        for s in range(0, a.n, a.chunk):
            x = draw(min(a.chunk, a.n - s))
            if a.format == "u8bin":
                if lo is None:
                    lo, hi = np.percentile(x[: min(len(x), 100000)], [0.1, 99.9])
                np.clip(np.rint((x - lo) / (hi - lo) * 255.0), 0, 255).astype(np.uint8).tofile(f)
            else:
                fvecs_rows(x, np.float32).tofile(f)
            del x
            print(f"[gen_synth] base {min(a.n, s + a.chunk)}/{a.n} ({time.time() - t0:.0f} s)", flush=True)
    queries = draw(a.nq)
    if a.format == "u8bin":
        qq = np.clip(np.rint((queries - lo) / (hi - lo) * 255.0), 0, 255).astype(np.uint8)
        with open(os.path.join(a.out, "query.u8bin"), "wb") as f:
            np.array([a.nq, a.d], dtype=np.int32).tofile(f)
            qq.tofile(f)
        queries = qq.astype(np.float32)
    else:
        write_vecs(os.path.join(a.out, "query.fvecs"), queries, np.float32)
    t1 = time.time()
    base = open_base(base_path, a.d)
    gt = exact_knn(base, queries, a.k, a.metric)
    write_vecs(os.path.join(a.out, "gt.ivecs"), gt, np.int32)
    t2 = time.time()
    files = [f for f in os.listdir(a.out) if f.split(".")[0] in ("base", "query", "gt")]
    meta = dict(name=os.path.basename(os.path.normpath(a.out)), generator="bench/gen_synth.py", n=a.n, d=a.d,
                nq=a.nq, clusters=C, intrinsic=r, noise=a.noise if r else None, seed=a.seed, metric=a.metric,
                format=a.format, gt_k=min(a.k, a.n), gen_seconds=round(t1 - t0, 2), gt_seconds=round(t2 - t1, 2),
                bytes_on_disk=sum(os.path.getsize(os.path.join(a.out, f)) for f in files))
    with open(os.path.join(a.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(json.dumps(meta))


if __name__ == "__main__":
    main()
