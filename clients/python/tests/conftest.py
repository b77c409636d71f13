"""Shared fixtures for the skeg Python client tests.

Black-box runs: point SKEG_BIN (environment) or --skeg-bin at a built `skeg` binary, e.g.
    SKEG_BIN=build/release/bin/skeg /usr/bin/python3 -m pytest clients/python/tests
Tests that need the real server are skipped without it, and the ones that need native ops the
server does not serve yet skip themselves after probing it.
"""

from __future__ import annotations

import json
import os
import pathlib
import socket
import subprocess
import sys
import time

import pytest

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the package itself, when not pip-installed
sys.path.insert(0, str(HERE))  # fake_server

from fake_server import FakeServer  # noqa: E402


def pytest_addoption(parser):
    parser.addoption("--skeg-bin", default=None, help="path of the skeg binary (or SKEG_BIN)")


@pytest.fixture(scope="session")
def frames():
    data = json.loads((HERE / "frames.json").read_text())

    def unhex(s):
        return bytes.fromhex("".join(s.split()))

    return {
        "frames": {f["name"]: dict(f, bytes=unhex(f["hex"])) for f in data["frames"]},
        "malformed": {f["name"]: dict(f, bytes=unhex(f["hex"])) for f in data["malformed"]},
    }


@pytest.fixture
def fake_server():
    server = FakeServer()
    yield server
    server.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def skeg_bin(request):
    path = request.config.getoption("--skeg-bin") or os.environ.get("SKEG_BIN")
    if not path:
        pytest.skip("black-box test: set SKEG_BIN or --skeg-bin to a skeg binary")
    if not os.access(path, os.X_OK):
        pytest.skip(f"black-box test: {path} is not an executable")
    return path


@pytest.fixture
def skeg_server(skeg_bin, tmp_path):
    """Starts `skeg` with only its native listener; yields (host, port)."""
    port = _free_port()
    proc = subprocess.Popen(
        [skeg_bin, "--data-dir", str(tmp_path / "data"), "--addr", f"127.0.0.1:{port}",
         "--resp-addr", "off", "--metrics-port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while True:
        if proc.poll() is not None:
            out = proc.stdout.read().decode(errors="replace")
            pytest.fail(f"skeg exited with {proc.returncode}: {out[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                pytest.fail("skeg did not open its native port within 20 s")
            time.sleep(0.05)
    yield ("127.0.0.1", port)
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
