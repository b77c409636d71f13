"""skeg.Client against the in-test fake server (tests/fake_server.py)."""

from __future__ import annotations

import socket
import threading

import pytest

import skeg
from skeg import protocol as P


@pytest.fixture
def client(fake_server):
    with skeg.Client("127.0.0.1", fake_server.port, timeout=5) as c:
        yield c


def test_ping_and_kv(client):
    assert client.ping() is None
    assert client.get("k") is None
    assert client.set("k", "v1") is None
    assert client.get("k") == b"v1"
    assert client.set("k", "v2", nx=True) is False
    assert client.set("k", "v3", xx=True) is True
    assert client.set("new", "x", xx=True) is False
    assert client.get(b"k") == b"v3"
    assert client.exists("k") is True
    client.mset({"a": "1", "b": b"\x00\xff"})
    client.mset([("c", "3")])
    assert client.mget(["a", "nope", "b"]) == [b"1", None, b"\x00\xff"]
    assert client.mexists(["a", "b", "zz"]) == 2
    assert client.delete("a") is True
    assert client.delete("a") is False
    assert client.stats().n_keys == 3  # k, b, c
    assert client.shards() == [skeg.ShardInfo(0, 1, 0, 3, 4)]
    assert client.flush() is None
    with pytest.raises(ValueError):
        client.set("k", "v", nx=True, xx=True)


def test_vectors(client):
    client.vindex_create("idx", 2, kind="f32", backend="flat")
    with pytest.raises(skeg.InvalidRequest):
        client.vindex_create("idx", 2)
    client.vset("idx", 1, [1.0, 0.0])
    client.vset("idx", 2, [0.0, 1.0])
    with pytest.raises(skeg.InvalidRequest):
        client.vset("idx", 3, [1.0, 2.0, 3.0])
    with pytest.raises(skeg.NotFound):
        client.vset("nope", 3, [1.0, 2.0])
    assert client.vget("idx", 2) == [0.0, 1.0]
    with pytest.raises(skeg.NotFound):
        client.vget("idx", 99)
    hits = client.vsearch("idx", 2, [0.75, 0.25], l_search=32)
    assert [h[0] for h in hits] == [1, 2]
    assert hits[0][1] == pytest.approx(0.75)
    assert client.vindex_list() == [skeg.IndexInfo("idx", 2, "f32", "flat", 2)]
    assert client.vdel("idx", 1) is True
    assert client.vdel("idx", 1) is False
    client.vindex_drop("idx")
    assert client.vindex_list() == []


def test_numpy_vectors(client):
    np = pytest.importorskip("numpy")
    client.vindex_create("n", 3)
    client.vset("n", 1, np.arange(3, dtype=np.float32))
    assert client.vget("n", 1) == [0.0, 1.0, 2.0]
    assert client.vsearch("n", 1, np.ones(3))[0][0] == 1


def test_typed_exceptions_per_error_code(client):
    with pytest.raises(skeg.ReadOnly) as e:
        client.set("readonly", "x")
    assert e.value.code == 6 and e.value.message == "serve mode"
    with pytest.raises(skeg.QuotaExceeded):
        client.set("quota", "x")
    with pytest.raises(skeg.InternalError):
        client.set("boom", "x")
    with pytest.raises(skeg.Unauthorized):
        client.auth("al", "wrong")
    client.auth("al", "pw1")
    assert client.whoami() == "default"
    assert issubclass(skeg.NotFound, skeg.ServerError)
    assert issubclass(skeg.ServerError, skeg.SkegError)
    # the connection stays usable after every error
    assert client.ping() is None


def test_flags_reach_the_wire(client, fake_server):
    client.set("k", "v", wait_durable=True)
    client.set("k", "v" * 1000, compress=True)
    client.vindex_create("i", 1)
    client.vset("i", 1, [1.0], compress=True, wait_durable=True)
    assert client.get("k") == b"v" * 1000
    seen = fake_server.flags_seen
    assert seen[0] == P.Flag.WAIT_DURABLE
    assert seen[1] == P.Flag.COMPRESSED_LZ4
    assert seen[3] == P.Flag.COMPRESSED_LZ4 | P.Flag.WAIT_DURABLE


def test_no_reply_and_late_errors(client, fake_server):
    assert client.set("a", "1", no_reply=True) is None
    assert client.set("readonly", "x", no_reply=True) is None  # fails on the server
    assert client.delete("zz", no_reply=True) is None
    assert client.get("a") == b"1"  # reading this reply collects the late error
    assert len(client.no_reply_errors) == 1
    assert isinstance(client.no_reply_errors[0], skeg.ReadOnly)
    client.no_reply_errors.clear()
    with client.pipeline() as p:
        bad = p.set("readonly", "y", no_reply=True)
        good = p.set("c", "3", no_reply=True)
        p.ping()
        p.execute(raise_on_error=False)
    assert isinstance(p.results[bad], skeg.ReadOnly)
    assert p.results[good] is None
    assert client.no_reply_errors == []


def test_pipeline(client):
    with client.pipeline() as p:
        for i in range(200):
            p.set(f"k{i}", str(i))
        g = p.get("k42")
        m = p.get("missing")
        n = p.mget(["k1", "k2"])
    assert len(p.results) == 203
    assert p.results[g] == b"42"
    assert p.results[m] is None
    assert p.results[n] == [b"1", b"2"]
    p2 = client.pipeline()
    p2.vget("nope", 1)
    p2.ping()
    with pytest.raises(skeg.NotFound):
        p2.execute()
    assert p2.results[1] is None  # every reply was still read
    assert client.ping() is None
    assert client.pipeline().execute() == []


def test_big_pipeline_does_not_deadlock(client):
    value = b"v" * 1000
    p = client.pipeline()
    for i in range(4000):
        p.set(f"k{i % 10}", value)
    for i in range(4000):
        p.get(f"k{i % 10}")
    results = p.execute()
    assert results[-1] == value and len(results) == 8000


def test_broken_server_is_a_protocol_error(fake_server):
    fake_server.garbage = b"*1\r\n$4\r\nPING\r\n"
    c = skeg.Client("127.0.0.1", fake_server.port, timeout=5)
    with pytest.raises(skeg.ProtocolError):
        c.ping()
    assert c.closed
    with pytest.raises(skeg.ConnectionLost):
        c.ping()


def test_server_closing_is_connection_lost():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def accept_and_close():
        conn, _ = listener.accept()
        conn.recv(100)
        conn.close()

    t = threading.Thread(target=accept_and_close)
    t.start()
    c = skeg.Client("127.0.0.1", listener.getsockname()[1], timeout=5)
    with pytest.raises(skeg.ConnectionLost):
        c.ping()
    t.join()
    listener.close()


def test_connect_failure_is_connection_lost():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(skeg.ConnectionLost):
        skeg.Client("127.0.0.1", port, timeout=2)
    assert issubclass(skeg.ConnectionLost, ConnectionError)
