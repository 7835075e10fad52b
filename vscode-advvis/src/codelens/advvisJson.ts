// advvis.json: the workspace's map from source code to model files, and each model's background data.
//   { "models": [ { "name": "mnist", "path": "models/mnist.onnx", "source": "train.py", "class": "Net",
//                   "background": { "path": "data/t10k-images-idx3-ubyte.gz", "labels": "data/t10k-labels-idx1-ubyte.gz" } } ] }
// Paths are relative to the file's folder. No vscode import.
import { readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';

export interface AdvvisModelEntry {
    name?: string;
    path: string;
    source?: string;
    class?: string;
    background?: { path: string; labels?: string };
    /** 0-based line of the entry's "path" member, for CodeLens. */
    line: number;
}

export interface AdvvisJson {
    models: AdvvisModelEntry[];
    error?: string;
}

export function readAdvvisJson(text: string, folder: string): AdvvisJson {
    let parsed: unknown;
    try {
        parsed = JSON.parse(text);
    } catch (error) {
        return { models: [], error: `advvis.json is not valid JSON: ${(error as Error).message}` };
    }
    const list = (parsed as { models?: unknown })?.models;
    if (!Array.isArray(list)) return { models: [], error: 'advvis.json has no "models" array.' };
    const lines = text.split(/\r?\n/);
    const pathLines = lines.flatMap((line, index) => (/"path"\s*:/.test(line) && !/"background"/.test(line) ? [index] : []));
    const resolve = (p: string) => (path.isAbsolute(p) ? p : path.join(folder, p));
    const models: AdvvisModelEntry[] = [];
    let searchFrom = 0;
    for (const raw of list) {
        const entry = raw as Record<string, unknown>;
        if (typeof entry?.path !== 'string') continue;
        const quoted = JSON.stringify(entry.path);
        const line = pathLines.find(index => index >= searchFrom && lines[index].includes(quoted)) ?? searchFrom;
        searchFrom = line + 1;
        const background = entry.background as { path?: unknown; labels?: unknown } | string | undefined;
        models.push({
            name: typeof entry.name === 'string' ? entry.name : undefined,
            path: resolve(entry.path),
            source: typeof entry.source === 'string' ? resolve(entry.source) : undefined,
            class: typeof entry.class === 'string' ? entry.class : undefined,
            background: typeof background === 'string' ? { path: resolve(background) }
                : typeof background?.path === 'string' ? { path: resolve(background.path), labels: typeof background.labels === 'string' ? resolve(background.labels) : undefined } : undefined,
            line,
        });
    }
    return { models };
}

const maxAdvvisJsonBytes = 1 << 20;

/**
 * Reads and parses an advvis.json found in the workspace. It is read also in Restricted Mode (for CodeLens), so a
 * repository's advvis.json that is a link to a device, a FIFO or a huge file is ignored instead of read.
 */
export async function readAdvvisJsonFile(file: string): Promise<AdvvisJson> {
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile() || info.size > maxAdvvisJsonBytes) return { models: [], error: `${file} is not a regular file of at most 1 MiB; AdvVis ignores it.` };
    const text = await readFile(file, 'utf8').catch(() => undefined);
    return text === undefined ? { models: [], error: `${file} could not be read.` } : readAdvvisJson(text, path.dirname(file));
}
