// Daemon results may reference large arrays and PNGs as files in its cache folder (`path`). Webviews cannot read
// files, so the host inlines them as base64 before forwarding a result. Pure data plumbing: no values change.
import { readFile } from 'node:fs/promises';

export async function inlineFiles(value: unknown, depth = 0): Promise<unknown> {
    if (depth > 12 || value === null || typeof value !== 'object') return value;
    if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) value[i] = await inlineFiles(value[i], depth + 1);
        return value;
    }
    const record = value as Record<string, unknown>;
    if (typeof record.path === 'string') {
        if (Array.isArray(record.shape) && record.base64 === undefined) {
            record.base64 = (await readFile(record.path)).toString('base64');
        } else if (typeof record.width === 'number' && typeof record.height === 'number' && record.pngBase64 === undefined && record.path.toLowerCase().endsWith('.png')) {
            record.pngBase64 = (await readFile(record.path)).toString('base64');
        }
    }
    for (const key of Object.keys(record)) {
        if (typeof record[key] === 'object') record[key] = await inlineFiles(record[key], depth + 1);
    }
    return record;
}
