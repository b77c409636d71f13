"""Black-box tests of the `skeg` and `skeg-resp3` binaries: startup, flags, listeners,
the data-directory lock and graceful shutdown.

The binaries are found in $SKEG_BIN_DIR (default: build/release/bin under the source tree).
The RESP command surface is covered by test_resp_commands.py.
"""

import os
import pathlib
import shutil
import signal
import socket
import struct
import subprocess
import time

import pytest
import redis

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN_DIR = pathlib.Path(os.environ.get("SKEG_BIN_DIR", ROOT / "build" / "release" / "bin"))
START_TIMEOUT_S = 15
STOP_TIMEOUT_S = 10


def binary(name):
    path = BIN_DIR / name
    if not path.exists():
        pytest.skip(f"{path} not built (set SKEG_BIN_DIR)")
    return str(path)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env():
    """The test's environment without SKEG_* variables, so the caller's shell cannot leak in."""
    return {k: v for k, v in os.environ.items() if not k.startswith("SKEG_")}


def can_connect(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class Server:
    """One server process; stderr (the log) goes to a file under tmp_path."""

    def __init__(self, tmp_path, name, args, env=None):
        self.log_path = tmp_path / f"{name}-{time.monotonic_ns()}.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([binary(name)] + args, stdout=self._log,
                                     stderr=subprocess.STDOUT, env=env or clean_env())

    def log(self):
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def alive(self):
        return self.proc.poll() is None

    def wait_listening(self, port):
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"server exited with {self.proc.returncode}:\n{self.log()}")
            if can_connect(port):
                return
            time.sleep(0.05)
        pytest.fail(f"server did not listen on {port}:\n{self.log()}")

    def stop(self, sig=signal.SIGTERM):
        """Sends `sig` (if still running) and returns the exit code; closes the log."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"server ignored {sig!r}:\n{self.log()}")
        self._log.close()
        return rc

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


@pytest.fixture
def servers(tmp_path):
    started = []

    def start(name, args, env=None):
        s = Server(tmp_path, name, args, env)
        started.append(s)
        return s

    yield start
    for s in started:
        s.close()


def run(name, args, timeout=10):
    return subprocess.run([binary(name)] + args, capture_output=True, text=True,
                          timeout=timeout, env=clean_env())


def resp3_args(data_dir, port):
    return ["--data-dir", str(data_dir), "--addr", f"127.0.0.1:{port}", "--metrics-port", "0",
            "--workers", "2"]


def native_ping(port, req_id=0x0102030405060708):
    header = struct.pack("<HBBIQII", 0x564B, 1, 0x80, 0, req_id, 0, 0)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(header)
        reply = b""
        while len(reply) < 24:
            chunk = s.recv(24 - len(reply))
            assert chunk, "connection closed before the PING reply"
            reply += chunk
    magic, version, op, flags, rid, plen, _ = struct.unpack("<HBBIQII", reply)
    assert (magic, version, op, flags, rid, plen) == (0x564B, 1, 0xC0, 0, req_id, 0)


def test_resp3_ping_and_sigterm(tmp_path, servers):
    port = free_port()
    s = servers("skeg-resp3", resp3_args(tmp_path / "data", port))
    s.wait_listening(port)

    if shutil.which("redis-cli"):
        out = subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True,
                             text=True, timeout=10)
        assert out.stdout.strip() == "PONG", out
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=5)
    assert client.ping() is True
    with pytest.raises(redis.ResponseError, match="unknown command"):
        client.execute_command("FOO", "bar")

    # An idle open connection must not hold up shutdown.
    idle = socket.create_connection(("127.0.0.1", port))
    begin = time.monotonic()
    assert s.stop(signal.SIGTERM) == 0, s.log()
    assert time.monotonic() - begin < 5
    idle.close()
    log = s.log()
    assert "synced" in log, log
    assert "shutdown complete" in log, log


def test_sigint_is_graceful_and_data_dir_reopens(tmp_path, servers):
    data = tmp_path / "data"
    port = free_port()
    s = servers("skeg-resp3", resp3_args(data, port))
    s.wait_listening(port)
    assert s.stop(signal.SIGINT) == 0, s.log()
    assert "synced" in s.log()

    # The lock was released: the same directory opens again.
    port = free_port()
    s2 = servers("skeg-resp3", resp3_args(data, port))
    s2.wait_listening(port)
    assert redis.Redis(port=port, socket_timeout=5).ping()
    assert s2.stop() == 0, s2.log()


def test_second_process_on_same_data_dir_fails_naming_the_holder(tmp_path, servers):
    data = tmp_path / "data"
    port = free_port()
    first = servers("skeg-resp3", resp3_args(data, port))
    first.wait_listening(port)

    begin = time.monotonic()
    second = run("skeg-resp3", resp3_args(data, free_port()))
    assert time.monotonic() - begin < 5
    assert second.returncode != 0
    assert str(first.proc.pid) in second.stderr, second.stderr
    assert f"127.0.0.1:{port}" in second.stderr, second.stderr  # the holder's address
    assert first.proc.poll() is None  # the first one is unaffected
    assert first.stop() == 0


def test_explicit_addr_on_taken_port_is_a_startup_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = run("skeg-resp3", resp3_args(tmp_path / "data", port))
    assert out.returncode == 1, out
    assert "--addr" in out.stderr and f"127.0.0.1:{port}" in out.stderr, out.stderr
    assert "in use" in out.stderr, out.stderr


def test_skeg_serves_native_and_resp_on_explicit_ports(tmp_path, servers):
    native, resp = free_port(), free_port()
    s = servers("skeg", ["--data-dir", str(tmp_path / "data"), "--addr", f"127.0.0.1:{native}",
                         "--resp-addr", f"127.0.0.1:{resp}", "--metrics-port", "0"])
    s.wait_listening(native)
    s.wait_listening(resp)
    native_ping(native)
    assert redis.Redis(port=resp, socket_timeout=5).ping()
    assert s.stop() == 0, s.log()


def test_skeg_default_resp_port_taken_only_warns(tmp_path, servers):
    # Occupy the default RESP port (or find it already occupied by someone else).
    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", 6379))
        holder.listen()
    except OSError:
        holder.close()
        holder = None
        if not can_connect(6379):
            pytest.skip("127.0.0.1:6379 is neither free nor listening")
    try:
        native = free_port()
        s = servers("skeg", ["--data-dir", str(tmp_path / "data"), "--addr",
                             f"127.0.0.1:{native}", "--metrics-port", "0"])
        s.wait_listening(native)
        native_ping(native)
        log = s.log()
        assert "127.0.0.1:6379" in log and "stays off" in log, log
        assert s.stop() == 0, s.log()
    finally:
        if holder is not None:
            holder.close()


def test_env_var_configures_the_server(tmp_path, servers):
    port = free_port()
    env = clean_env()
    env.update({"SKEG_DATA_DIR": str(tmp_path / "envdata"), "SKEG_ADDR": f"127.0.0.1:{port}",
                "SKEG_METRICS_PORT": "0"})
    s = servers("skeg-resp3", [], env=env)
    s.wait_listening(port)
    assert (tmp_path / "envdata").is_dir()
    assert s.stop() == 0, s.log()


@pytest.mark.parametrize("name", ["skeg", "skeg-resp3"])
def test_help_lists_flags(name):
    out = run(name, ["--help"])
    assert out.returncode == 0, out
    for flag in ["--data-dir", "--addr", "--durability", "--tier", "--cache-bytes", "--workers",
                 "--mode", "--metrics-port", "--metrics-addr", "--requirepass", "--auth-file",
                 "--strict", "--max-clients", "--log-level", "--io", "--max-bulk-bytes",
                 "--config", "--version", "SKEG_DATA_DIR", "SKEG_CACHE_BYTES"]:
        assert flag in out.stdout, flag
    assert ("--resp-addr" if name == "skeg" else "--native-addr") in out.stdout
    version = run(name, ["--version"])
    assert version.returncode == 0 and version.stdout.startswith(name + " "), version


@pytest.mark.parametrize("args,needle", [
    (["--no-such-flag"], "--no-such-flag"),
    (["--durability", "paranoid"], "paranoid"),
    (["--cache-bytes", "12parsecs"], "parsecs"),
    (["--tier", "pq:0"], "pq:0"),
])
def test_bad_command_line_is_rejected(tmp_path, args, needle):
    out = run("skeg-resp3", ["--data-dir", str(tmp_path / "data")] + args)
    assert out.returncode == 2, out
    assert out.stderr.startswith("skeg-resp3: error: "), out.stderr
    assert needle in out.stderr, out.stderr
    assert not (tmp_path / "data").exists()  # nothing was started


def test_resp3_native_listener_when_asked(tmp_path, servers):
    resp, native = free_port(), free_port()
    s = servers("skeg-resp3", resp3_args(tmp_path / "data", resp) +
                ["--native-addr", f"127.0.0.1:{native}"])
    s.wait_listening(resp)
    s.wait_listening(native)
    native_ping(native)
    assert redis.Redis(port=resp, socket_timeout=5).ping()
    assert s.stop() == 0, s.log()


def scrape(port):
    import urllib.request
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return r.read().decode()


def metric(text, name):
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in /metrics")


def test_metrics_endpoint_serves_live_values(tmp_path, servers):
    port, mport = free_port(), free_port()
    s = servers("skeg-resp3", ["--data-dir", str(tmp_path / "d"), "--addr", f"127.0.0.1:{port}",
                               "--metrics-port", str(mport)])
    s.wait_listening(port)
    r = redis.Redis(port=port)
    before = scrape(mport)
    assert metric(before, 'skeg_commands_total{cmd="set"}') == 0
    for i in range(10):
        r.set(f"k{i}", "v")
    # Gauges and counters are read at scrape time: no command refreshes them.
    after = scrape(mport)
    assert metric(after, 'skeg_commands_total{cmd="set"}') == 10
    assert metric(after, 'skeg_command_duration_seconds_count{cmd="set"}') == 10
    assert metric(after, "skeg_vlog_keys") == 10
    assert metric(after, "skeg_vlog_syncs_total") >= 1
    assert metric(after, "skeg_vlog_commit_groups_total") >= 1
    assert metric(after, "skeg_connections") == 1
    assert metric(after, 'skeg_process_resident_memory_bytes{kind="anon"}') > 0
    assert metric(after, 'skeg_process_resident_memory_bytes{kind="file"}') > 0
    assert metric(after, "skeg_net_input_bytes_total") > 0
    # Reads go through the byte-bounded page cache (default --cache-bytes 32 MiB).
    for i in range(10):
        assert r.get(f"k{i}") == b"v"
    cached = scrape(mport)
    assert metric(cached, "skeg_cache_capacity_bytes") == 32 * 1024 * 1024
    assert metric(cached, "skeg_cache_hits_total") >= 1
    assert 0 < metric(cached, "skeg_cache_bytes") <= 32 * 1024 * 1024
    r.close()
    assert s.stop() == 0


def test_explicit_metrics_port_taken_is_a_startup_error(tmp_path):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        mport = held.getsockname()[1]
        res = run("skeg-resp3", ["--data-dir", str(tmp_path / "d"), "--addr",
                                 f"127.0.0.1:{free_port()}", "--metrics-port", str(mport)])
    assert res.returncode != 0
    assert "--metrics-port" in res.stderr + res.stdout


def test_simd_level_is_logged_exported_and_can_be_lowered(tmp_path, servers):
    port, mport = free_port(), free_port()
    env = clean_env()
    env["SKEG_SIMD"] = "scalar"
    s = servers("skeg-resp3", ["--data-dir", str(tmp_path / "d"), "--addr", f"127.0.0.1:{port}",
                               "--metrics-port", str(mport)], env=env)
    s.wait_listening(port)
    assert "distance kernels: scalar" in s.log()
    assert metric(scrape(mport), 'skeg_simd_level_info{level="scalar"}') == 1
    assert s.stop() == 0


def test_unknown_simd_level_is_a_startup_error(tmp_path):
    env = clean_env()
    env["SKEG_SIMD"] = "sse9"
    res = subprocess.run([binary("skeg-resp3"), "--data-dir", str(tmp_path / "d"), "--addr",
                          f"127.0.0.1:{free_port()}", "--metrics-port", "0"],
                         capture_output=True, text=True, timeout=10, env=env)
    assert res.returncode != 0
    assert "SKEG_SIMD" in res.stderr + res.stdout
