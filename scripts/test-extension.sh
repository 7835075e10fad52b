#!/usr/bin/env bash
# Tests of the VS Code extension and its webviews: installs npm packages (npm install from the lock), Debian's chromium and code-server
# (npm) when missing, builds the daemon if needed, bundles, packages the .vsix, type-checks, then runs (1) the webview
# bundles in headless chromium (draw times printed, screenshots in out/test-artifacts/), (2) the extension's unit tests
# against a stand-in daemon, (3) its client and converters against the real daemon, and (4) the end-to-end test in a
# real VS Code (code-server + the .vsix + the real daemon, driven by playwright-core). Never downloads a browser.
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
  # `npm install` from the committed lock: npm 11's `npm ci` rejects locks that leave out other platforms'
  # optional packages (rollup's), which is how npm writes them here. The lock is not changed by this.
  npm install --no-audit --no-fund --loglevel=error || fail "npm install failed"
fi
# The real daemon for the integration tests (scripts/test.sh has built the solution already; alone, build the CLI).
dll=daemon/src/AdvVis.Cli/bin/Debug/net10.0/advvis.dll
if [ ! -f "$dll" ]; then
  dotnet build daemon/src/AdvVis.Cli -nologo -v q -clp:ErrorsOnly || fail "could not build the daemon"
fi
# A real VS Code for the end-to-end test: code-server from the npm registry (VS Code 1.100.3, runs on node 20), once,
# into ~/.cache/advvis. Its native modules need a few -dev packages; @vscode/ripgrep would download rg, so its cache is
# pre-filled with Debian's. Never downloads a browser or VS Code itself.
code_server_dir="${ADVVIS_TOOLS:-$HOME/.cache/advvis}/code-server-4.100.3"
export ADVVIS_CODE_SERVER="$code_server_dir/node_modules/code-server/out/node/entry.js"
if [ ! -f "$ADVVIS_CODE_SERVER" ]; then
  missing=()
  for p in libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev pkg-config ripgrep; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "test-extension: installing Debian packages for code-server: ${missing[*]}"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    { $SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"; } >/dev/null || echo "test-extension: could not install ${missing[*]}"
  fi
  rg_cache="${TMPDIR:-/tmp}/vscode-ripgrep-cache-1.15.11"
  if [ -x /usr/bin/rg ] && [ ! -f "$rg_cache/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" ]; then
    mkdir -p "$rg_cache" && tmp_rg=$(mktemp -d) && cp /usr/bin/rg "$tmp_rg/rg" \
      && tar -C "$tmp_rg" -czf "$rg_cache/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" rg; rm -rf "$tmp_rg"
  fi
  echo "test-extension: installing code-server 4.100.3 (npm) into $code_server_dir"
  started=$(date +%s)
  mkdir -p "$code_server_dir" && [ -f "$code_server_dir/package.json" ] || echo '{"private": true}' >"$code_server_dir/package.json"
  (cd "$code_server_dir" && npm_config_unsafe_perm=true npm_config_yes=true npm install --no-audit --no-fund --loglevel=error code-server@4.100.3 >install.log 2>&1) \
    || { echo "test-extension: code-server install failed (the end-to-end test will fail):"; tail -20 "$code_server_dir/install.log"; }
  echo "test-extension: code-server install took $(( $(date +%s) - started )) s"
fi
node vscode-advvis/build.mjs || fail "bundling failed"
# The .vsix the end-to-end test installs (production bundles; the browser tests then run the same minified views).
# out/ is not in git: a fresh clone has none, and vsce does not create it.
mkdir -p out
npm run --silent package >/dev/null || fail "npm run package failed"
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
        : file.name.includes('/test/daemon/') ? 'vscode-advvis (real daemon)'
        : file.name.includes('/test/e2e/') ? 'vscode-advvis (end-to-end in code-server)' : 'vscode-advvis (unit)';
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
