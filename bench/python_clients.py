#!/usr/bin/env python3
"""GET/SET ops/s through the two Python clients a skeg user picks between, same server, same run:
the repo's native-protocol client (clients/python, package ``skeg``) and redis-py (Debian
python3-redis) over RESP. One connection each, pipelines of --depth requests, 64-byte values,
keys drawn uniformly from --keys preloaded keys. Client-bound by design (Python is the
bottleneck): it measures what a Python application gets, not the server (for that see
native_vs_resp.cc).

    taskset -c 0 build/release/bin/skeg --data-dir /var/tmp/pyc --addr 127.0.0.1:7379 \\
        --resp-addr 127.0.0.1:6379 --metrics-port 0 &
    taskset -c 1 /usr/bin/python3 bench/python_clients.py --depths 1,16 --seconds 3
"""
import argparse
import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients", "python"))

import redis  # noqa: E402  (Debian python3-redis)
import skeg  # noqa: E402


def run(seconds, depth, keys, rng, queue_one, execute):
    """Ops/s of pipelines of `depth` requests for `seconds`."""
    done = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        batch = []
        for _ in range(depth):
            queue_one(batch, keys[rng.randrange(len(keys))])
        execute(batch)
        done += depth
    return done / (time.perf_counter() - start)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--native-port", type=int, default=7379)
    ap.add_argument("--resp-port", type=int, default=6379)
    ap.add_argument("--depths", default="1,16")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--keys", type=int, default=10000)
    args = ap.parse_args()

    keys = [f"bench:{i}".encode() for i in range(args.keys)]
    value = b"v" * 64
    native = skeg.Client(args.host, args.native_port)
    resp = redis.Redis(host=args.host, port=args.resp_port)
    for i in range(0, len(keys), 500):
        native.mset([(k, value) for k in keys[i : i + 500]])

    def executor(new_pipeline, op):
        """Runs one batch of keys as a pipeline of `op` on a client's pipeline object."""

        def execute(batch):
            p = new_pipeline()
            for k in batch:
                if op == "get":
                    p.get(k)
                else:
                    p.set(k, value)
            p.execute()

        return execute

    def native_pipeline():
        return native.pipeline()

    def resp_pipeline():
        return resp.pipeline(transaction=False)

    print(f"redis-py {redis.__version__}; one connection per client; {args.seconds} s per cell\n")
    print("| op | pipeline | skeg native client ops/s | redis-py (RESP) ops/s | native/RESP |")
    print("|---|---:|---:|---:|---:|")
    for op in ("get", "set"):
        for depth in (int(d) for d in args.depths.split(",")):
            n = run(args.seconds, depth, keys, random.Random(1), list.append,
                    executor(native_pipeline, op))
            r = run(args.seconds, depth, keys, random.Random(1), list.append,
                    executor(resp_pipeline, op))
            print(f"| {op.upper()} | {depth} | {n:.0f} | {r:.0f} | {n / r:.2f} |", flush=True)


if __name__ == "__main__":
    main()
