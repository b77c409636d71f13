"""Black-box tests of the offline index builder `skeg build` (docs/vectors.md "Building an index
offline") and of serving its output with `skeg --mode serve`.

Generates small .fvecs / .npy inputs, checks the command line (help, usage errors -> exit 2),
input and ids-file errors (exit 1, nothing created), then builds indexes, serves the data
directory read-only and checks that SKEG.VSEARCH finds the right ids and writes are refused
with READONLY.

While Collection::BulkLoad is not implemented yet (it fails with "... not built yet"), the
end-to-end tests skip after checking the failure was clean.

The binaries are found in $SKEG_BIN_DIR (default: build/release/bin under the source tree).
"""

import re

import numpy as np
import pytest
import redis

from test_binaries import Server, free_port, run

NOT_BUILT = "not built yet"


def write_fvecs(path, rows):
    rows = np.ascontiguousarray(rows, dtype="<f4")
    out = np.empty((rows.shape[0], rows.shape[1] + 1), dtype="<f4")
    out[:, 0] = np.array([rows.shape[1]], dtype="<i4").view("<f4")[0]
    out[:, 1:] = rows
    out.tofile(path)


def write_bvecs(path, rows):
    rows = np.ascontiguousarray(rows, dtype="u1")
    with open(path, "wb") as f:
        for row in rows:
            f.write(np.array([rows.shape[1]], dtype="<i4").tobytes())
            f.write(row.tobytes())


def build(args, timeout=300):
    return run("skeg", ["build"] + [str(a) for a in args], timeout=timeout)


def build_or_skip(args, timeout=300):
    out = build(args, timeout)
    if out.returncode == 1 and NOT_BUILT in out.stderr:
        pytest.skip(f"Collection::BulkLoad is not implemented yet: {out.stderr.strip()}")
    assert out.returncode == 0, out.stderr
    return out


@pytest.fixture
def base(tmp_path):
    rng = np.random.default_rng(7)
    rows = rng.standard_normal((2000, 16)).astype("<f4")
    path = tmp_path / "base.fvecs"
    write_fvecs(path, rows)
    return path, rows


# ---- command line -----------------------------------------------------------------------------


def test_help_documents_every_flag():
    out = build(["--help"])
    assert out.returncode == 0, out.stderr
    for flag in ["--input", "--output", "--name", "--kind", "--tier", "--metric", "--R", "--L",
                 "--alpha", "--build-memory-bytes", "--threads", "--ids", "--durability",
                 "--progress", ".fvecs", ".bvecs", ".npy", "--mode serve"]:  # fmt: skip
        assert flag in out.stdout, (flag, out.stdout)


@pytest.mark.parametrize("args, message", [
    ([], "--input is required"),
    (["--input", "x.fvecs", "--output", "d"], "--name is required"),
    (["--input", "x.fvecs", "--output", "d", "--name", "n", "--bogus"], "--bogus"),
    (["--input", "x.fvecs", "--output", "d", "--name", "n", "--kind", "fp16"], "unknown kind"),
    (["--input", "x.fvecs", "--output", "d", "--name", "n", "--metric", "hamming"],
     "unknown metric"),
    (["--input", "x.fvecs", "--output", "d", "--name", "n", "--R", "0"], "--R"),
    (["--input", "x.fvecs", "--output", "d", "--name", "n", "--build-memory-bytes", "2XB"],
     "not a byte size"),
    (["--input", "x.fvecs", "--output", "d", "--name", "../n"], "bad index name"),
])  # fmt: skip
def test_usage_errors_exit_2(tmp_path, args, message):
    out = build(args)
    assert out.returncode == 2, out
    assert "skeg build: error:" in out.stderr, out.stderr
    assert message in out.stderr, out.stderr
    assert "skeg build --help" in out.stderr


# ---- bad inputs: exit 1, the data directory is not created ------------------------------------


def expect_failure(tmp_path, input_path, message, extra=()):
    data = tmp_path / "data"
    out = build(["--input", input_path, "--output", data, "--name", "v", *extra])
    assert out.returncode == 1, out
    assert "skeg build: error:" in out.stderr, out.stderr
    assert message in out.stderr, out.stderr
    assert not data.exists(), "a bad input must not create the data directory"
    return out


def test_missing_input(tmp_path):
    expect_failure(tmp_path, tmp_path / "absent.fvecs", "absent.fvecs")


def test_bad_extension(tmp_path):
    (tmp_path / "rows.csv").write_text("1,2,3\n")
    expect_failure(tmp_path, tmp_path / "rows.csv", "expected a .npy, .fvecs or .bvecs file")


def test_truncated_and_corrupt_inputs(tmp_path, base):
    path, _ = base
    raw = path.read_bytes()
    (tmp_path / "cut.fvecs").write_bytes(raw[:-7])
    expect_failure(tmp_path, tmp_path / "cut.fvecs", "truncated .fvecs file")

    bad = bytearray(raw)
    bad[5 * 68:5 * 68 + 4] = np.array([15], dtype="<i4").tobytes()  # row 5 claims dim 15
    (tmp_path / "dim.fvecs").write_bytes(bytes(bad))
    out = build(["--input", tmp_path / "dim.fvecs", "--output", tmp_path / "d2", "--name", "v"])
    assert out.returncode == 1, out
    if NOT_BUILT not in out.stderr:  # the rows are only read by the builder
        assert "row 5 has dimension 15, expected 16" in out.stderr, out.stderr

    np.save(tmp_path / "fortran.npy", np.asfortranarray(np.ones((4, 3), dtype="<f4")))
    expect_failure(tmp_path, tmp_path / "fortran.npy", "Fortran-order")
    np.save(tmp_path / "be.npy", np.ones((4, 3), dtype=">f4"))
    expect_failure(tmp_path, tmp_path / "be.npy", "big-endian")
    np.save(tmp_path / "flat.npy", np.ones(12, dtype="<f4"))
    expect_failure(tmp_path, tmp_path / "flat.npy", "expected a 2-D array")


def test_dimension_rejected_by_the_index_kind(tmp_path):
    path = tmp_path / "wide.fvecs"
    write_fvecs(path, np.ones((3, 5000), dtype="<f4"))
    expect_failure(tmp_path, path, "bad dim 5000")


@pytest.mark.parametrize("ids, message", [
    ("0\n1\n2\n", "has 3 ids but the input has 2000 rows"),
    ("".join(f"{i}\n" for i in range(1999)) + "x7\n", "line 2000: 'x7' is not"),
    ("".join(f"{i}\n" for i in range(1999)) + "5\n", "id 5 appears more than once"),
    ("".join(f"{i}\n" for i in range(2001)), "more ids than the input has rows"),
])  # fmt: skip
def test_bad_ids_file(tmp_path, base, ids, message):
    path, _ = base
    (tmp_path / "ids.txt").write_text(ids)
    expect_failure(tmp_path, path, message, extra=["--ids", tmp_path / "ids.txt"])


def test_failed_load_leaves_no_index_behind(tmp_path, base):
    """A build that fails inside the load drops its half-created index: a retry with the same
    name does not see 'already exists'."""
    path, rows = base
    bad = rows.copy()
    bad[17, 3] = np.nan
    write_fvecs(tmp_path / "nan.fvecs", bad)
    data = tmp_path / "data"
    out = build(["--input", tmp_path / "nan.fvecs", "--output", data, "--name", "v"])
    assert out.returncode == 1, out
    assert "skeg build: error:" in out.stderr
    assert (data / "MANIFEST").exists(), "the data directory was created"
    again = build(["--input", path, "--output", data, "--name", "v", "--metric", "l2"])
    assert "already exists" not in again.stderr, again.stderr
    assert again.returncode == 0 or NOT_BUILT in again.stderr, again.stderr


def test_data_dir_held_by_a_server(tmp_path, base):
    path, _ = base
    data = tmp_path / "data"
    port = free_port()
    server = Server(tmp_path, "skeg", ["--data-dir", str(data), "--addr", f"127.0.0.1:{port}",
                                       "--resp-addr", "off", "--metrics-port", "0"])  # fmt: skip
    try:
        server.wait_listening(port)
        out = build(["--input", path, "--output", data, "--name", "v"])
        assert out.returncode == 1, out
        assert "skeg build: error:" in out.stderr and str(server.proc.pid) in out.stderr, out.stderr
    finally:
        assert server.stop() == 0, server.log()


# ---- end to end: build, then serve ------------------------------------------------------------


class ServeProcess(Server):
    def __init__(self, tmp_path, data_dir):
        self.port = free_port()
        self.resp_port = free_port()
        super().__init__(tmp_path, "skeg", [
            "--mode", "serve", "--data-dir", str(data_dir), "--addr", f"127.0.0.1:{self.port}",
            "--resp-addr", f"127.0.0.1:{self.resp_port}", "--metrics-port", "0"])  # fmt: skip
        self.wait_listening(self.resp_port)

    def redis(self):
        return redis.Redis(host="127.0.0.1", port=self.resp_port, socket_timeout=30)


def search(client, name, q, k):
    reply = client.execute_command("SKEG.VSEARCH", name, k, 0, q.astype("<f4").tobytes())
    return [int(reply[i]) for i in range(0, len(reply), 2)]


def exact_top(rows, q, k, metric):
    if metric == "l2":
        scores = ((rows - q) ** 2).sum(axis=1)
    else:
        n = rows / np.linalg.norm(rows, axis=1, keepdims=True)
        scores = -(n @ (q / np.linalg.norm(q)))
    return list(np.argsort(scores, kind="stable")[:k])


def test_build_then_serve(tmp_path, base):
    path, rows = base
    data = tmp_path / "data"
    out = build_or_skip(["--input", path, "--output", data, "--name", "sift", "--metric", "l2",
                         "--R", 32, "--L", 64, "--progress", "lines"])  # fmt: skip
    assert "input " in out.stderr and "2000 rows x 16 dims" in out.stderr, out.stderr
    assert "100%" in out.stderr, out.stderr  # a progress line per phase end
    summary = [line for line in out.stderr.splitlines() if "built index 'sift'" in line]
    assert summary, out.stderr
    assert "n=2000 dim=16" in summary[0] and "peak RSS" in summary[0], summary
    index_bytes = int(re.search(r"\((\d+) bytes\)", summary[0]).group(1))
    assert index_bytes > 2000 * 16 * 4, summary  # at least the full-precision vectors

    # The same name again: exit 1, the first index is untouched.
    again = build(["--input", path, "--output", data, "--name", "sift"])
    assert again.returncode == 1, again
    assert "index 'sift' already exists" in again.stderr, again.stderr

    # A second index in the same directory: from .npy, cosine, with explicit ids.
    rng = np.random.default_rng(8)
    other = rng.standard_normal((500, 24)).astype("<f4")
    np.save(tmp_path / "other.npy", other)
    ids = [10_000_000_000 + 7 * i for i in range(500)]
    (tmp_path / "ids.txt").write_text("".join(f"{i}\n" for i in ids))
    build_or_skip(["--input", tmp_path / "other.npy", "--output", data, "--name", "other",
                   "--ids", tmp_path / "ids.txt", "--kind", "f32", "--tier", "tq4",
                   "--progress", "off"])  # fmt: skip

    server = ServeProcess(tmp_path, data)
    try:
        r = server.redis()
        listing = r.execute_command("SKEG.VINDEX.LIST").decode()
        assert "name=sift dim=16 kind=tq2 backend=disk metric=l2 n_vectors=2000" in listing, listing
        assert "name=other dim=24 kind=f32 backend=disk metric=cosine n_vectors=500" in listing, \
            listing

        hits1 = hits10 = 0
        queries = rng.integers(0, len(rows), 40)
        for qi in queries:
            q = rows[qi] + rng.normal(0, 0.05, 16).astype("<f4")
            got = search(r, "sift", q, 10)
            want = exact_top(rows, q, 10, "l2")
            hits1 += got[0] == want[0]
            hits10 += len(set(got) & set(want))
        assert hits1 >= 0.95 * len(queries), hits1
        assert hits10 >= 0.9 * 10 * len(queries), hits10

        for qi in rng.integers(0, len(other), 20):
            got = search(r, "other", other[qi], 5)
            assert got[0] == ids[qi], (qi, got)
            assert all(g in set(ids) for g in got)

        # redis-py turns "-READONLY ..." into ReadOnlyError (and strips the prefix).
        with pytest.raises(redis.exceptions.ReadOnlyError, match="--mode serve"):
            r.execute_command("SKEG.VSET", "sift", 1, np.zeros(16, dtype="<f4").tobytes())
        with pytest.raises(redis.exceptions.ReadOnlyError):
            r.execute_command("SKEG.VINDEX.DROP", "sift")
        assert search(r, "sift", rows[5], 1) == [5]  # still served after the refused writes
    finally:
        assert server.stop() == 0, server.log()


def test_bvecs_build(tmp_path):
    rng = np.random.default_rng(9)
    rows = rng.integers(0, 256, (3000, 32)).astype("u1")
    write_bvecs(tmp_path / "b.bvecs", rows)
    out = build_or_skip(["--input", tmp_path / "b.bvecs", "--output", tmp_path / "data",
                         "--name", "b", "--metric", "l2", "--progress", "bar"])  # fmt: skip
    assert "3000 rows x 32 dims (u8)" in out.stderr, out.stderr
    # (text mode turns the bar's carriage returns into newlines; the erase-line code stays)
    assert "\x1b[K" in out.stderr and "] 100% 3000/3000" in out.stderr, out.stderr
