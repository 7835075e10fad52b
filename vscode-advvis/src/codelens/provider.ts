// CodeLens on model definitions (Python) and advvis.json model entries: "Architecture · Explain attack · Robustness
// report", or a clear note when no model file is found; on layer attributes, the last explanation's finding for that
// layer. provide() finds ranges and the model file; resolve() attaches the command. In Restricted Mode only the
// Architecture lens is offered (it opens the view's trust notice); the lenses that compute come back on trust.
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Ctx } from '../ctx';
import { codeLensEnabled } from '../config';
import { readAdvvisJson, readAdvvisJsonFile, type AdvvisModelEntry } from './advvisJson';
import { mapToModel } from './modelMap';
import { findModels, layerMatchesAttribute } from './pythonModels';
import { isTrusted } from '../trust';

type LensData =
    | { kind: 'action'; action: 'architecture' | 'explain' | 'report'; modelPath: string; how: string }
    | { kind: 'missing'; name: string }
    | { kind: 'finding'; text: string };

class AdvvisLens extends vscode.CodeLens {
    constructor(range: vscode.Range, readonly data: LensData) {
        super(range);
    }
}

export class ModelCodeLensProvider implements vscode.CodeLensProvider<AdvvisLens> {
    private readonly changed = new vscode.EventEmitter<void>();
    readonly onDidChangeCodeLenses = this.changed.event;

    static register(ctx: Ctx): vscode.Disposable {
        const provider = new ModelCodeLensProvider(ctx);
        return vscode.Disposable.from(
            vscode.languages.registerCodeLensProvider([{ language: 'python' }, { pattern: '**/advvis.json' }], provider),
            ctx.findings.onDidChange(() => provider.changed.fire()),
            vscode.workspace.onDidChangeConfiguration(event => { if (event.affectsConfiguration('advvis.codeLens')) provider.changed.fire(); }),
            vscode.workspace.onDidGrantWorkspaceTrust(() => provider.changed.fire()),
            provider.changed,
        );
    }

    constructor(private readonly ctx: Ctx) {}

    async provideCodeLenses(document: vscode.TextDocument, token: vscode.CancellationToken): Promise<AdvvisLens[]> {
        if (!codeLensEnabled()) return [];
        const text = document.getText();
        const lenses: AdvvisLens[] = [];
        const actions = (line: number, modelPath: string, how: string) => {
            const range = new vscode.Range(line, 0, line, 0);
            for (const action of isTrusted() ? ['architecture', 'explain', 'report'] as const : ['architecture'] as const) lenses.push(new AdvvisLens(range, { kind: 'action', action, modelPath, how }));
        };
        if (path.basename(document.uri.fsPath) === 'advvis.json') {
            const parsed = readAdvvisJson(text, path.dirname(document.uri.fsPath));
            for (const entry of parsed.models) {
                if (existsSync(entry.path)) actions(entry.line, entry.path, 'advvis.json');
                else lenses.push(new AdvvisLens(new vscode.Range(entry.line, 0, entry.line, 0), { kind: 'missing', name: `${entry.name ?? entry.path} (file not found)` }));
            }
            return lenses;
        }
        const definitions = findModels(text);
        if (!definitions.length) return [];
        const entries = await this.advvisEntries();
        const onnxFiles = (await vscode.workspace.findFiles('**/*.onnx', '**/{node_modules,.advvis}/**', 500, token)).map(uri => uri.fsPath);
        const root = vscode.workspace.getWorkspaceFolder(document.uri)?.uri.fsPath;
        for (const definition of definitions) {
            const match = mapToModel(document.uri.fsPath, definition, definitions, entries, onnxFiles, root, existsSync);
            if (match) actions(definition.line, match.modelPath, match.how);
            else lenses.push(new AdvvisLens(new vscode.Range(definition.line, 0, definition.line, 0), { kind: 'missing', name: definition.name }));
            const findings = match ? this.ctx.findings.forModel(match.modelPath) : undefined;
            if (!findings) continue;
            for (const layer of definition.layers) {
                const found = [...findings].find(([name]) => layerMatchesAttribute(name, layer.name));
                if (found) lenses.push(new AdvvisLens(new vscode.Range(layer.line, 0, layer.line, 0), { kind: 'finding', text: `AdvVis: ${found[1]}` }));
            }
        }
        return lenses;
    }

    resolveCodeLens(lens: AdvvisLens): AdvvisLens {
        const data = lens.data;
        if (data.kind === 'finding') {
            lens.command = { title: data.text, command: '' };
        } else if (data.kind === 'missing') {
            lens.command = { title: `AdvVis: no model file found for ${data.name}`, command: 'advvis.noModelFound', arguments: [data.name] };
        } else {
            const uri = vscode.Uri.file(data.modelPath);
            const tooltip = `${vscode.workspace.asRelativePath(uri)} (found through ${data.how})`;
            lens.command = data.action === 'architecture' ? { title: 'Architecture', command: 'advvis.openArchitecture', arguments: [uri], tooltip }
                : data.action === 'explain' ? { title: 'Explain attack', command: 'advvis.explainAttack', arguments: [undefined, { modelPath: data.modelPath }], tooltip }
                    : { title: 'Robustness report', command: 'advvis.robustnessReport', arguments: [uri], tooltip };
        }
        return lens;
    }

    private async advvisEntries(): Promise<AdvvisModelEntry[]> {
        const entries: AdvvisModelEntry[] = [];
        for (const uri of await vscode.workspace.findFiles('**/advvis.json', '**/node_modules/**', 20)) {
            entries.push(...(await readAdvvisJsonFile(uri.fsPath)).models);
        }
        return entries;
    }
}
