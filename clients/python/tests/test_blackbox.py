"""Black-box tests against the real `skeg` binary (SKEG_BIN / --skeg-bin; skipped without).

The server serves every native KV and admin op; the vector test probes the server and skips
itself until the vector engine lands (vector ops answer InvalidRequest until then). The full
native suite is tests/integration/test_native.py.
"""

from __future__ import annotations

import pytest

import skeg


def _needs_vector_ops(client):
    try:
        client.vindex_list()
    except skeg.InvalidRequest as e:
        if "not available" not in e.message:
            raise
        pytest.skip(f"server does not serve native vector ops yet: {e.message}")


def test_ping_against_the_real_server(skeg_server):
    host, port = skeg_server
    with skeg.Client(host, port) as c:
        assert c.ping() is None
        with c.pipeline() as p:
            for _ in range(10):
                p.ping()
        assert p.results == [None] * 10


def test_kv_against_the_real_server(skeg_server):
    host, port = skeg_server
    with skeg.Client(host, port) as c:
        c.set("k", "v")
        assert c.get("k") == b"v"
        assert c.get("missing") is None
        assert c.set("k", "w", nx=True) is False
        assert c.delete("k") is True
        c.mset({"a": "1", "b": "2"})
        assert c.mget(["a", "b", "c"]) == [b"1", b"2", None]
        assert c.mexists(["a", "b", "c"]) == 2
        assert c.exists("a") is True
        assert c.set("a", "3", xx=True) is True
        assert c.get("a") == b"3"
        c.flush()
        assert c.get("a") == b"3"  # FLUSH is a sync barrier, not FLUSHDB
        assert c.stats().n_keys == 2
        assert [s.n_keys for s in c.shards()] == [2]
        assert "user=default" in c.whoami()


def test_vectors_against_the_real_server(skeg_server):
    host, port = skeg_server
    with skeg.Client(host, port) as c:
        _needs_vector_ops(c)
        c.vindex_create("bb", 2, kind="f32", backend="flat")
        c.vset("bb", 1, [1.0, 0.0])
        c.vset("bb", 2, [0.0, 1.0])
        assert c.vget("bb", 1) == [1.0, 0.0]
        assert c.vsearch("bb", 1, [0.9, 0.1])[0][0] == 1
        assert [i.name for i in c.vindex_list()] == ["bb"]
        c.vindex_drop("bb")
