#!/usr/bin/env bash
# The README's first command: builds the daemon and runs `advvis demo` on the shipped default (demo/: the ONNX
# model-zoo MNIST CNN and 500 MNIST test digits), which attacks them with the Activation Profiles paper's PGD setting
# and writes an HTML report explaining one digit layer by layer. Extra arguments go to `advvis demo` (e.g. --out DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build daemon/src/AdvVis.Cli -nologo -v q -clp:ErrorsOnly
dotnet daemon/src/AdvVis.Cli/bin/Debug/net10.0/advvis.dll demo "$@"
