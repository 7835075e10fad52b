#!/usr/bin/env bash
# Exports torchvision classifiers (random weights) with their PyTorch references and writes docs/model-coverage.md:
# per model the opset, whether AdvVis loads it, and the relative errors of its logits and input gradients.
#   scripts/model-coverage.sh            every model of make_classifier_references.py's table (~2.5 GB, ~10 min)
#   scripts/model-coverage.sh NAME ...   only these (plus the test suite's set, always in the table)
# Exports are cached in daemon/tests/.cache/classifiers (git-ignored) and skipped when up to date.
set -euo pipefail
cd "$(dirname "$0")/.."
cache=daemon/tests/.cache/classifiers
/usr/bin/python3 daemon/tests/reference/make_classifier_references.py "$cache"
/usr/bin/python3 daemon/tests/reference/make_classifier_references.py "$cache" "${@:-all}"
dotnet build daemon/tests/AdvVis.Engine.Tests -nologo -v q -clp:ErrorsOnly
dotnet test daemon/tests/AdvVis.Engine.Tests --no-build -nologo --filter "FullyQualifiedName~ClassifierReferenceTests.CoverageTable"
{
  echo "# Model coverage"
  echo
  echo "torchvision $(/usr/bin/python3 -c 'import torchvision; print(torchvision.__version__)') classifiers with random weights (seed 0), exported by"
  echo "\`daemon/tests/reference/make_classifier_references.py\` with PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)'), run by AdvVis at batch 1 (batch 2 for the tiny ones)."
  echo "Errors are max |AdvVis − PyTorch| / max |PyTorch| against the module run in float64; the tests require under 1e-4."
  echo "PyTorch's own float32 run is given for scale: where it is itself far from float64 (deep ReLU nets with random weights,"
  echo "whose input gradients flip with the rounding of near-zero pre-activations), AdvVis's float32 cannot be expected closer."
  echo "The tiny-* and MobileNetV3 rows run in the test suite (\`ClassifierReferenceTests\`); the table is made by \`scripts/model-coverage.sh\`"
  echo "(forward+backward seconds on $(nproc) cores with load $(cut -d' ' -f1 /proc/loadavg), for scale only)."
  echo
  cat "$cache/coverage.md"
} > docs/model-coverage.md
echo "wrote docs/model-coverage.md"
