#!/usr/bin/env bash
# Installs every Debian (bookworm) package skeg needs to build, test and benchmark.
# Non-interactive and idempotent: packages already present are left alone.
set -euo pipefail

PACKAGES=(
  # build
  cmake ninja-build g++ ccache pkg-config git
  # libraries
  libasio-dev liburing-dev libjemalloc-dev libxxhash-dev libsodium-dev
  libspdlog-dev libfmt-dev libcli11-dev libtomlplusplus-dev nlohmann-json3-dev
  libcpp-httplib-dev liblz4-dev libssl-dev zlib1g-dev libbrotli-dev
  # tests and tools
  libgtest-dev libgmock-dev libbenchmark-dev
  redis-tools redis-server python3 python3-redis python3-numpy python3-pytest
  python3-setuptools python3-pip python3-venv
  # benchmarks: bench/vector_flat compares against faiss IndexFlat / IndexScalarQuantizer;
  # bench/skeg_bench plots with matplotlib and runs the hnswlib/faiss peers of ../shared/bench
  python3-faiss python3-matplotlib python3-hnswlib libopenblas0-pthread time
  clang-14 libclang-rt-14-dev libfuzzer-14-dev clang-format clang-tidy
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
