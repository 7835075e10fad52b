// Bundles the extension (src/extension.ts → dist/extension.js, CommonJS for the Node extension host) and every
// webview (../webviews/<view>/main.ts → media/<view>.js, one IIFE each with d3 inside; no remote resources).
// Flags: --production (minify, no source maps), --watch, --with-daemon (also publish the daemon self-contained into
// daemon/<rid>/ so the .vsix ships it; needs the .NET SDK).
import { build, context } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');
export const webviewNames = ["architecture", "explain", "dataset"];

const common = { bundle: true, minify: production, sourcemap: production ? false : 'linked', logLevel: 'warning', target: 'es2022' };
const targets = [
    { ...common, entryPoints: [resolve(here, 'src/extension.ts')], outfile: resolve(here, 'dist/extension.js'), platform: 'node', format: 'cjs', external: ['vscode'] },
    ...webviewNames.map(name => ({ ...common, entryPoints: [resolve(here, `../webviews/${name}/main.ts`)], outfile: resolve(here, `media/${name}.js`), platform: 'browser', format: 'iife' })),
];

if (watch) {
    for (const options of targets) (await context(options)).watch();
} else {
    const started = Date.now();
    await Promise.all(targets.map(options => build(options)));
    console.log(`bundled the extension and ${webviewNames.length} webviews in ${Date.now() - started} ms`);
}

if (process.argv.includes('--with-daemon')) {
    const rid = `${process.platform === 'win32' ? 'win' : process.platform === 'darwin' ? 'osx' : 'linux'}-${process.arch === 'arm64' ? 'arm64' : 'x64'}`;
    execFileSync('dotnet', ['publish', resolve(here, '../daemon/src/AdvVis.Cli'), '-c', 'Release', '-r', rid, '--self-contained', '-nologo', '-v', 'q',
        '-o', resolve(here, 'daemon', rid)], { stdio: 'inherit' });
}
