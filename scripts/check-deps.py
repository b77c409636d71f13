#!/usr/bin/env python3
"""Rejects #include lines that go against the module dependency graph.

The graph is the one drawn in docs/architecture.md; keep the two in sync. A module is a
directory under src/ (storage/* and index/* count per sub-directory). A file may include
headers of its own module and of the modules listed for it below. Third-party and standard
headers (<...>) are not checked.

Usage: scripts/check-deps.py [repo-root]   (exit 1 and one line per violation on failure)
"""
import os
import re
import sys

# module -> modules it may include (transitively allowed modules must be listed explicitly).
ALLOWED = {
    "common": set(),
    "platform": {"common"},
    "storage/cache": {"common"},
    "storage/keydir": {"common"},
    "storage/vlog": {"common", "platform", "storage/cache", "storage/keydir"},
    "index/distance": {"common", "platform"},
    "index/quant": {"common", "platform", "index/distance"},
    "index/filter": {"common"},
    "index/flat": {"common", "platform", "index/distance", "index/quant", "index/filter"},
    "index/vamana": {"common", "platform", "storage/cache", "index/distance", "index/quant",
                     "index/filter"},
    "index/collection": {"common", "platform", "storage/cache", "storage/keydir", "storage/vlog",
                         "index/distance", "index/quant", "index/filter", "index/flat",
                         "index/vamana"},
    "protocol": {"common"},
    "telemetry": {"common"},
    # server is the only module that sees everything.
    "server": {"common", "platform", "storage/cache", "storage/keydir", "storage/vlog", "protocol",
               "telemetry", "index/distance", "index/quant", "index/filter", "index/flat",
               "index/vamana", "index/collection"},
    # non-src code
    "tests/testing": {"common", "platform"},
    "tests/fuzz": {"common", "protocol", "index/filter"},
    "clients/cpp": {"common", "protocol"},
    "bench": {"common", "platform", "storage/cache", "storage/keydir", "storage/vlog", "protocol",
              "telemetry",
              "index/distance", "index/quant", "index/filter", "index/flat", "index/vamana",
              "index/collection"},
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
TWO_LEVEL = ("storage", "index")


def module_of_header(path):
    parts = path.split("/")
    if parts[0] in TWO_LEVEL and len(parts) > 2:
        return parts[0] + "/" + parts[1]
    if parts[0] == "testing":
        return "tests/testing"
    return parts[0]


def module_of_file(rel):
    parts = rel.split("/")
    if parts[0] == "src":
        return module_of_header("/".join(parts[1:]))
    if parts[0] == "tests" and len(parts) > 1 and parts[1] in ("testing", "fuzz"):
        return "tests/" + parts[1]
    if parts[0] == "bench":
        return "bench"
    if parts[0] == "clients" and len(parts) > 1 and parts[1] == "cpp":
        return "clients/cpp"
    return None


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    root = os.path.abspath(root)
    violations = []
    checked = 0
    for top in ("src", "tests", "bench", "clients"):
        for dirpath, _, files in os.walk(os.path.join(root, top)):
            for name in files:
                if not name.endswith((".h", ".cc")):
                    continue
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, root)
                mod = module_of_file(rel)
                if mod is None:
                    continue  # black-box tests and tools may use anything
                if mod not in ALLOWED:
                    violations.append(f"{rel}: module '{mod}' is not in the dependency graph")
                    continue
                with open(full, encoding="utf-8", errors="replace") as f:
                    for lineno, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        checked += 1
                        if "/" not in m.group(1):
                            continue  # a header beside the including file
                        target = module_of_header(m.group(1))
                        if target == mod or target in ALLOWED[mod]:
                            continue
                        is_test = "_test" in name or name.startswith("test_")
                        if is_test and target == "tests/testing":
                            continue  # unit tests may use the shared test helpers
                        violations.append(
                            f"{rel}:{lineno}: '{mod}' must not include \"{m.group(1)}\" "
                            f"(module '{target}'; see docs/architecture.md)")
    for v in violations:
        print(v)
    print(f"check-deps: {checked} includes checked, {len(violations)} violations")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
