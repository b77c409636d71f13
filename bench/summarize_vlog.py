#!/usr/bin/env python3
"""Medians over several vlog_bench JSON results (this machine is noisy: compare medians).

    bench/summarize_vlog.py run1.json run2.json run3.json   -> Markdown tables on stdout
"""
import json
import statistics
import sys


def main(paths):
    runs = [json.load(open(p)) for p in paths]
    print(f"| tier | writers | ops/s (median of {len(runs)}) | runs | writes per sync (median) |")
    print("|---|---:|---:|---|---:|")
    for idx, row in enumerate(runs[0]["group_commit"]):
        vals = [r["group_commit"][idx]["ops_per_sec"] for r in runs]
        wps = [r["group_commit"][idx].get("writes_per_sync", 0) for r in runs]
        runs_text = ", ".join(f"{v:.0f}" for v in vals)
        print(f"| {row['tier']} | {row['writers']} | {statistics.median(vals):.0f} | {runs_text} "
              f"| {statistics.median(wps):.1f} |")
    restarts = [r["restart"] for r in runs if "restart" in r]
    if restarts:
        print()
        print("| keys | tail keys after checkpoint | restart s (median) | runs | "
              "full replay s (median) | keydir bytes/key |")
        print("|---:|---:|---:|---|---:|---:|")
        rs = [r["restart_seconds"] for r in restarts]
        full = [r["full_replay_seconds"] for r in restarts]
        print(f"| {restarts[0]['keys']} | {restarts[0]['tail_keys']} | {statistics.median(rs):.3f} "
              f"| {', '.join(f'{v:.3f}' for v in rs)} | {statistics.median(full):.3f} "
              f"| {restarts[0]['keydir_bytes_per_key']:.1f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
