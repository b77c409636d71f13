"""Smoke test of bench/skeg_bench/skeg_bench.py against a real skeg binary.

    SKEG_BIN=build/release/bin/skeg /usr/bin/python3 -m pytest bench/skeg_bench/test_skeg_bench.py

Spawns skeg (SKEG_BIN, default build/release/bin/skeg; skipped when absent) on a 2 000 x 32
clustered-Gaussian set made by bench/gen_synth.py, runs one query burst per configuration and checks
the JSON document, the JSONL record, the co-residence schedule mode and `report` (PNG + table).
Needs /usr/bin/python3 with python3-numpy, python3-redis, python3-matplotlib. About 10-20 s.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TOOL = HERE / "skeg_bench.py"
BIN = Path(os.environ.get("SKEG_BIN", ROOT / "build" / "release" / "bin" / "skeg"))

pytest.importorskip("numpy")
pytest.importorskip("redis")
pytestmark = pytest.mark.skipif(not BIN.exists(), reason=f"no skeg binary at {BIN} (set SKEG_BIN)")


def run(*args, timeout=300):
    p = subprocess.run([sys.executable, str(TOOL), *map(str, args)], capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, f"exit {p.returncode}\nstdout:\n{p.stdout[-3000:]}\nstderr:\n{p.stderr[-3000:]}"
    return p


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    d = tmp_path_factory.mktemp("skeg_bench")
    subprocess.run([sys.executable, str(ROOT / "bench" / "gen_synth.py"), "--n", "2000", "--d", "32", "--nq", "100",
                    "--out", str(d / "synth-2k-32")], check=True, capture_output=True, timeout=120)
    return d


def test_run_flat_f32_resp(work):
    out = work / "results"
    doc_path = work / "flat.json"
    p = run("run", "--dataset", work / "synth-2k-32", "--kind", "f32", "--backend", "flat", "--protocol", "resp",
            "--spawn", BIN, "--threads", "1", "--passes", "1", "--idle", "0.3", "--out-dir", out, "--out", doc_path,
            "--quiet")
    doc = json.loads(p.stdout)
    assert doc == json.load(open(doc_path))
    assert doc["dataset"]["n"] == 2000 and doc["dataset"]["metric"] == "l2"
    assert doc["ingest"]["rate_per_s"] > 0 and doc["server"]["survived"] is True
    [pt] = doc["points"]
    assert pt["recall_at_10"] > 0.9, pt
    for f in ("qps", "p50_ms", "p99_ms", "p999_ms", "recall_at_10"):
        assert pt[f] > 0, f
    rec = pt["record"]
    for f in ("engine", "dataset", "params", "qps", "p50_ms", "p99_ms", "recall_at_10", "serve_rss_anon_mib",
              "serve_rss_file_mib", "steady_rss_mib", "index_bytes_on_disk", "build_seconds", "cmd"):
        assert rec.get(f) is not None, f
    assert rec["serve_rss_anon_mib"] > 0 and "bench" in rec["cmd"]
    assert {"ingest", "idle", "burst"} <= set(doc["rss"]), doc["rss"].keys()
    lines = (out / "synth-2k-32.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["recall_at_10"] == pt["recall_at_10"]
    assert Path(doc["samples_csv"]).exists()


def test_run_disk_native_two_clients_k100(work):
    p = run("run", "--dataset", work / "synth-2k-32", "--kind", "f32", "--backend", "disk", "--protocol", "native",
            "--spawn", BIN, "--threads", "1,2", "--l-search", "300", "--k", "100", "--passes", "1", "--idle", "0",
            "--out-dir", work / "results", "--quiet")
    doc = json.loads(p.stdout)
    assert [(x["l_search"], x["clients"]) for x in doc["points"]] == [(300, 1), (300, 2)]
    for pt in doc["points"]:
        assert pt["recall_at_10"] > 0.9 and pt["recall_at_100"] > 0.9 and pt["errors"] == 0
    assert "consolidate_seconds" in doc["ingest"]


def test_schedule_and_coresidence_record(work):
    run_dir = work / "cores"
    run_dir.mkdir()
    run("run", "--dataset", work / "synth-2k-32", "--kind", "f32", "--backend", "flat", "--spawn", BIN,
        "--schedule", "idle:0.3,burst:200,idle:0.3", "--out", run_dir / "skeg.json", "--out-dir", run_dir,
        "--samples-csv", run_dir / "samples.csv", "--quiet")
    p = run("coresidence-record", "--dir", run_dir, "--engine", "skeg-f32-flat-resp", "--dataset", "synth-2k-32",
            "--hog-mib", "0", "--schedule-len", "3", "--cmd", "test")
    rec = json.loads(p.stdout)
    assert rec["survived"] is True and len(rec["bursts"]) == 1 and rec["bursts"][0]["recall_at_10"] > 0.9
    (work / "results" / "coresidence.jsonl").write_text(p.stdout)


def test_report(work):
    pytest.importorskip("matplotlib")
    rep = work / "report"
    p = run("report", work / "results", "--out-dir", rep)
    assert (rep / "pareto-synth-2k-32.png").stat().st_size > 1000
    assert (rep / "rss-skeg-runs.png").exists()
    text = (rep / "report.md").read_text()
    assert text.strip() == p.stdout.strip()
    assert "| engine | params | recall@10 |" in text and "skeg-f32-flat-resp" in text
    assert "Co-residence" in text and "`bench/" in text
