#!/usr/bin/env bash
# setup.sh — installs what kiln needs on Debian 12 (only what is missing, so a
# second run is quick) and builds kiln into ./build. Used by the README's two
# commands and by CI.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake clang            # compilers: kiln is C11, its output C99
  protobuf-c-compiler libprotobuf-c-dev  # protoc-c and libprotobuf-c for ONNX import
  libonnx-dev                            # /usr/include/onnx/onnx.proto, the ONNX schema
  libonnx-testdata                       # the official ONNX backend test cases
  python3 python3-numpy python3-onnx python3-torch  # reference models and data (/usr/bin/python3)
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static  # NEON kernels, tested under qemu
  libbenchmark-dev libopenblas-dev libblis-dev  # bench/: Google Benchmark and the BLAS baselines
  libdnnl-dev libxnnpack-dev libpthreadpool-dev # bench/: the convolution baselines (oneDNN, XNNPACK)
  graphviz pkgconf                       # kiln ir --dot pictures; the installed kiln.pc
  dataset-fashion-mnist zlib1g-dev gnuplot-nox  # the examples: data, its .gz reader, learning curves
  libclang-dev libclang-rt-14-dev valgrind  # generated-code hygiene (libclang), libFuzzer, valgrind
)
# onnxruntime (npm onnxruntime-node) checks exported models: Node.js with npm,
# from Debian unless the machine already has one (some bundle npm with node)
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"

# onnxruntime for the export checks, from npm into build/ort (its install
# script would download extra binaries: ONNXRUNTIME_NODE_INSTALL=skip).
if [ ! -d build/ort/node_modules/onnxruntime-node ]; then
  echo "setup: installing onnxruntime-node into build/ort"
  mkdir -p build/ort
  (cd build/ort && ONNXRUNTIME_NODE_INSTALL=skip npm install --silent --no-audit --no-fund \
     onnxruntime-node >/dev/null)
fi
