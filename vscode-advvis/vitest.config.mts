import { defineConfig } from 'vitest/config';
import { resolve } from 'node:path';

export default defineConfig({
    resolve: { alias: { vscode: resolve(__dirname, 'test/unit/vscodeStub.ts') } },
    test: {
        root: resolve(__dirname, '..'),
        include: ['vscode-advvis/test/unit/**/*.test.ts', 'vscode-advvis/test/daemon/**/*.test.ts', 'vscode-advvis/test/e2e/**/*.test.ts', 'webviews/test/**/*.test.ts'],
        pool: 'forks',
        poolOptions: { forks: { maxForks: 1, minForks: 1 } },
        testTimeout: 30_000,
        hookTimeout: 60_000,
    },
});
