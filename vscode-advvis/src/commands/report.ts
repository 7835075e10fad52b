// "Robustness report": attack/run over the model's data set (advvis.json background, or a folder the user picks) with
// progress and Cancel, then the Dataset View. Numbers come from the daemon.
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Ctx } from '../ctx';
import { backgroundSize, describeAttack } from '../config';
import type { AttackRunResult, DatasetRef } from '../daemon/protocol';
import { currentAttack, modelEntry, pickModel } from './pickers';
import { DatasetPanel } from './datasetPanel';

export async function robustnessReport(ctx: Ctx, modelPathArg?: string, folder?: string): Promise<void> {
    const modelPath = modelPathArg ?? (await pickModel(ctx));
    if (!modelPath) return;
    const entry = await modelEntry(modelPath);
    let dataset: DatasetRef | undefined = folder ? { path: folder } : entry?.background ? { path: entry.background.path, labels: entry.background.labels } : undefined;
    if (!dataset) {
        const picked = await vscode.window.showOpenDialog({ canSelectFiles: true, canSelectFolders: true, canSelectMany: false, title: 'AdvVis: data set (image folder with one sub-folder per class, IDX, CIFAR .bin or .npz)' });
        if (!picked?.[0]) return;
        dataset = { path: picked[0].fsPath };
    }
    dataset = { ...dataset, limit: Math.min(backgroundSize(), dataset.limit ?? Infinity) };
    const attack = currentAttack(ctx);
    const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `AdvVis: ${describeAttack(attack)} on ${path.basename(dataset.path)}`, cancellable: true }, async (progress, token) => {
        const model = await ctx.request('model/open', { path: modelPath });
        let last = 0;
        const attackResult = await ctx.request('attack/run', { model: model.handle, items: { dataset }, attack, perImage: true, returnImages: true }, {
            token, onProgress: value => { progress.report({ message: value.message, increment: value.percentage !== undefined ? value.percentage - last : undefined }); last = value.percentage ?? last; },
        });
        return { model, attackResult: await ctx.inline(attackResult) };
    });
    void vscode.window.showInformationMessage(`AdvVis: ${path.basename(modelPath)} under ${describeAttack(attack)}: clean accuracy ${(100 * result.attackResult.cleanAccuracy).toFixed(1)}%, `
        + `adversarial accuracy ${(100 * result.attackResult.adversarialAccuracy).toFixed(1)}%, success rate ${(100 * result.attackResult.successRate).toFixed(1)}% over ${result.attackResult.count} images.`);
    await DatasetPanel.show(ctx, { modelPath, model: result.model.handle, datasetPath: dataset.path, attack, classNames: result.model.labels ?? [], attackResult: result.attackResult, missing: [], pending: [] }, dataset);
}
