#!/usr/bin/env bash
# Builds the daemon and runs AdvVis on the shipped default: the ONNX model-zoo MNIST CNN and MNIST test digits.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build daemon/src/AdvVis.Cli -nologo -v q -clp:ErrorsOnly
advvis() { dotnet daemon/src/AdvVis.Cli/bin/Debug/net10.0/advvis.dll "$@"; }
model=../shared/models/mnist-zoo-opset7.onnx
advvis info "$model"
for digit in ../shared/data/mnist/foolbox_samples/mnist_0[0-4]_*.png; do
  echo "== $digit"
  advvis infer "$model" --input "$digit"
done
