#!/usr/bin/env bash
# The whole test suite on a fresh Debian bookworm machine: installs dependencies, checks the
# module dependency graph and formatting, builds Release and ASan+UBSan, runs every test
# (Release: unit + integration; ASan+UBSan: unit). The slow suite is `ctest --preset slow`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
python3 scripts/check-deps.py
scripts/check-format.sh
cmake --preset release
cmake --build --preset release
ctest --preset release
cmake --preset asan-ubsan
cmake --build --preset asan-ubsan
ctest --preset asan-ubsan
