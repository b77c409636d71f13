"""skeg.resp.VectorCommands: argument lists and reply parsing, against a recording fake of
redis-py's execute_command (no server needed)."""

from __future__ import annotations

import struct

import pytest

from skeg.resp import VectorCommands


class FakeRedis:
    def __init__(self, replies):
        self.replies = list(replies)
        self.calls = []

    def execute_command(self, *args):
        self.calls.append(args)
        return self.replies.pop(0)


def f32(*xs):
    return struct.pack(f"<{len(xs)}f", *xs)


def test_vindex_create_builds_every_option():
    r = FakeRedis([b"OK", "OK"])
    v = VectorCommands(r)
    assert v.vindex_create("docs", 3) is True
    assert v.vindex_create("d2", 8, "f32", "disk", metric="l2", m=32, ef_construction=100,
                           alpha=1.2)  # fmt: skip
    assert r.calls == [
        ("SKEG.VINDEX.CREATE", "docs", 3, "tq2", "flat"),
        ("SKEG.VINDEX.CREATE", "d2", 8, "f32", "disk", "METRIC", "l2", "M", 32,
         "EF_CONSTRUCTION", 100, "ALPHA", "1.2"),
    ]  # fmt: skip


def test_vindex_drop_list_info():
    r = FakeRedis([
        True,
        b"name=a dim=3 kind=f32 backend=flat metric=cosine n_vectors=10\n"
        b"name=b dim=8 kind=tq2 backend=disk metric=l2 n_vectors=0\n",
        [b"dim", 3, b"kind", b"f32", b"metric", b"cosine", b"ram_bytes", 1024],
        {"dim": 3, "kind": "tq2"},
        b"",
    ])  # fmt: skip
    v = VectorCommands(r)
    assert v.vindex_drop("a") is True
    assert v.vindex_list() == [
        {"name": "a", "dim": 3, "kind": "f32", "backend": "flat", "metric": "cosine",
         "n_vectors": 10},
        {"name": "b", "dim": 8, "kind": "tq2", "backend": "disk", "metric": "l2", "n_vectors": 0},
    ]  # fmt: skip
    assert v.vindex_info("a") == {"dim": 3, "kind": "f32", "metric": "cosine", "ram_bytes": 1024}
    assert v.vindex_info("b") == {"dim": 3, "kind": "tq2"}
    assert v.vindex_list() == []
    assert r.calls[0] == ("SKEG.VINDEX.DROP", "a")
    assert r.calls[2] == ("SKEG.VINDEX.INFO", "a")


def test_vset_vmset_vget_vdel():
    r = FakeRedis([b"OK", 2, f32(1.0, 2.0), None, 1, 0])
    v = VectorCommands(r)
    assert v.vset("i", 5, [1, 2], payload="lang=en", attr=9)
    assert v.vmset("i", [(1, [1.0, 0.0], "p"), (2, [0.0, 1.0])]) == 2
    assert v.vget("i", 5) == [1.0, 2.0]
    assert v.vget("i", 6) is None
    assert v.vdel("i", 5) is True
    assert v.vdel("i", 5) is False
    assert r.calls[0] == ("SKEG.VSET", "i", 5, f32(1, 2), "PAYLOAD", "lang=en", "ATTR", 9)
    assert r.calls[1] == ("SKEG.VMSET", "i", 1, f32(1, 0), "p", 2, f32(0, 1), b"")
    with pytest.raises(ValueError):
        v.vmset("i", [])


def test_vsearch_resp2_and_resp3_replies():
    r = FakeRedis([
        [b"7", b"0.5", b"9", b"0.25"],                 # RESP2: scores as bulk strings
        [b"7", 0.5, b"lang=en", b"9", 0.25, None],     # RESP3 doubles + WITHPAYLOAD
        [],
    ])  # fmt: skip
    v = VectorCommands(r)
    assert v.vsearch("i", 2, [1, 0]) == [(7, 0.5), (9, 0.25)]
    assert v.vsearch("i", 2, [1, 0], 64, withpayload=True, filter="lang=en", range=(1, 5)) == [
        (7, 0.5, b"lang=en"), (9, 0.25, None)]  # fmt: skip
    assert v.vsearch("i", 2, [1, 0]) == []
    assert r.calls[0] == ("SKEG.VSEARCH", "i", 2, 0, f32(1, 0))
    assert r.calls[1] == ("SKEG.VSEARCH", "i", 2, 64, f32(1, 0), "WITHPAYLOAD",
                          "FILTER", "lang=en", "RANGE", 1, 5)  # fmt: skip


def test_with_real_redis_py_if_installed():
    redis = pytest.importorskip("redis")
    # Only checks that the wrapper accepts a redis-py client object; no server needed.
    VectorCommands(redis.Redis(host="127.0.0.1", port=1))
