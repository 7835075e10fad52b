#!/usr/bin/env bash
# Tests of the VS Code extension and its webviews: installs npm packages (npm ci) and Debian's chromium when missing,
# bundles, type-checks, then runs (1) the webview bundles in headless chromium (draw times printed, screenshots in
# out/test-artifacts/) and (2) the extension's unit tests against a stand-in daemon. Never downloads a browser.
# Last line: `N passed, M failed`.
set -uo pipefail
cd "$(dirname "$0")/.."
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false

fail() { echo "$1"; echo "0 passed, 1 failed"; exit 1; }
if [ ! -x /usr/bin/chromium ]; then
  echo "test-extension: installing Debian's chromium"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  { $SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends chromium; } >/dev/null || fail "could not install chromium"
fi
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error || fail "npm ci failed"
fi
# The real daemon for the integration tests (scripts/test.sh has built the solution already; alone, build the CLI).
dll=daemon/src/AdvVis.Cli/bin/Debug/net10.0/advvis.dll
if [ ! -f "$dll" ]; then
  dotnet build daemon/src/AdvVis.Cli -nologo -v q -clp:ErrorsOnly || fail "could not build the daemon"
fi
node vscode-advvis/build.mjs || fail "bundling failed"
npx --no-install tsc -p vscode-advvis/tsconfig.json || fail "type errors in vscode-advvis/"
npx --no-install tsc -p webviews/tsconfig.json || fail "type errors in webviews/"

report=$(mktemp)
trap 'rm -f "$report"' EXIT
npx --no-install vitest run -c vscode-advvis/vitest.config.mts --reporter=default --reporter=json --outputFile.json="$report"
node - "$report" <<'JS'
const report = JSON.parse(require('node:fs').readFileSync(process.argv[2], 'utf8'));
const suites = new Map();
for (const file of report.testResults) {
    const name = file.name.includes('/webviews/') ? 'webviews (headless chromium)'
        : file.name.includes('/test/daemon/') ? 'vscode-advvis (real daemon)' : 'vscode-advvis (unit)';
    const counts = suites.get(name) ?? { passed: 0, failed: 0, skipped: 0 };
    for (const test of file.assertionResults) test.status === 'passed' ? counts.passed++ : test.status === 'failed' ? counts.failed++ : counts.skipped++;
    if (file.status === 'failed' && !file.assertionResults.length) counts.failed++;
    suites.set(name, counts);
}
let passed = 0, failed = 0, skipped = 0;
const tail = n => (n ? `, ${n} skipped` : '');
for (const [name, counts] of suites) {
    console.log(`${name}: ${counts.passed} passed, ${counts.failed} failed${tail(counts.skipped)}`);
    passed += counts.passed; failed += counts.failed; skipped += counts.skipped;
}
console.log(`${passed} passed, ${failed} failed${tail(skipped)}`);
process.exit(failed ? 1 : 0);
JS
