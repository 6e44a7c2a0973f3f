#!/usr/bin/env bash
# test.sh — the README's second command and what CI runs: set up, build kiln,
# run the whole test suite under CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cd build
exec ctest --output-on-failure -j"$(nproc)"
