"""Black-box tests of the disk (Vamana on SSD) backend, the way a newcomer uses it.

`skeg build` turns ../shared/data/glove-100-cosine (100 000 x 100) and wordnet-use512-cosine
(40 000 x 512) into served index directories; `skeg --mode serve` serves them with a small page
cache; every query of the dataset runs over RESP and recall@10 against the shipped ground truth
must reach the documented floor at the default l_search (0.95 GloVe, 0.99 WordNet). While the
GloVe queries run, the server's RSS is sampled every 20 ms and must stay within --cache-bytes
plus the fixed overhead documented in docs/vectors.md. The same queries with io_uring forced off
(SKEG_IO_URING=off) must return identical results.

Runs as its own ctest (`integration_disk_index`, label integration, Release only): the builds
take a minute or two on two cores.
"""

import os
import pathlib
import struct
import subprocess
import threading
import time

import pytest
import redis

from test_binaries import Server as Process, binary, clean_env, free_port

ROOT = pathlib.Path(__file__).resolve().parents[2]
DATA = pathlib.Path(os.environ.get("SKEG_SHARED_DATA", ROOT.parent / "shared" / "data"))
CACHE_BYTES = 32 << 20
# Anonymous + file-backed RSS of a serving process beyond the page cache: executable and shared
# libraries, allocator arenas, thread stacks, io_uring rings, per-thread search scratch, the
# 1-bit-per-node tombstone bitset. docs/vectors.md ("Memory of a served disk index") has the
# breakdown; this bound is what the test enforces.
FIXED_OVERHEAD_BYTES = 24 << 20
GLOVE_QUERIES = 2000


def read_fvecs(path):
    data = path.read_bytes()
    (d,) = struct.unpack_from("<i", data, 0)
    stride = 4 + 4 * d
    n = len(data) // stride
    return [struct.unpack_from(f"<{d}f", data, i * stride + 4) for i in range(n)], d


def read_ivecs(path):
    data = path.read_bytes()
    (d,) = struct.unpack_from("<i", data, 0)
    stride = 4 + 4 * d
    return [struct.unpack_from(f"<{d}i", data, i * stride + 4) for i in range(len(data) // stride)]


def build(tmp_path, dataset, name, extra=()):
    out = tmp_path / f"{name}-db"
    args = [binary("skeg"), "build", "--input", str(DATA / dataset / "base.fvecs"), "--output",
            str(out), "--name", name, "--kind", "tq2", "--metric", "cosine", *extra]
    done = subprocess.run(args, capture_output=True, text=True, timeout=1200, env=clean_env())
    assert done.returncode == 0, done.stdout + done.stderr
    return out


class Serve(Process):
    def __init__(self, tmp_path, data_dir, env_extra=None):
        self.port = free_port()
        self.resp_port = free_port()
        env = clean_env()
        env.update(env_extra or {})
        super().__init__(tmp_path, "skeg", [
            "--data-dir", str(data_dir), "--mode", "serve", "--addr", f"127.0.0.1:{self.port}",
            "--resp-addr", f"127.0.0.1:{self.resp_port}", "--metrics-port", "0",
            "--cache-bytes", str(CACHE_BYTES), "--workers", "2"], env=env)  # fmt: skip
        self.wait_listening(self.resp_port)

    def redis(self):
        return redis.Redis(port=self.resp_port, socket_timeout=60)


def rss_bytes(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile"):
                fields[key] = int(value.split()[0]) * 1024
    return fields


class Sampler(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.samples = []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            self.samples.append(rss_bytes(self.pid))
            time.sleep(0.02)


def query_all(r, name, queries, k=10):
    blobs = [struct.pack(f"<{len(q)}f", *q) for q in queries]
    out = []
    for i in range(0, len(blobs), 50):
        pipe = r.pipeline(transaction=False)
        for b in blobs[i:i + 50]:
            pipe.execute_command("SKEG.VSEARCH", name, k, 0, b)
        out.extend([int(x) for x in reply[0::2]] for reply in pipe.execute())
    return out


def recall_at_10(results, truth):
    hits = sum(len(set(res[:10]) & set(t[:10])) for res, t in zip(results, truth))
    return hits / (10 * len(truth))


def dataset_or_skip(name):
    if not (DATA / name / "base.fvecs").exists():
        pytest.skip(f"shared dataset {name} not found under {DATA}")


def test_glove_build_serve_recall_rss_and_pread(tmp_path):
    dataset_or_skip("glove-100-cosine")
    db = build(tmp_path, "glove-100-cosine", "glove")
    # 2 000 of the 10 000 queries: recall@10 to about +-0.005, in a fifth of the time.
    queries, _ = read_fvecs(DATA / "glove-100-cosine" / "query.fvecs")
    queries = queries[:GLOVE_QUERIES]
    truth = read_ivecs(DATA / "glove-100-cosine" / "gt.ivecs")[:GLOVE_QUERIES]

    srv = Serve(tmp_path, db)
    try:
        r = srv.redis()
        info = dict(zip(*[iter(r.execute_command("SKEG.VINDEX.INFO", "glove"))] * 2))
        assert info[b"n_vectors"] == 100000 and info[b"backend"] == b"disk"
        assert info[b"graph_version"] == 1 and info[b"pending"] == 0
        sampler = Sampler(srv.proc.pid)
        sampler.start()
        results = query_all(r, "glove", queries)
        # A warm cache answers the same.
        assert query_all(r, "glove", queries[:500]) == results[:500]
        sampler.stop.set()
        sampler.join()
        recall = recall_at_10(results, truth)
        print(f"glove-100-cosine recall@10 = {recall:.4f}")
        assert recall >= 0.95
        peak = max(s["VmRSS"] for s in sampler.samples)
        peak_anon = max(s["RssAnon"] for s in sampler.samples)
        print(f"RSS while searching: peak {peak / 2**20:.1f} MiB "
              f"(anon {peak_anon / 2**20:.1f} MiB), {len(sampler.samples)} samples")
        assert peak <= CACHE_BYTES + FIXED_OVERHEAD_BYTES, f"peak RSS {peak} bytes"
        # Serve mode refuses writes.
        with pytest.raises(redis.exceptions.ReadOnlyError):
            r.execute_command("SKEG.VDEL", "glove", 1)
        r.close()
    finally:
        assert srv.stop() == 0

    # io_uring forced off: the pread backend returns the same results.
    srv = Serve(tmp_path, db, {"SKEG_IO_URING": "off"})
    try:
        r = srv.redis()
        assert query_all(r, "glove", queries[:200]) == results[:200]
        r.close()
    finally:
        assert srv.stop() == 0


def test_wordnet_build_serve_recall(tmp_path):
    dataset_or_skip("wordnet-use512-cosine")
    db = build(tmp_path, "wordnet-use512-cosine", "wordnet")
    queries, _ = read_fvecs(DATA / "wordnet-use512-cosine" / "query.fvecs")
    truth = read_ivecs(DATA / "wordnet-use512-cosine" / "gt.ivecs")
    srv = Serve(tmp_path, db)
    try:
        r = srv.redis()
        recall = recall_at_10(query_all(r, "wordnet", queries), truth)
        print(f"wordnet-use512-cosine recall@10 = {recall:.4f}")
        assert recall >= 0.99
        r.close()
    finally:
        assert srv.stop() == 0
