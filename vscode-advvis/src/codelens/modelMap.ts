// Maps a model definition in source code to its ONNX file: (1) an advvis.json entry naming this source file (and class),
// (2) the path written by a torch.onnx.export call in the same file, (3) an .onnx file in the workspace whose name
// matches the class or the source file. Pure: the caller passes the candidates and an existence check.
import * as path from 'node:path';
import type { AdvvisModelEntry } from './advvisJson';
import type { ModelDefinition } from './pythonModels';

export interface ModelMatch {
    modelPath: string;
    how: 'advvis.json' | 'torch.onnx.export' | 'file name';
}

export function mapToModel(sourcePath: string, definition: ModelDefinition, allDefinitions: ModelDefinition[], entries: AdvvisModelEntry[],
    onnxFiles: string[], workspaceRoot: string | undefined, exists: (file: string) => boolean): ModelMatch | undefined {
    const sameSource = entries.filter(entry => entry.source && path.resolve(entry.source) === path.resolve(sourcePath));
    const byClass = sameSource.find(entry => entry.class === definition.name) ?? (sameSource.length === 1 && !sameSource[0].class ? sameSource[0] : undefined);
    if (byClass) return { modelPath: byClass.path, how: 'advvis.json' };

    const exports = definition.kind === 'onnxExport' ? [definition] : allDefinitions.filter(d => d.kind === 'onnxExport');
    for (const call of exports) {
        if (!call.exportPath) continue;
        for (const base of [path.dirname(sourcePath), workspaceRoot].filter((b): b is string => !!b)) {
            const candidate = path.resolve(base, call.exportPath);
            if (exists(candidate)) return { modelPath: candidate, how: 'torch.onnx.export' };
        }
    }

    const wanted = [definition.name, path.basename(sourcePath, path.extname(sourcePath))].map(normalise);
    const byName = onnxFiles.find(file => wanted.includes(normalise(path.basename(file, '.onnx'))));
    return byName ? { modelPath: byName, how: 'file name' } : undefined;
}

function normalise(name: string): string {
    return name.toLowerCase().replace(/[^a-z0-9]/g, '');
}
