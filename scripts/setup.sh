#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks for building and testing AdvVis. Idempotent: skips what is present.
# Python, PyTorch and the ONNX test data are references for tests only, never part of the product.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
dpkg -s libonnx-testdata >/dev/null 2>&1 || need_apt+=(libonnx-testdata)
dpkg -s python3-torch >/dev/null 2>&1 || need_apt+=(python3-torch)
dpkg -s python3-torchvision >/dev/null 2>&1 || need_apt+=(python3-torchvision)
dpkg -s python3-onnx >/dev/null 2>&1 || need_apt+=(python3-onnx)
dpkg -s libjpeg-turbo-progs >/dev/null 2>&1 || need_apt+=(libjpeg-turbo-progs)
dpkg -s netpbm >/dev/null 2>&1 || need_apt+=(netpbm)
dpkg -s umap-learn >/dev/null 2>&1 || need_apt+=(umap-learn)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs npm)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need_apt[@]}"
fi

if [ ! -d daemon/tests/AdvVis.Service.Tests/node-interop/node_modules/vscode-jsonrpc ]; then
  echo "setup: installing npm packages for the JSON-RPC interop test"
  (cd daemon/tests/AdvVis.Service.Tests/node-interop && npm ci --no-audit --no-fund --loglevel=error)
fi

# The PyTorch reference CNNs (~95 MB, fixed random weights, byte-deterministic export) are generated, not committed.
daemon/tests/reference/make_reference_models.sh daemon/tests/.cache/models
# torchvision classifiers at test-suite sizes (tiny Swin/ViT/ConvNeXt, MobileNetV3; ~40 MB, seconds to export) with
# their PyTorch logits and input gradients. The full-size ones are made by scripts/model-coverage.sh.
/usr/bin/python3 daemon/tests/reference/make_classifier_references.py daemon/tests/.cache/classifiers
