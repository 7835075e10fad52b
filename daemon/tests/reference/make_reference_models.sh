#!/bin/sh
# Export the three fixed-random-weight reference CNNs (resnet18-cifar, mobilenetv2, vgg11-bn-cifar) to OUT_DIR.
# Thin wrapper around ../shared/tools/make-reference-models.py; does nothing if all three files already exist.
# Needs Debian's /usr/bin/python3 with python3-torch and python3-torchvision.
set -eu
if [ $# -ne 1 ]; then
    echo "usage: $0 OUT_DIR" >&2
    exit 2
fi
out_dir=$1
here=$(cd "$(dirname "$0")" && pwd)
# daemon/tests/reference -> repo root -> sibling shared/
tool="$here/../../../../shared/tools/make-reference-models.py"
if [ ! -f "$tool" ]; then
    echo "make_reference_models.sh: not found: $tool" >&2
    exit 1
fi
if [ -f "$out_dir/resnet18-cifar.onnx" ] && [ -f "$out_dir/mobilenetv2.onnx" ] && [ -f "$out_dir/vgg11-bn-cifar.onnx" ]; then
    echo "make_reference_models.sh: models already in $out_dir"
    exit 0
fi
mkdir -p "$out_dir"
OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} exec /usr/bin/python3 "$tool" "$out_dir"
