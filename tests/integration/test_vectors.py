"""Black-box tests of the vector commands (spec/COMMANDS.md "Vectors") on `skeg`.

Fills indexes from a real dataset (the first 5 000 rows of ../shared/data/glove-100-cosine)
through redis-py (RESP) and the repository's Python client (native protocol), checks the f32
index against a numpy brute force, restarts the server (SIGTERM, then a new process on the same
data directory) and requires byte-identical search results, vectors, payloads and listings.
Then every error the vector commands define, over RESP and over the native protocol.

The binaries are found in $SKEG_BIN_DIR (default: build/release/bin under the source tree).
"""

import os
import pathlib
import socket
import struct
import sys

import pytest
import redis

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "clients" / "python"))

import skeg  # noqa: E402
from test_binaries import Server as Process, free_port  # noqa: E402

DATA = pathlib.Path(os.environ.get("SKEG_SHARED_DATA", ROOT.parent / "shared" / "data"))
ROWS = 5000
QUERIES = 30



def read_fvecs(path, max_rows):
    rows = []
    with open(path, "rb") as f:
        while len(rows) < max_rows:
            head = f.read(4)
            if len(head) < 4:
                break
            (d,) = struct.unpack("<i", head)
            rows.append(struct.unpack(f"<{d}f", f.read(4 * d)))
    return rows


def f32(vec):
    return struct.pack(f"<{len(vec)}f", *vec)


class Server(Process):
    """One `skeg` process serving native and RESP on free ports over `data_dir`."""

    def __init__(self, tmp_path, data_dir):
        self.port = free_port()
        self.resp_port = free_port()
        super().__init__(tmp_path, "skeg", [
            "--data-dir", str(data_dir), "--addr", f"127.0.0.1:{self.port}",
            "--resp-addr", f"127.0.0.1:{self.resp_port}", "--metrics-port", "0"])  # fmt: skip
        self.wait_listening(self.resp_port)

    def redis(self):
        return redis.Redis(host="127.0.0.1", port=self.resp_port)

    def native(self):
        return skeg.Client("127.0.0.1", self.port)

    def stop(self):
        assert super().stop() == 0, self.log()


@pytest.fixture
def glove():
    base = DATA / "glove-100-cosine" / "base.fvecs"
    if not base.exists():
        pytest.skip(f"{base} not found")
    rows = read_fvecs(base, ROWS)
    queries = read_fvecs(DATA / "glove-100-cosine" / "query.fvecs", QUERIES)
    return rows, queries


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path, tmp_path / "data")
    yield s
    s.close()


def search_all(r, nc, queries):
    """Every query against every index, as raw RESP replies and native results."""
    out = []
    for q in queries:
        blob = f32(q)
        out.append(r.execute_command("SKEG.VSEARCH", "g-f32", 10, 0, blob, "WITHPAYLOAD"))
        out.append(r.execute_command("SKEG.VSEARCH", "g-tq2", 10, 0, blob, "FILTER",
                                     "parity = even AND row < 4000"))  # fmt: skip
        out.append(r.execute_command("SKEG.VSEARCH", "g-int8", 5, 0, blob, "RANGE", 100, 2000))
        out.append(nc.vsearch("n-tq4", 10, q))
    return out


def test_fill_search_restart(tmp_path, glove):
    import numpy as np

    rows, queries = glove
    data_dir = tmp_path / "data"
    srv = Server(tmp_path, data_dir)
    r = srv.redis()
    assert r.execute_command("SKEG.VINDEX.CREATE", "g-f32", 100, "f32", "flat") == b"OK"
    assert r.execute_command("SKEG.VINDEX.CREATE", "g-tq2", 100, "disk") == b"OK"  # kind tq2
    assert r.execute_command("SKEG.VINDEX.CREATE", "g-int8", 100, "int8", "flat", "METRIC", "ip",
                             "M", 32, "EF_CONSTRUCTION", 100, "ALPHA", 1.1) == b"OK"  # fmt: skip
    for name in ("g-f32", "g-tq2"):
        for start in range(0, ROWS, 500):
            args = []
            for i in range(start, start + 500):
                args += [i, f32(rows[i]), f"row={i} parity={'even' if i % 2 == 0 else 'odd'}"]
            assert r.execute_command("SKEG.VMSET", name, *args) == 500
    pipe = r.pipeline(transaction=False)
    for i in range(ROWS):
        pipe.execute_command("SKEG.VSET", "g-int8", i, f32(rows[i]), "ATTR", i)
    assert all(x == b"OK" for x in pipe.execute())
    nc = srv.native()
    assert nc.vindex_create("n-tq4", 100, "tq4", "flat") is None
    with nc.pipeline() as p:
        for i in range(ROWS):
            p.vset("n-tq4", i, rows[i], no_reply=True)
        p.execute()
    for i in range(0, ROWS, 7):
        assert r.execute_command("SKEG.VDEL", "g-tq2", i) == 1
        assert nc.vdel("n-tq4", i) is True
    assert r.execute_command("SKEG.VDEL", "g-tq2", 0) == 0
    # Fold the disk index's delta and tombstones into its first graph version, then delete a
    # few more (tombstones over the graph) so both paths are searched across the restart.
    assert r.execute_command("SKEG.VINDEX.CONSOLIDATE", "g-tq2") == b"OK"
    for i in range(3, ROWS, 101):
        assert r.execute_command("SKEG.VDEL", "g-tq2", i) == (1 if i % 7 else 0)

    # The f32 index is exact: compare with a numpy brute force (cosine).
    base = np.array(rows, dtype=np.float32)
    unit = base / np.linalg.norm(base, axis=1, keepdims=True)
    for q in queries[:10]:
        qv = np.array(q, dtype=np.float32)
        sims = unit @ (qv / np.linalg.norm(qv))
        expect = np.argsort(-sims, kind="stable")[:10]
        reply = r.execute_command("SKEG.VSEARCH", "g-f32", 10, 0, f32(q))
        ids = [int(reply[i]) for i in range(0, len(reply), 2)]
        scores = [float(reply[i]) for i in range(1, len(reply), 2)]
        assert ids == [int(x) for x in expect] or np.allclose(sorted(sims[ids])[::-1],
                                                              sims[expect], atol=1e-6)
        assert np.allclose(scores, sims[ids], atol=1e-5)
    # Quantized kinds re-rank with exact scores: every returned score is the true cosine.
    for q in queries[:5]:
        qv = np.array(q, dtype=np.float32)
        sims = unit @ (qv / np.linalg.norm(qv))
        for i, score in nc.vsearch("n-tq4", 10, q):
            assert abs(score - sims[i]) < 1e-5

    before = search_all(r, nc, queries)
    listing = r.execute_command("SKEG.VINDEX.LIST")
    native_listing = nc.vindex_list()
    info = r.execute_command("SKEG.VINDEX.INFO", "g-tq2")
    vectors = [r.execute_command("SKEG.VGET", "g-int8", i) for i in range(0, ROWS, 97)]
    assert vectors[1] == f32(rows[97])
    nc.close()
    r.close()
    srv.stop()

    srv = Server(tmp_path, data_dir)
    try:
        r = srv.redis()
        nc = srv.native()
        assert "4 opened, 18527 vectors" in srv.log()  # 43 more deletes on g-tq2
        assert search_all(r, nc, queries) == before
        assert r.execute_command("SKEG.VINDEX.LIST") == listing
        assert nc.vindex_list() == native_listing
        # Same INFO but for the RAM figures (tables are sized anew at open).
        info, after_info = (dict(zip(x[::2], x[1::2])) for x in
                            (info, r.execute_command("SKEG.VINDEX.INFO", "g-tq2")))  # fmt: skip
        assert info[b"graph_version"] == 1 and info[b"deleted"] == info[b"pending"] > 0
        del info[b"ram_bytes"], after_info[b"ram_bytes"]
        assert after_info == info
        assert info[b"backend"] == b"disk"
        assert [r.execute_command("SKEG.VGET", "g-int8", i) for i in range(0, ROWS, 97)] == vectors
        assert r.execute_command("SKEG.VGET", "g-tq2", 7) is None
        # Drop survives a restart too.
        assert r.execute_command("SKEG.VINDEX.DROP", "g-f32") == b"OK"
        nc.close()
        r.close()
        srv.stop()
        srv = Server(tmp_path, data_dir)
        assert b"g-f32" not in srv.redis().execute_command("SKEG.VINDEX.LIST")
        srv.stop()
    finally:
        if srv.proc.poll() is None:
            srv.proc.kill()


def resp_error(r, *args):
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command(*args)
    return str(e.value)


def test_resp_errors(server):
    r = server.redis()
    v2 = f32([1.0, 2.0])
    assert r.execute_command("SKEG.VINDEX.CREATE", "v", 2, "f32", "flat") == b"OK"
    cases = [
        (("SKEG.VINDEX.CREATE", "v", 2, "f32", "flat"), "index 'v' already exists"),
        (("SKEG.VINDEX.CREATE", "../x", 2, "flat"), "bad index name '../x': must not contain '..'"),
        (("SKEG.VINDEX.CREATE", "a::b", 2, "flat"), "bad index name 'a::b': must not contain '::'"),
        (("SKEG.VINDEX.CREATE", ".", 2, "flat"), "bad index name '.': '.' and '..' are reserved"),
        (("SKEG.VINDEX.CREATE", "x", 0, "flat"), "bad dim '0': must be an integer between 1 and 4096"),
        (("SKEG.VINDEX.CREATE", "x", 5000, "flat"),
         "bad dim '5000': must be an integer between 1 and 4096"),
        (("SKEG.VINDEX.CREATE", "x", 2, "f16", "flat"),
         "unknown kind 'f16' (expected f32, int8, binary, tq1, tq2, tq4 or pq)"),
        (("SKEG.VINDEX.CREATE", "x", 2, "f32", "ssd"), "unknown backend 'ssd' (expected flat or disk)"),
        (("SKEG.VINDEX.CREATE", "x", 2, "f32", "flat", "METRIC", "dot"),
         "unknown metric 'dot' (expected cosine, l2 or ip)"),
        (("SKEG.VINDEX.DROP", "nope"), "unknown index 'nope'"),
        (("SKEG.VINDEX.INFO", "nope"), "unknown index 'nope'"),
        (("SKEG.VSET", "nope", 1, v2), "unknown index 'nope'"),
        (("SKEG.VSET", "v", 1, f32([1.0])), "wrong vector dimension: index 'v' has dim 2, got 1"),
        (("SKEG.VSET", "v", 1, b"abcde"), "vector byte length 5 is not a multiple of 4"),
        (("SKEG.VSET", "v", 1, f32([float("nan"), 1.0])), "vector contains NaN or Inf"),
        (("SKEG.VSET", "v", 1, f32([float("inf"), 1.0])), "vector contains NaN or Inf"),
        (("SKEG.VSET", "v", -1, v2), "id must be an unsigned 64-bit integer"),
        (("SKEG.VSET", "v", 1, v2, "ATTR", "x"), "ATTR must be an unsigned 64-bit integer"),
        (("SKEG.VSET", "v", 1, v2, "BOGUS", "x"), "syntax error"),
        (("SKEG.VMSET", "v", 1, v2), "wrong number of arguments for 'skeg.vmset' command"),
        (("SKEG.VMSET", "v", 1, v2, "", 2), "wrong number of arguments for 'skeg.vmset' command"),
        (("SKEG.VSEARCH", "v", 0, 0, v2), "k must be between 1 and 10000"),
        (("SKEG.VSEARCH", "v", 10001, 0, v2), "k must be between 1 and 10000"),
        (("SKEG.VSEARCH", "v", 10, -1, v2), "l_search must be an integer between 0 and 65536"),
        (("SKEG.VSEARCH", "v", 10, 0, f32([1.0, 2.0, 3.0])),
         "wrong vector dimension: index 'v' has dim 2, got 3"),
        (("SKEG.VSEARCH", "v", 10, 0, v2, "FILTER", "a >"),
         "bad FILTER: expected an integer after '>' but the expression ended"),
        (("SKEG.VSEARCH", "v", 10, 0, v2, "FILTER", "a = 1 OR"),
         "bad FILTER: expected a field name or '(' but the expression ended"),
        (("SKEG.VSEARCH", "v", 10, 0, v2, "FILTER", "a IN (1 2)"),
         "bad FILTER: expected ',' or ')' in IN (...) at offset 8, got '2'"),
        (("SKEG.VSEARCH", "v", 10, 0, v2, "RANGE", 5, "x"),
         "RANGE bounds must be unsigned 64-bit integers"),
        (("SKEG.VSEARCH", "nope", 10, 0, v2), "unknown index 'nope'"),
        (("SKEG.VGET", "v", "x"), "id must be an unsigned 64-bit integer"),
        (("SKEG.VDEL", "nope", 1), "unknown index 'nope'"),
    ]
    for args, message in cases:
        assert resp_error(r, *args) == message, args
    # The filter grammar end to end, through the repository's RESP client wrapper too.
    for i, payload in enumerate(["lang=en year=2020", "lang=fr year=2021", "lang=en year=2022"]):
        assert r.execute_command("SKEG.VSET", "v", i, f32([1.0, float(i)]), "PAYLOAD", payload,
                                 "ATTR", i * 10) == b"OK"  # fmt: skip
    reply = r.execute_command("SKEG.VSEARCH", "v", 10, 0, v2, "WITHPAYLOAD", "FILTER",
                              "lang = en and (year between 2021 and 2022 or not year exists)")
    assert reply[0::3] == [b"2"] and reply[2] == b"lang=en year=2022"
    reply = r.execute_command("SKEG.VSEARCH", "v", 10, 0, v2, "RANGE", 5, 15)
    assert reply[0::2] == [b"1"]


def test_resp3_scores_are_doubles(server):
    r = server.redis()
    assert r.execute_command("SKEG.VINDEX.CREATE", "v", 2, "f32", "flat", "METRIC", "l2") == b"OK"
    assert r.execute_command("SKEG.VSET", "v", 1, f32([1.0, 1.0])) == b"OK"
    with socket.create_connection(("127.0.0.1", server.resp_port)) as s:
        blob = f32([0.0, 0.0])
        s.sendall(b"HELLO 3\r\n")
        s.sendall(b"*5\r\n$12\r\nSKEG.VSEARCH\r\n$1\r\nv\r\n$1\r\n1\r\n$1\r\n0\r\n$8\r\n" + blob +
                  b"\r\n")  # fmt: skip
        data = b""
        while not data.endswith(b",2\r\n"):
            chunk = s.recv(4096)
            assert chunk, data
            data += chunk
        assert data.endswith(b"*2\r\n$1\r\n1\r\n,2\r\n")  # squared L2 as a RESP3 double


def test_native_errors(server):
    with server.native() as c:
        c.vindex_create("v", 2, "int8", "disk")
        with pytest.raises(skeg.InvalidRequest, match="already exists"):
            c.vindex_create("v", 2)
        with pytest.raises(skeg.InvalidRequest, match="must not contain '::'"):
            c.vindex_create("a::b", 2)
        with pytest.raises(skeg.InvalidRequest, match="bad dim '0'"):
            c.vindex_create("x", 0)
        with pytest.raises(skeg.InvalidRequest, match="wrong vector dimension"):
            c.vset("v", 1, [1.0, 2.0, 3.0])
        with pytest.raises(skeg.InvalidRequest, match="NaN or Inf"):
            c.vset("v", 1, [float("nan"), 2.0])
        with pytest.raises(skeg.InvalidRequest, match="k must be between 1 and 10000"):
            c.vsearch("v", 0, [1.0, 2.0])
        for call in (lambda: c.vset("nope", 1, [1.0]), lambda: c.vget("nope", 1),
                     lambda: c.vdel("nope", 1), lambda: c.vsearch("nope", 1, [1.0]),
                     lambda: c.vindex_drop("nope")):  # fmt: skip
            with pytest.raises(skeg.NotFound, match="unknown index 'nope'"):
                call()
        with pytest.raises(skeg.NotFound):
            c.vget("v", 12345)
        assert [(x.name, x.kind, x.backend) for x in c.vindex_list()] == [("v", "int8", "disk")]
