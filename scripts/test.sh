#!/usr/bin/env bash
# Sets up a fresh machine and runs every test suite. Prints one line per suite and a final `N passed, M failed`.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || { echo "setup failed"; echo "0 passed, 1 failed"; exit 1; }

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
dotnet build daemon/AdvVis.Daemon.sln -nologo -v q -clp:ErrorsOnly || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }
# One project at a time: the machine has 2 cores and several suites time their own work.
status=0
for project in daemon/tests/*/*.Tests.csproj; do
  name=$(basename "$project" .csproj)
  dotnet test "$project" --no-build -nologo -v q --logger "trx;LogFileName=$results/$name.trx" >"$results/$name.log" 2>&1 || status=1
  if [ ! -f "$results/$name.trx" ]; then
    echo "$name: no results (the test host failed to start)"; tail -20 "$results/$name.log"; status=1
  fi
done
python3 - "$results" <<'PY' | tee "$results/dotnet.out" | sed '$d'
import glob, os, sys, xml.etree.ElementTree as ET
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
total_pass = total_fail = total_skip = 0
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.trx"))):
    root = ET.parse(path).getroot()
    counters = root.find(".//t:ResultSummary/t:Counters", ns)
    passed, failed = int(counters.get("passed")), int(counters.get("failed")) + int(counters.get("error", 0)) + int(counters.get("timeout", 0))
    skipped = int(counters.get("total")) - int(counters.get("executed"))
    for r in root.findall(".//t:UnitTestResult", ns):
        if r.get("outcome") == "Failed":
            msg = r.find(".//t:Message", ns)
            print(f"  FAILED {r.get('testName')}: {(msg.text or '').strip()[:400] if msg is not None else ''}")
    print(f"{os.path.basename(path)[:-4]}: {passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    # The ONNX project's operator tests are reported as a suite of their own (they run inside the engine tests).
    conformance = [r for r in root.findall(".//t:UnitTestResult", ns) if ".ConformanceTests.CasePasses" in r.get("testName", "")]
    if conformance:
        ok = sum(r.get("outcome") == "Passed" for r in conformance)
        print(f"  onnx-conformance (libonnx-testdata node + pytorch cases we claim): {ok} passed, {len(conformance) - ok} failed")
    total_pass += passed; total_fail += failed; total_skip += skipped
print(f"{total_pass} passed, {total_fail} failed" + (f", {total_skip} skipped" if total_skip else ""))
sys.exit(1 if total_fail else 0)
PY
summary=$?
[ $status -ne 0 ] && [ $summary -eq 0 ] && { echo "a test run failed without failing tests (see above)"; echo "0 passed, 1 failed" >"$results/failed-run.out"; summary=1; }
# The VS Code extension and its webviews (headless chromium, unit tests); its counts join the total below.
bash scripts/test-extension.sh >"$results/extension.out" 2>&1
extension=$?
sed '$d' "$results/extension.out"
python3 - "$results"/*.out <<'PY'
import re, sys
passed = failed = skipped = 0
for path in sys.argv[1:]:
    lines = [line for line in open(path, errors="replace").read().splitlines() if line.strip()]
    match = re.match(r"(\d+) passed, (\d+) failed(?:, (\d+) skipped)?$", lines[-1] if lines else "")
    if not match:
        failed += 1
        continue
    passed += int(match[1]); failed += int(match[2]); skipped += int(match[3] or 0)
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
PY
[ $summary -eq 0 ] && [ $extension -eq 0 ]
