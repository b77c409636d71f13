"""Black-box tests of the native binary protocol v1 (spec/NATIVE_PROTOCOL.md) served by `skeg`.

Every op and flag through the Python client (clients/python), raw malformed frames through
plain sockets, the 16 MiB frame limit, the gate shared with RESP (auth, read-only mode), and
MSET atomicity across a SIGKILL.

The binaries are found in $SKEG_BIN_DIR (default: build/release/bin under the source tree).
"""

import os
import pathlib
import random
import signal
import socket
import struct
import sys
import threading
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "clients" / "python"))

import skeg  # noqa: E402
from skeg import protocol as P  # noqa: E402
from test_binaries import Server as Process, free_port  # noqa: E402

MAX_PAYLOAD = 16 << 20
HEADER = struct.Struct("<HBBIQII")



class Server(Process):
    """One `skeg` process serving native (and RESP when asked) on free ports."""

    def __init__(self, tmp_path, *extra, data_dir=None, resp=False):
        self.data_dir = data_dir or (tmp_path / "data")
        self.port = free_port()
        self.resp_port = free_port() if resp else None
        super().__init__(tmp_path, "skeg", [
            "--data-dir", str(self.data_dir), "--addr", f"127.0.0.1:{self.port}",
            "--resp-addr", f"127.0.0.1:{self.resp_port}" if resp else "off",
            "--metrics-port", "0", *extra])  # fmt: skip
        self.wait_listening(self.port)

    def client(self, **kw):
        return skeg.Client("127.0.0.1", self.port, **kw)


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path)
    yield s
    assert s.alive(), s.log()
    assert s.stop() == 0, s.log()


# ---------------------------------------------------------------- raw-socket helpers


def raw_frame(op, payload=b"", flags=0, req_id=1, magic=P.MAGIC, version=1, payload_len=None):
    n = len(payload) if payload_len is None else payload_len
    return HEADER.pack(magic, version, op, flags, req_id, n, 0) + payload


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def read_frame(sock):
    """(op, req_id, payload) of the next response frame, or None when the server closed."""
    header = recv_exact(sock, 24)
    if header is None:
        return None
    magic, version, op, _flags, req_id, n, _ = HEADER.unpack(header)
    assert (magic, version) == (P.MAGIC, 1)
    payload = recv_exact(sock, n) if n else b""
    return op, req_id, payload


def closed_by_server(sock, timeout=5):
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def key(k):
    return struct.pack("<H", len(k)) + k


# ---------------------------------------------------------------- every op and flag


def test_every_kv_op(server):
    with server.client() as c:
        assert c.ping() is None
        assert c.get("k") is None
        assert c.set("k", "v") is None
        assert c.get("k") == b"v"
        assert c.exists("k") is True and c.exists("nope") is False
        assert c.set("k", "w", nx=True) is False
        assert c.set("new", "1", nx=True) is True
        assert c.set("k", "w", xx=True) is True
        assert c.set("absent", "1", xx=True) is False
        assert c.get("k") == b"w" and c.get("absent") is None
        assert c.delete("k") is True
        assert c.delete("k") is False
        assert c.mset({"a": "1", "b": "2", "c": "3"}) is None
        assert c.mget(["a", "b", "zz", "c"]) == [b"1", b"2", None, b"3"]
        assert c.mexists(["a", "b", "zz"]) == 2
        assert c.mget([]) == [] and c.mexists([]) == 0 and c.mset({}) is None
        stats = c.stats()
        assert stats.n_keys == 4  # new, a, b, c
        assert [(s.shard_id, s.n_keys) for s in c.shards()] == [(0, 4)]
        assert c.flush() is None
        assert c.get("a") == b"1", "FLUSH is a sync barrier: it must not delete data"
        assert c.whoami() == "tenant=" + "0" * 32 + " user=default mode=single-tenant"
        # AUTH without --requirepass: the default user accepts any password (Redis nopass).
        assert c.auth("default", "anything") is None
        with pytest.raises(skeg.Unauthorized):
            c.auth("bob", "pw")
        assert c.ping() is None


def test_vector_ops(server):
    # The full vector surface is covered by test_vectors.py; this checks the ops are wired.
    with server.client() as c:
        assert c.vindex_create("i", 2, "f32", "flat") is None
        assert c.vset("i", 1, [1.0, 0.0]) is None
        assert c.vget("i", 1) == [1.0, 0.0]
        assert c.vsearch("i", 1, [2.0, 0.0]) == [(1, 1.0)]
        assert [(x.name, x.kind, x.n_vectors) for x in c.vindex_list()] == [("i", "f32", 1)]
        assert c.vdel("i", 1) is True
        with pytest.raises(skeg.NotFound):
            c.vget("i", 1)
        with pytest.raises(skeg.InvalidRequest, match="wrong vector dimension"):
            c.vset("i", 2, [1.0])
        assert c.vindex_drop("i") is None
        with pytest.raises(skeg.NotFound, match="unknown index 'i'"):
            c.vindex_drop("i")
        assert c.ping() is None


def test_flags_wait_durable_and_lz4(server):
    with server.client() as c:
        c.set("d", "durable", wait_durable=True)
        c.mset({"d1": "x", "d2": "y"}, wait_durable=True)
        assert c.delete("d1", wait_durable=True) is True
        big = b"abc" * 200_000
        c.set("z", big, compress=True)
        c.set("z2", big, compress=True, wait_durable=True)
        c.mset({"z3": big, "z4": b"q"}, compress=True)
        assert c.get("z") == big and c.get("z2") == big
        assert c.mget(["z3", "z4"]) == [big, b"q"]
        assert c.get("d") == b"durable" and c.get("d1") is None


def test_no_reply_sequences_then_synchronous_get(server):
    with server.client() as c:
        for i in range(500):
            c.set("nr", str(i), no_reply=True)
            c.mset({f"nr{i % 7}": str(i)}, no_reply=True)
        c.delete("nr0", no_reply=True)
        assert c.get("nr") == b"499"
        assert c.get("nr0") is None
        assert c.get("nr6") == b"496"
        with c.pipeline() as p:
            for i in range(100):
                p.set("pk", str(i), no_reply=True)
            p.get("pk")
        assert p.results[-1] == b"99"
        assert c.no_reply_errors == []


def test_empty_binary_and_large_values(server):
    with server.client() as c:
        c.set(b"", b"")
        assert c.get(b"") == b""
        binary_key = bytes(range(256))
        binary_value = bytes(random.Random(1).getrandbits(8) for _ in range(5000))
        c.set(binary_key, binary_value)
        assert c.get(binary_key) == binary_value
        c.set(b"\r\n*1\r\n$4\r\nPING\r\n", b"\x00")
        assert c.get(b"\r\n*1\r\n$4\r\nPING\r\n") == b"\x00"
        c.set("max-key-" + "k" * 65000, "v")
        assert c.get("max-key-" + "k" * 65000) == b"v"
        mib = os.urandom(1 << 20)
        c.set("mib", mib)
        assert c.get("mib") == mib
        assert c.mget(["mib", "nope"]) == [mib, None]


def test_16_mib_limit(server):
    # The largest SET that fits: payload = 6 + 1 + value = exactly 16 MiB.
    value = b"v" * (MAX_PAYLOAD - 7)
    with server.client(timeout=60) as c:
        c.set("x", value)
        assert c.get("x") == value
        # Over the limit: the client refuses to build the frame.
        with pytest.raises(ValueError):
            c.set("x", value + b"vv")
    # A header announcing more than 16 MiB is fatal: the server closes without a reply.
    with socket.create_connection(("127.0.0.1", server.port)) as s:
        s.sendall(raw_frame(0x02, payload_len=MAX_PAYLOAD + 1))
        assert closed_by_server(s)
    # An LZ4 payload declaring more than 16 MiB uncompressed is a per-request error.
    with socket.create_connection(("127.0.0.1", server.port)) as s:
        s.sendall(raw_frame(0x02, struct.pack("<I", MAX_PAYLOAD + 1) + b"\x00", flags=1 << 4))
        op, _, payload = read_frame(s)
        assert op == P.Op.ERR and payload[0] == 0x02
        s.sendall(raw_frame(0x80, req_id=2))
        assert read_frame(s)[:2] == (P.Op.OK, 2)
    with server.client() as c:
        assert c.get("x") == value


# ---------------------------------------------------------------- malformed frames

# (name, bytes, fatal): fatal frames close the connection; the others get Err InvalidRequest
# and the connection keeps serving.
MALFORMED = [
    ("bad magic", raw_frame(0x80, magic=0x1234), True),
    ("bad magic first byte", b"\x00" * 24, True),
    ("bad version", raw_frame(0x80, version=2), True),
    ("unknown op", raw_frame(0x42), True),
    ("unknown flag bit", raw_frame(0x80, flags=1 << 9), True),
    ("payload over 16 MiB", raw_frame(0x01, payload_len=MAX_PAYLOAD + 1), True),
    ("reserved BATCH", raw_frame(0x80, flags=1 << 2), False),
    ("reserved BATCH_END", raw_frame(0x80, flags=1 << 3), False),
    ("reserved CONTINUATION", raw_frame(0x80, flags=1 << 5), False),
    ("response op", raw_frame(0xC0), False),
    ("reserved response op", raw_frame(0xC2), False),
    ("NX and XX", raw_frame(0x02, struct.pack("<HI", 1, 1) + b"kv", flags=3 << 6), False),
    ("truncated GET key", raw_frame(0x01, struct.pack("<H", 10) + b"abc"), False),
    ("empty GET payload", raw_frame(0x01), False),
    ("truncated SET value", raw_frame(0x02, struct.pack("<HI", 1, 100) + b"kv"), False),
    ("trailing bytes", raw_frame(0x01, key(b"k") + b"junk"), False),
    ("MGET count > payload", raw_frame(0x04, struct.pack("<I", 0xFFFFFFFF) + key(b"k")), False),
    ("MSET count > payload", raw_frame(0x05, struct.pack("<I", 1 << 30)), False),
    ("MEXISTS truncated", raw_frame(0x07, struct.pack("<I", 2) + key(b"k")), False),
    ("AUTH truncated", raw_frame(0x84, struct.pack("<H", 5) + b"ab"), False),
    ("PING with payload", raw_frame(0x80, b"x"), False),
    ("bad LZ4 block", raw_frame(0x01, struct.pack("<I", 16) + b"\xff\xff", flags=1 << 4), False),
    ("LZ4 prefix missing", raw_frame(0x01, b"\x01", flags=1 << 4), False),
    ("VSET dim > payload", raw_frame(0x12, key(b"i") + struct.pack("<QI", 1, 1 << 20)), False),
]


@pytest.mark.parametrize("name,frame,fatal", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_frame(server, name, frame, fatal):
    with server.client() as bystander:
        bystander.set("bystander", "ok")
        with socket.create_connection(("127.0.0.1", server.port)) as s:
            s.settimeout(10)
            # A valid request first: it is answered even when the next header is fatal.
            s.sendall(raw_frame(0x80, req_id=1) + frame)
            assert read_frame(s)[:2] == (P.Op.OK, 1)
            if fatal:
                assert closed_by_server(s)
            else:
                op, req_id, payload = read_frame(s)
                assert (op, req_id) == (P.Op.ERR, 1)
                assert payload[0] == 0x02, payload  # InvalidRequest
                assert payload[1] == len(payload) - 2
                s.sendall(raw_frame(0x80, req_id=99))
                assert read_frame(s)[:2] == (P.Op.OK, 99)
        assert bystander.get("bystander") == b"ok"
    assert server.alive()


def test_truncated_frames_then_disconnect_never_crash(server):
    valid = P.encode_frame(P.Op.MSET, 5, P.payload_mset({"a": "1", "b": "2"}))
    for cut in range(1, len(valid)):
        with socket.create_connection(("127.0.0.1", server.port)) as s:
            s.sendall(valid[:cut])
    rng = random.Random(7)
    for _ in range(200):
        with socket.create_connection(("127.0.0.1", server.port)) as s:
            s.sendall(bytes([0x4B, 0x56, 1]) + rng.randbytes(rng.randrange(0, 64)))
    with server.client() as c:
        assert c.ping() is None
        assert c.get("a") is None  # no partial MSET was ever applied
    assert server.alive()


# ---------------------------------------------------------------- shared gate


def test_auth_gate_is_shared_with_resp(tmp_path):
    redis = pytest.importorskip("redis")
    s = Server(tmp_path, "--requirepass", "sesame", resp=True)
    try:
        with s.client() as c:
            with pytest.raises(skeg.Unauthorized):
                c.get("k")
            with pytest.raises(skeg.Unauthorized):
                c.set("k", "v", no_reply=True)  # errors of NO_REPLY writes are still sent
                c.ping()
            with pytest.raises(skeg.Unauthorized):
                c.flush()
            with pytest.raises(skeg.Unauthorized):
                c.auth("default", "wrong")
            c.auth("default", "sesame")
            c.set("k", "from-native")
            assert c.whoami().split()[1] == "user=default"
        r = redis.Redis(port=s.resp_port, password="sesame")
        assert r.get("k") == b"from-native"
        r.set("r", "from-resp")
        with s.client() as c:
            c.auth("default", "sesame")
            assert c.get("r") == b"from-resp"
    finally:
        assert s.stop() == 0, s.log()


def test_serve_mode_refuses_native_writes(tmp_path):
    s = Server(tmp_path)
    with s.client() as c:
        c.set("k", "v")
    assert s.stop() == 0
    s = Server(tmp_path, "--mode", "serve")
    try:
        with s.client() as c:
            assert c.get("k") == b"v"
            for call in (lambda: c.set("k", "w"), lambda: c.mset({"a": "1"}),
                         lambda: c.delete("k")):  # fmt: skip
                with pytest.raises(skeg.ReadOnly):
                    call()
            assert c.get("k") == b"v"
    finally:
        assert s.stop() == 0, s.log()


def test_serve_mode_no_reply_error_is_delivered(tmp_path):
    Server(tmp_path).stop()  # serve mode needs an existing store
    s = Server(tmp_path, "--mode", "serve")
    try:
        with s.client() as c:
            p = c.pipeline()
            p.set("k", "x", no_reply=True)
            p.get("k")
            results = p.execute(raise_on_error=False)
            assert isinstance(results[0], skeg.ReadOnly)
            assert results[1] is None
    finally:
        assert s.stop() == 0, s.log()


def test_max_clients_applies_to_native(tmp_path):
    s = Server(tmp_path, "--max-clients", "2")
    time.sleep(0.5)  # the startup probe's connection unregisters asynchronously
    try:
        with s.client() as a, s.client() as b:
            a.ping()
            b.ping()
            with socket.create_connection(("127.0.0.1", s.port)) as third:
                assert closed_by_server(third)
        with s.client() as c:
            assert c.ping() is None
    finally:
        assert s.stop() == 0, s.log()


def test_many_pipelining_clients_in_order(server):
    errors = []

    def worker(n):
        try:
            with server.client() as c:
                with c.pipeline() as p:
                    for i in range(300):
                        p.set(f"w{n}", str(i))
                        p.get(f"w{n}")
                for i in range(300):
                    assert p.results[2 * i + 1] == str(i).encode()
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_graceful_shutdown_answers_and_closes(tmp_path):
    s = Server(tmp_path)
    c = s.client()
    c.set("k", "v")
    assert s.stop() == 0, s.log()
    with pytest.raises(skeg.ConnectionLost):
        c.ping()
    s = Server(tmp_path)
    try:
        with s.client() as c2:
            assert c2.get("k") == b"v"
    finally:
        assert s.stop() == 0


# ---------------------------------------------------------------- MSET atomicity across a crash

GROUPS = 16
KEYS_PER_MSET = 10


@pytest.mark.parametrize("durability", ["kernel", "relaxed"])
def test_mset_is_all_or_nothing_across_sigkill(tmp_path, durability):
    # relaxed acknowledges once the MSET is written to the file, before its fdatasync: a
    # process crash must still lose nothing acknowledged.
    data_dir = tmp_path / "data"
    s = Server(tmp_path, "--durability", durability, data_dir=data_dir)
    acked = {}  # group -> highest generation acknowledged
    stop = threading.Event()
    failures = []

    def writer(first_group, step):
        gen = 0
        try:
            with s.client() as c:
                while not stop.is_set():
                    # Pipelines of MSETs so that the kill lands mid-stream, between and within
                    # commit groups; values are large enough for torn tails.
                    batch = []
                    with c.pipeline() as p:
                        for _ in range(8):
                            gen += 1
                            group = first_group + step * (gen % (GROUPS // step))
                            value = f"{gen}:".encode() + b"x" * random.randrange(100, 4000)
                            p.mset({f"g{group}:{i}": value for i in range(KEYS_PER_MSET)})
                            batch.append((group, gen))
                    for group, g in batch:
                        acked[group] = max(acked.get(group, 0), g)
        except skeg.SkegError:
            pass  # the server died under us
        except Exception as e:  # noqa: BLE001
            failures.append(e)

    threads = [threading.Thread(target=writer, args=(i, 2)) for i in range(2)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    s.proc.send_signal(signal.SIGKILL)
    s.proc.wait()
    stop.set()
    for t in threads:
        t.join()
    assert failures == []
    assert acked, "no MSET was acknowledged before the kill"

    s2 = Server(tmp_path, "--durability", durability, data_dir=data_dir)
    try:
        with s2.client() as c:
            for group in range(GROUPS):
                values = c.mget([f"g{group}:{i}" for i in range(KEYS_PER_MSET)])
                gens = {None if v is None else int(v.split(b":")[0]) for v in values}
                assert len(gens) == 1, f"group {group} is mixed: {sorted(map(str, gens))}"
                (gen,) = gens
                if group in acked:
                    assert gen is not None and gen >= acked[group], (group, gen, acked[group])
    finally:
        assert s2.stop() == 0, s2.log()
