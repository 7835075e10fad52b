// Daemon results may reference large arrays and PNGs as files in its cache folder (`path`). Webviews cannot read
// files, so the host inlines them as base64 before forwarding a result. Pure data plumbing: no values change.
// Confinement: a result names files, and the extension reads only those that, with every symlink resolved, lie inside
// the workspace's cache or export folder; a folder that is itself reached through a symlink counts for nothing.
// Everything else is refused (logged, never opened). No vscode import: the caller passes the workspace root and a log.
import { readFile, realpath, stat } from 'node:fs/promises';
import * as path from 'node:path';

export type Log = (line: string) => void;

/** The folders the daemon writes for this workspace (sent in workspace/configure; the only place naming them). */
export function resultFolders(workspaceRoot: string): { cacheDir: string; exportDir: string } {
    return { cacheDir: path.join(workspaceRoot, '.advvis', 'cache'), exportDir: path.join(workspaceRoot, '.advvis', 'export') };
}

/**
 * The real paths of the cache and export folders, each kept only if it is exactly `<real workspace>/.advvis/<name>`:
 * a repository that ships `.advvis` or `.advvis/cache` as a symlink does not get its target trusted as results.
 */
export async function confinedRoots(workspaceRoot: string | undefined, log: Log = () => undefined): Promise<string[]> {
    if (!workspaceRoot) return [];
    const realWorkspace = await realpath(workspaceRoot).catch(() => undefined);
    if (!realWorkspace) return [];
    const roots: string[] = [];
    for (const folder of Object.values(resultFolders(workspaceRoot))) {
        const real = await realpath(folder).catch(() => undefined);
        if (!real) continue; // not written yet: nothing to read in it
        const expected = path.join(realWorkspace, path.relative(workspaceRoot, folder));
        if (samePath(real, expected)) roots.push(real);
        else log(`AdvVis reads no results from ${folder}: it resolves to ${real} through a symbolic link.`);
    }
    return roots;
}

/** The real path of `file` if it is a regular file inside one of `roots` (real paths), else undefined. */
export async function resolveInside(file: string, roots: readonly string[]): Promise<string | undefined> {
    if (!path.isAbsolute(file) || !roots.length) return undefined;
    const real = await realpath(file).catch(() => undefined);
    if (!real || !roots.some(root => isInside(real, root))) return undefined;
    const info = await stat(real).catch(() => undefined);
    return info?.isFile() ? real : undefined;
}

export async function inlineFiles(value: unknown, roots: readonly string[], log: Log = () => undefined, depth = 0): Promise<unknown> {
    if (depth > 12 || value === null || typeof value !== 'object') return value;
    if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) value[i] = await inlineFiles(value[i], roots, log, depth + 1);
        return value;
    }
    const record = value as Record<string, unknown>;
    if (typeof record.path === 'string') {
        const isArray = Array.isArray(record.shape) && record.base64 === undefined;
        const isPng = typeof record.width === 'number' && typeof record.height === 'number' && record.pngBase64 === undefined && record.path.toLowerCase().endsWith('.png');
        if (isArray || isPng) {
            const file = await resolveInside(record.path, roots);
            if (!file) log(`refused to inline ${record.path}: not a file inside the cache or export folder (symbolic links resolved).`);
            else if (isArray) record.base64 = (await readFile(file)).toString('base64');
            else record.pngBase64 = (await readFile(file)).toString('base64');
        }
    }
    for (const key of Object.keys(record)) {
        if (typeof record[key] === 'object') record[key] = await inlineFiles(record[key], roots, log, depth + 1);
    }
    return record;
}

// Windows and macOS volumes are case-insensitive by default: paths there are compared without case.
const caseInsensitive = process.platform === 'win32' || process.platform === 'darwin';
const fold = (p: string) => (caseInsensitive ? p.toLowerCase() : p);

function samePath(a: string, b: string): boolean {
    return fold(path.resolve(a)) === fold(path.resolve(b));
}

function isInside(file: string, root: string): boolean {
    const relative = path.relative(fold(root), fold(file));
    return relative !== '' && relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative);
}
