"""Black-box tests of the RESP command surface of `skeg-resp3`, through redis-py (RESP2),
a small raw-socket RESP3 client (redis-py 4.3 has no protocol=3), redis-cli and
redis-benchmark.
"""

import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest
import redis

from test_binaries import Server, binary, free_port, servers  # noqa: F401 (fixture)


def fast_dir(tmp_path):
    """A data directory on tmpfs when there is one: fsync there is nearly free, which keeps the
    write-heavy tests fast."""
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        d = tempfile.mkdtemp(prefix="skeg-it-", dir="/dev/shm")
        return d
    return str(tmp_path / "data")


def start(servers, data_dir, extra=(), workers="4"):  # noqa: F811
    port = free_port()
    s = servers("skeg-resp3", ["--data-dir", str(data_dir), "--addr", f"127.0.0.1:{port}",
                               "--metrics-port", "0", "--workers", workers, "--io", "buffered",
                               *extra])
    s.wait_listening(port)
    return s, port


# Every test runs against a server with 4 I/O threads (connections on strands) and with one (no
# strands: the single thread serializes each connection's handlers).
@pytest.fixture(params=["4", "1"], ids=["workers4", "workers1"])
def server(request, tmp_path, servers):  # noqa: F811
    data = fast_dir(tmp_path)
    s, port = start(servers, data, workers=request.param)
    yield s, port, data
    if s.proc.poll() is None:
        s.stop()
    if data.startswith("/dev/shm/"):
        shutil.rmtree(data, ignore_errors=True)


class Resp3:
    """Minimal RESP client that decodes every RESP3 type into tagged Python values."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def close(self):
        self.sock.close()

    def send(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)

    def call(self, *args):
        self.send(*args)
        return self.read()

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return ("simple", rest.decode())
        if t == b"-":
            return ("error", rest.decode())
        if t == b":":
            return int(rest)
        if t == b"_":
            return None
        if t == b",":
            return ("double", rest.decode())
        if t == b"#":
            return rest == b"t"
        if t in (b"$", b"="):
            n = int(rest)
            if n < 0:
                return ("null2",)
            data = self._exact(n)
            return ("verbatim", data[4:].decode()) if t == b"=" else data
        if t in (b"*", b"~", b">"):
            n = int(rest)
            if n < 0:
                return ("null2",)
            items = [self.read() for _ in range(n)]
            return items if t == b"*" else (("set", items) if t == b"~" else ("push", items))
        if t == b"%":
            return ("map", [(self.read(), self.read()) for _ in range(int(rest))])
        raise AssertionError(f"bad RESP type {line!r}")


def test_every_string_and_key_command_resp2(server):
    _, port, _ = server
    r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=10)
    assert r.ping() is True
    assert r.echo("hi") == b"hi"
    assert r.set("k", "v") is True
    assert r.get("k") == b"v"
    assert r.set("k", "w", nx=True) is None
    assert r.set("k", "w", xx=True, get=True) == b"v"
    assert r.set("e", "1", ex=100) is True and r.ttl("e") == 100
    assert 0 < r.pttl("e") <= 100000
    assert r.set("e", "2", keepttl=True) and r.ttl("e") == 100
    assert r.setnx("n", "1") is True and r.setnx("n", "2") is False
    assert r.setex("se", 50, "x") and r.ttl("se") == 50
    assert r.psetex("pe", 5000, "x") and 0 < r.pttl("pe") <= 5000
    assert r.getset("k", "z") == b"w"
    assert r.getdel("k") == b"z" and r.get("k") is None
    r.set("g", "v")
    assert r.getex("g", ex=30) == b"v" and r.ttl("g") == 30
    assert r.getex("g", persist=True) == b"v" and r.ttl("g") == -1
    assert r.mset({"a": "1", "b": "2"}) is True
    assert r.mget("a", "missing", "b") == [b"1", None, b"2"]
    assert r.msetnx({"a": "x", "c": "3"}) is False and r.get("c") is None
    assert r.append("s", "Hello") == 5 and r.append("s", " World") == 11
    assert r.strlen("s") == 11
    assert r.getrange("s", -5, -1) == b"World"
    assert r.setrange("s", 6, "Redis") == 11 and r.get("s") == b"Hello Redis"
    assert r.incr("i") == 1 and r.incrby("i", 9) == 10
    assert r.decr("i") == 9 and r.decrby("i", 10) == -1
    assert r.incrbyfloat("f", 10.5) == 10.5
    assert r.execute_command("INCRBYFLOAT", "f", "0.1") == 10.6  # redis-py parses the float
    assert r.exists("a", "a", "zz") == 2
    assert r.delete("a", "zz") == 1 and r.unlink("b") == 1
    r.set("x", "1")
    assert r.expire("x", 100) is True and r.ttl("x") == 100
    assert r.execute_command("EXPIRE", "x", "50", "GT") == 0
    assert r.pexpire("x", 100000) is True
    assert r.expireat("x", int(time.time()) + 200) is True
    assert r.pexpireat("x", int(time.time() * 1000) + 300000) is True
    assert abs(r.execute_command("EXPIRETIME", "x") - (time.time() + 300)) <= 2
    assert r.execute_command("PEXPIRETIME", "x") > 0
    assert r.persist("x") is True and r.ttl("x") == -1
    assert r.type("x") == b"string" and r.type("nope") == b"none"
    assert sorted(r.keys("s*")) == [b"s", b"se"]
    assert r.rename("x", "y") is True
    with pytest.raises(redis.ResponseError, match="^no such key$"):
        r.rename("nope", "y2")
    assert r.renamenx("y", "s") is False
    assert r.copy("y", "y3") is True and r.get("y3") == b"1"
    assert r.dbsize() == len(r.keys("*"))
    assert len(r.time()) == 2
    assert r.flushdb() is True and r.dbsize() == 0
    r.set("q", "1")
    assert r.flushall() is True and r.dbsize() == 0


def test_errors_have_redis_text(server):
    _, port, _ = server
    r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=10)
    cases = [
        (("GET",), "wrong number of arguments for 'get' command"),
        (("FOO", "a", "b"), "unknown command 'FOO', with args beginning with: 'a' 'b' "),
        (("HSET", "h", "f", "v"), "unknown command 'HSET', with args beginning with: 'h' 'f' 'v' "),
        (("SET", "k", "v", "EX", "0"), "invalid expire time in 'set' command"),
        (("SET", "k", "v", "NX", "XX"), "syntax error"),
        (("INCRBY", "k", "x"), "value is not an integer or out of range"),
        (("INCRBYFLOAT", "k", "x"), "value is not a valid float"),
        (("SELECT", "1"), "DB index is out of range"),
        (("CLIENT", "FOO"), "unknown subcommand 'FOO'. Try CLIENT HELP."),
    ]
    for args, text in cases:
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command(*args)
        assert str(e.value) == text, args
    r.set("big", "9223372036854775807")
    with pytest.raises(redis.ResponseError, match="^increment or decrement would overflow$"):
        r.incr("big")


def test_connection_and_server_commands(server):
    _, port, _ = server
    r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=10)
    assert r.client_setname("tester") is True
    assert r.client_getname() in ("tester", b"tester")
    cid = r.client_id()
    assert isinstance(cid, int)
    assert any(c["name"] == "tester" for c in r.client_list())
    assert r.client_info()["name"] == "tester"
    assert r.select(0) is True
    info = r.info()
    for field in ("redis_version", "connected_clients", "used_memory", "used_memory_rss",
                  "maxmemory", "total_commands_processed"):
        assert field in info, field
    r.set("k", "v")
    assert r.info("keyspace")["db0"]["keys"] == 1
    assert r.config_get("maxmemory") == {"maxmemory": "0"}
    assert set(r.config_get("*")) >= {"save", "appendonly", "maxmemory", "databases"}
    assert r.command_count() > 50
    other = Resp3(port)
    victim = other.call("CLIENT", "ID")
    assert r.execute_command("CLIENT", "KILL", "ID", str(victim)) == 1
    with pytest.raises((ConnectionError, OSError)):
        other.call("PING")
    other.close()


def test_resp3_types_over_raw_socket(server):
    _, port, _ = server
    c = Resp3(port)
    hello = c.call("HELLO", "3")
    assert hello[0] == "map"
    h = dict(hello[1])
    assert h[b"server"] == b"skeg" and h[b"proto"] == 3 and h[b"mode"] == b"standalone"
    assert h[b"role"] == b"master" and h[b"modules"] == []
    assert c.call("GET", "missing") is None
    assert c.call("SET", "k", "v") == ("simple", "OK")
    assert c.call("CONFIG", "GET", "maxmemory") == ("map", [(b"maxmemory", b"0")])
    info = c.call("INFO", "server")
    assert info[0] == "verbatim" and "# Server" in info[1]
    cmd = c.call("COMMAND", "INFO", "get")
    assert cmd[0][0] == b"get" and cmd[0][2] == ("set", [("simple", "readonly"),
                                                         ("simple", "fast")])
    assert c.call("HELLO", "4") == ("error", "NOPROTO unsupported protocol version")
    assert c.call("HELLO", "2")[0] == b"server"  # RESP2: flat array
    assert c.call("GET", "missing") == ("null2",)
    assert c.call("PING") == ("simple", "PONG")
    c.close()


def test_redis_cli_both_protocols(server):
    _, port, _ = server
    if not shutil.which("redis-cli"):
        pytest.skip("redis-cli not installed")
    cli = ["redis-cli", "-p", str(port)]
    assert subprocess.run(cli + ["set", "c", "42"], capture_output=True, text=True,
                          timeout=10).stdout.strip() == "OK"
    for proto in ("-2", "-3"):
        out = subprocess.run(cli + [proto, "get", "c"], capture_output=True, text=True,
                             timeout=10)
        assert out.stdout.strip() == "42", out
    out = subprocess.run(cli + ["-3", "hello", "3"], capture_output=True, text=True, timeout=10)
    assert "skeg" in out.stdout, out


def test_pipeline_of_1000_keeps_order(server):
    _, port, _ = server
    r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=30)
    p = r.pipeline(transaction=False)
    for i in range(1000):
        p.set("p", str(i))
        if i % 100 == 0:
            p.get("p")
    res = p.execute()
    gets = [x for x in res if x is not True]
    assert gets == [str(i).encode() for i in range(0, 1000, 100)]
    assert r.get("p") == b"999"


def test_replies_larger_than_the_socket_buffer_to_a_slow_reader(server):
    """Replies that do not fit the sockets' buffers: a 4 MiB value, and 48 pipelined GETs of a
    256 KiB value (12 MiB of replies, past the session's 64 KiB yield point many times), sent to
    a client that only starts reading after a pause, so the server's sends come back partial or
    would-block and finish asynchronously. Every byte arrives, in order."""
    _, port, _ = server
    r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=30)
    big = os.urandom(4 << 20)
    mid = bytes(range(256)) * 1024
    assert r.set("big", big) and r.set("mid", mid)
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    req = b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n" + b"*2\r\n$3\r\nGET\r\n$3\r\nmid\r\n" * 48
    s.sendall(req + b"*1\r\n$4\r\nPING\r\n")
    time.sleep(1.0)  # the server has filled the socket and waits for it to drain
    want = (b"$%d\r\n" % len(big)) + big + b"\r\n"
    want += ((b"$%d\r\n" % len(mid)) + mid + b"\r\n") * 48 + b"+PONG\r\n"
    got = bytearray()
    while len(got) < len(want):
        chunk = s.recv(1 << 20)
        assert chunk, "connection closed after %d of %d bytes" % (len(got), len(want))
        got += chunk
    assert bytes(got) == want
    assert r.ping()  # and the server still serves others
    s.close()


def test_incr_from_8_clients_is_exact(server):
    _, port, _ = server
    errors = []

    def worker():
        try:
            r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=60)
            for _ in range(100):
                p = r.pipeline(transaction=False)
                for _ in range(100):
                    p.incr("counter")
                p.execute()
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=10)
    assert r.get("counter") == b"80000"


def test_ttl_precision_and_expiry_across_restart(tmp_path, servers):  # noqa: F811
    data = tmp_path / "data"
    s, port = start(servers, data)
    r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=10)
    r.set("short", "x", px=300)
    r.set("long", "y", ex=1000)
    r.set("forever", "z")
    assert 200 < r.pttl("short") <= 300
    time.sleep(0.4)
    assert r.get("short") is None and r.pttl("short") == -2
    assert s.stop(signal.SIGTERM) == 0
    s.close()
    s2, port2 = start(servers, data)
    r2 = redis.Redis(host="127.0.0.1", port=port2, socket_timeout=10)
    assert r2.get("long") == b"y" and 990 <= r2.ttl("long") <= 1000
    assert r2.get("forever") == b"z" and r2.ttl("forever") == -1
    assert r2.get("short") is None
    s2.stop()


@pytest.mark.parametrize("workers", ["4", "1"])
def test_relaxed_replies_once_written_and_a_sigkill_loses_none(tmp_path, servers, workers):  # noqa: F811
    # --durability relaxed replies once a write is in the file: the server writes the value
    # log's tail once per event-loop pass (Store::FlushWrites) and the fdatasync follows in the
    # background. Pipelined writes of several clients get their replies, and a SIGKILL right
    # after them loses none.
    data = tmp_path / "data"
    s, port = start(servers, data, extra=["--durability", "relaxed"], workers=workers)
    clients = [redis.Redis(host="127.0.0.1", port=port, socket_timeout=10) for _ in range(4)]
    for i, c in enumerate(clients):
        with c.pipeline(transaction=False) as p:
            for j in range(500):
                p.set(f"r{i}:{j}", f"v{i}.{j}")
                p.incr(f"n{i}")
            p.mset({f"m{i}:{j}": f"w{j}" for j in range(10)})
            replies = p.execute()
        assert replies[-2] == 500 and replies[-1] is True and all(replies[0:-1:2])
    s.proc.send_signal(signal.SIGKILL)
    s.proc.wait()
    s.close()
    s2, port2 = start(servers, data, extra=["--durability", "relaxed"])
    r = redis.Redis(host="127.0.0.1", port=port2, socket_timeout=10)
    for i in range(4):
        assert r.get(f"n{i}") == b"500"
        assert r.mget([f"r{i}:{j}" for j in range(500)]) == [f"v{i}.{j}".encode() for j in range(500)]
        assert r.mget([f"m{i}:{j}" for j in range(10)]) == [f"w{j}".encode() for j in range(10)]
    s2.stop()


def test_scan_returns_every_stable_key(server):
    _, port, _ = server
    r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=30)
    stable = {f"stable:{i}" for i in range(500)}
    r.mset({k: "v" for k in stable})
    seen = set()
    cursor = 0
    step = 0
    while True:
        cursor, keys = r.scan(cursor=cursor, count=37)
        seen.update(k.decode() for k in keys)
        # Churn during the scan: other keys come and go.
        r.set(f"churn:{step}", "x")
        r.delete(f"churn:{step - 3}")
        step += 1
        if cursor == 0:
            break
    assert stable <= seen
    matched = set()
    cursor = 0
    while True:
        cursor, keys = r.scan(cursor=cursor, match="stable:1*", count=50)
        matched.update(k.decode() for k in keys)
        if cursor == 0:
            break
    assert matched == {k for k in stable if k.startswith("stable:1")}


MALFORMED = [
    b"*1\r\n$-5\r\n",                  # negative bulk length
    b"*1\r\n$999999999999\r\n",        # huge bulk length
    b"*99999999999\r\n",               # huge multibulk count
    b"*1\r\n$3\r\nabcdef\r\n",         # payload longer than declared
    b"*2\r\n*1\r\n$1\r\na\r\n",        # nested aggregate (clients never send these)
    b"*" + b"*" * 200 + b"1\r\n",      # nesting bomb / garbage count
    b"$5\r\nhello\r\n",               # bulk outside a multibulk is inline text, then junk
    b"*1\r\nfoo\r\n",                  # element not a bulk
    b'"unbalanced quote\r\n',           # inline with bad quoting
    b"x" * 70000,                       # inline line too long, never terminated
]


def _probe(port, payload, wait_s=0.2):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(payload)
        s.settimeout(wait_s)
        data = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except (socket.timeout, ConnectionResetError):
            pass
        return data


def test_malformed_input_never_kills_the_server(server):
    _, port, _ = server
    healthy = redis.Redis(host="127.0.0.1", port=port, socket_timeout=10)
    for payload in MALFORMED:
        reply = _probe(port, payload)
        assert reply == b"" or reply.startswith((b"-ERR", b"+", b"$", b":", b"*")), (payload,
                                                                                 reply)
        assert healthy.ping() is True
    rng = random.Random(1234)
    for _ in range(30):
        blob = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400)))
        _probe(port, blob)
        assert healthy.ping() is True
    # A valid command split at every byte boundary still parses as one request.
    req = b"*3\r\n$3\r\nSET\r\n$5\r\nsplit\r\n$5\r\nvalue\r\n"
    for cut in range(1, len(req)):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(req[:cut])
            time.sleep(0.001)
            s.sendall(req[cut:])
            assert s.recv(100) == b"+OK\r\n"
    assert healthy.get("split") == b"value"


def test_protocol_error_reply_then_close(server):
    _, port, _ = server
    reply = _probe(port, b"*1\r\n$x\r\n", wait_s=2.0)
    assert reply == b"-ERR Protocol error: invalid bulk length\r\n"


def test_max_clients(tmp_path, servers):  # noqa: F811
    s, port = start(servers, tmp_path / "data", ["--max-clients", "2"])
    time.sleep(0.3)  # let the readiness probe's connection be reaped
    a = Resp3(port)
    b = Resp3(port)
    assert a.call("PING") == ("simple", "PONG") and b.call("PING") == ("simple", "PONG")
    reply = _probe(port, b"", wait_s=1.0)  # send nothing: the refusal comes unasked
    assert reply.startswith(b"-ERR max number of clients reached"), reply
    a.close()
    b.close()
    s.stop()


def test_requirepass(tmp_path, servers):  # noqa: F811
    s, port = start(servers, tmp_path / "data", ["--requirepass", "pw"])
    r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=10)
    with pytest.raises(redis.AuthenticationError):
        r.get("k")
    ok = redis.Redis(host="127.0.0.1", port=port, password="pw", socket_timeout=10)
    assert ok.set("k", "v") is True
    s.stop()


def test_redis_benchmark_runs_clean(server):
    _, port, _ = server
    if not shutil.which("redis-benchmark"):
        pytest.skip("redis-benchmark not installed")
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-q", "-n", "2000", "-t",
                          "set,get,incr,mset", "-c", "10"], capture_output=True, text=True,
                         timeout=120)
    text = (out.stdout + out.stderr).replace("\r", "\n")
    assert out.returncode == 0, text
    lower = text.lower()
    assert "error" not in lower and "warning" not in lower, text
    for name in ("SET", "GET", "INCR", "MSET"):
        assert f"{name}" in text
