// Activation: build the Ctx, register the editor, commands and CodeLens. Nothing else happens here.
// Activation is implicit from contributed customEditors/commands, plus onLanguage:python and advvis.json for CodeLens.
import * as vscode from 'vscode';
import { Ctx } from './ctx';
import { OnnxEditorProvider, onnxViewType } from './editors/onnxEditor';
import { explainAttack } from './commands/explain';
import { robustnessReport } from './commands/report';
import { pickAttack, pickModel } from './commands/pickers';
import { ModelCodeLensProvider } from './codelens/provider';
import { describeAttack } from './config';
import { requireTrust } from './trust';
import type { AttackSpec } from './daemon/protocol';

let ctx: Ctx | undefined;

export function activate(context: vscode.ExtensionContext): { ctx: Ctx } {
    ctx = new Ctx(context);
    const c = ctx;
    // `feature` marks a command that computes on the workspace: refused in Restricted Mode before it asks anything.
    const command = (id: string, run: (...args: never[]) => unknown, feature?: string) =>
        vscode.commands.registerCommand(id, async (...args: never[]) => {
            try {
                if (feature) requireTrust(feature);
                await run(...args);
            } catch (error) {
                // VS Code shows nothing for a failing command: say it ourselves.
                c.showError(id, error);
            }
        });
    context.subscriptions.push(
        c,
        OnnxEditorProvider.register(c),
        ModelCodeLensProvider.register(c),
        command('advvis.explainAttack', (uri?: vscode.Uri, preset?: { modelPath?: string; attack?: AttackSpec }) =>
            explainAttack(c, uri instanceof vscode.Uri ? uri : undefined, preset), 'Explain Attack'),
        command('advvis.openArchitecture', async (uri?: vscode.Uri) => {
            const target = uri ?? (await pickModel(c).then(p => (p ? vscode.Uri.file(p) : undefined)));
            if (target) await vscode.commands.executeCommand('vscode.openWith', target, onnxViewType);
        }),
        command('advvis.robustnessReport', (uri?: vscode.Uri) => robustnessReport(c, uri?.fsPath), 'The robustness report'),
        command('advvis.openDataset', (uri?: vscode.Uri) => robustnessReport(c, undefined, uri?.fsPath, false), 'The Dataset View'),
        command('advvis.selectModel', async () => {
            const chosen = await pickModel(c, { force: true });
            if (chosen) void vscode.window.showInformationMessage(`AdvVis: using ${vscode.workspace.asRelativePath(chosen)}`);
        }),
        command('advvis.selectAttack', async () => {
            const attack = await pickAttack(c);
            if (attack) void vscode.window.showInformationMessage(`AdvVis: attack set to ${describeAttack(attack)}`);
        }),
        command('advvis.restartDaemon', () => c.restart(), 'Restarting the AdvVis daemon'),
        command('advvis.showLog', () => c.output.show()),
        command('advvis.noModelFound', (name: string) => vscode.window.showInformationMessage(
            `AdvVis found no ONNX file for ${name}. Add an entry to advvis.json ({"models": [{"path": "model.onnx", "source": "this_file.py", "class": "${name}"}]}), export with torch.onnx.export to a literal path, or name the file ${name.toLowerCase()}.onnx.`)),
    );
    return { ctx: c };
}

export async function deactivate(): Promise<void> {
    await ctx?.client.dispose();
}
