// Finds model definitions in Python source: PyTorch nn.Module subclasses, Keras Model subclasses and Sequential /
// functional Model constructions, torch.onnx.export calls (with the file they write), and layer attributes
// (self.conv2 = nn.Conv2d(...)). Line-based on purpose: fast, no Python parser, good on real code. Pure.

export interface ModelDefinition {
    kind: 'torchModule' | 'kerasModel' | 'kerasSequential' | 'onnxExport';
    name: string;
    line: number;
    /** The file an export call writes, as written in the source (string literal), if any. */
    exportPath?: string;
    layers: LayerAttribute[];
}

export interface LayerAttribute {
    name: string;
    type: string;
    line: number;
}

const classPattern = /^(\s*)class\s+(\w+)\s*\(([^)]*)\)\s*:/;
const torchBases = /(^|[\s,(.])(nn\.Module|torch\.nn\.Module|Module)\s*($|[,)])/;
const kerasBases = /(^|[\s,(])((tf\.)?keras\.Model|keras\.models\.Model|Model)\s*($|[,)])/;
const layerPattern = /^\s*self\.(\w+)\s*=\s*(?:torch\.)?(?:nn|layers|keras\.layers|tf\.keras\.layers)\.(\w+)\s*\(/;
const sequentialPattern = /^\s*(\w+)\s*=\s*(?:tf\.)?(?:keras\.)?(?:models\.)?(Sequential|Model)\s*\(/;
const exportPattern = /torch\.onnx\.export\s*\(/;

export function findModels(text: string): ModelDefinition[] {
    const lines = text.split(/\r?\n/);
    const models: ModelDefinition[] = [];
    let current: { definition: ModelDefinition; indent: number } | undefined;
    for (let i = 0; i < lines.length; i++) {
        const line = lines[i];
        if (/^\s*#/.test(line)) continue;
        const indent = line.length - line.trimStart().length;
        if (current && line.trim() && indent <= current.indent) current = undefined;
        const cls = classPattern.exec(line);
        if (cls) {
            const bases = cls[3];
            const kind = torchBases.test(bases) ? 'torchModule' : kerasBases.test(bases) ? 'kerasModel' : undefined;
            if (kind) {
                const definition: ModelDefinition = { kind, name: cls[2], line: i, layers: [] };
                models.push(definition);
                current = { definition, indent: cls[1].length };
            }
            continue;
        }
        const layer = layerPattern.exec(line);
        if (layer && current) {
            current.definition.layers.push({ name: layer[1], type: layer[2], line: i });
            continue;
        }
        const sequential = sequentialPattern.exec(line);
        if (sequential && /keras|Sequential|layers\./.test(text)) {
            models.push({ kind: 'kerasSequential', name: sequential[1], line: i, layers: [] });
            continue;
        }
        if (exportPattern.test(line)) {
            models.push({ kind: 'onnxExport', name: 'torch.onnx.export', line: i, exportPath: exportTarget(lines.slice(i, i + 12).join('\n')), layers: [] });
        }
    }
    return models;
}

/** The file argument of torch.onnx.export(model, args, f, ...): `f=` keyword or the third positional argument. */
export function exportTarget(call: string): string | undefined {
    const start = call.indexOf('(');
    if (start < 0) return undefined;
    let depth = 0, argument = '', index = 0;
    const args: string[] = [];
    for (let i = start + 1; i < call.length; i++) {
        const c = call[i];
        if (c === '(' || c === '[' || c === '{') depth++;
        if (c === ')' || c === ']' || c === '}') {
            if (depth === 0) { args.push(argument); break; }
            depth--;
        }
        if (c === ',' && depth === 0) { args.push(argument); argument = ''; index++; continue; }
        argument += c;
    }
    const literal = (value: string | undefined) => /^\s*[rfb]?["']([^"']+)["']\s*$/.exec(value ?? '')?.[1];
    const keyword = args.find(arg => /^\s*f\s*=/.test(arg));
    if (keyword) return literal(keyword.replace(/^\s*f\s*=/, ''));
    const positional = args.filter(arg => !/^\s*\w+\s*=/.test(arg));
    return literal(positional[2]);
}

/** Whether an ONNX layer (node output or node name) comes from a source attribute: "/conv2/Conv_output_0", "conv2.weight", "conv2". */
export function layerMatchesAttribute(layer: string, attribute: string): boolean {
    const parts = layer.split(/[/.:]/).filter(Boolean);
    return parts.includes(attribute) || layer === attribute;
}
