// "Robustness report" (and, without the suite, "Open Dataset View"): asks the norm and the ε list (filled in with the
// standard budget model/open lists for the model's input; emptied: the daemon chooses it), runs
// attack/run (the current attack, for the image space) over the model's data set (advvis.json background, or a folder
// the user picks) with progress and Cancel, opens the Dataset View, and runs robustness/evaluate (the AutoAttack suite)
// into its robustness section, again with progress and Cancel. Numbers come from the daemon.
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Ctx } from '../ctx';
import { backgroundSize, describeAttack } from '../config';
import type { AttackNorm, DatasetRef, ModelInfo, RobustnessEvaluateParams, RobustnessEvaluateResult } from '../daemon/protocol';
import { formatEps } from '../../../webviews/shared/messages';
import { currentAttack, modelEntry, pickModel } from './pickers';
import { DatasetPanel } from './datasetPanel';

export interface RobustnessBudget { norm: AttackNorm; eps?: number[] }

/** Parses "8/255, 0.05" into numbers; an empty text means the daemon's standard budget. Throws naming the bad entry. */
export function parseEpsList(text: string): number[] | undefined {
    const parts = text.split(',').map(part => part.trim()).filter(Boolean);
    if (!parts.length) return undefined;
    return parts.map(part => {
        const fraction = /^([\d.]+)\s*\/\s*([\d.]+)$/.exec(part);
        const value = fraction ? Number(fraction[1]) / Number(fraction[2]) : Number(part);
        if (!Number.isFinite(value) || value <= 0) throw new Error(`'${part}' is not a budget: give positive numbers such as 0.03 or 8/255, separated by commas.`);
        return value;
    });
}

/** Norm (quick pick) and ε list (input box), filled in with the standard budget the daemon lists for the model's input
 * (`ModelInfo.standardBudgets`); an emptied box sends no ε, so the daemon chooses. */
export async function pickRobustnessBudget(model: ModelInfo): Promise<RobustnessBudget | undefined> {
    const standard = new Map((model.standardBudgets ?? []).map(budget => [budget.norm, budget.eps] as const));
    const norms: { label: string; norm: AttackNorm; attacks: string }[] = [
        { label: 'L∞', norm: 'linf', attacks: 'APGD-CE, APGD-T, FAB-T, Square' },
        { label: 'L2', norm: 'l2', attacks: 'APGD-CE, APGD-T, FAB-T, Square' },
        { label: 'L1', norm: 'l1', attacks: 'APGD-CE, APGD-T, FAB-T (Square has no L1 version)' },
    ];
    const items = norms.map(n => ({ ...n, description: standard.has(n.norm) ? `standard budget ε = ${formatEps(standard.get(n.norm)!)}` : 'no standard budget for this input', detail: `AutoAttack standard suite: ${n.attacks}` }));
    const picked = await vscode.window.showQuickPick(items, { title: 'AdvVis robustness report: norm of the perturbation budget' });
    if (!picked) return undefined;
    const fallback = standard.get(picked.norm);
    const text = await vscode.window.showInputBox({
        title: `AdvVis robustness report: ${picked.label} budgets ε (pixel values in [0, 1])`,
        prompt: `Comma-separated, e.g. ${fallback !== undefined ? `${formatEps(fallback / 2)}, ${formatEps(fallback)}, ${formatEps(2 * fallback)}` : '0.01, 0.03, 0.1'}; fractions such as 8/255 work.`
            + (fallback !== undefined ? ` Filled in: the standard ${picked.label} budget for this model's input.` : ' This input has no standard budget: give at least one.'),
        value: fallback !== undefined ? formatEps(fallback) : '',
        validateInput: value => {
            try { return parseEpsList(value) || fallback !== undefined ? undefined : 'Give at least one ε: this input has no standard budget.'; } catch (error) { return (error as Error).message; }
        },
    });
    if (text === undefined) return undefined;
    return { norm: picked.norm, eps: parseEpsList(text) };
}

/** `suite` false (Open Dataset View): the image space only, no robustness/evaluate and no budget prompts. */
export async function robustnessReport(ctx: Ctx, modelPathArg?: string, folder?: string, suite = true): Promise<void> {
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
    // The picker has opened the model already, so this is quick; its input shape gives the standard budgets.
    const model = await ctx.request('model/open', { path: modelPath });
    const budget = suite ? await pickRobustnessBudget(model) : undefined;
    if (suite && !budget) return;
    const attack = currentAttack(ctx);
    const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `AdvVis: ${describeAttack(attack)} on ${path.basename(dataset.path)}`, cancellable: true }, async (progress, token) => {
        let last = 0;
        const attackResult = await ctx.request('attack/run', { model: model.handle, items: { dataset }, attack, perImage: true, returnImages: true }, {
            token, onProgress: value => { progress.report({ message: value.message, increment: value.percentage !== undefined ? value.percentage - last : undefined }); last = value.percentage ?? last; },
        });
        return { model, attackResult: await ctx.inline(attackResult) };
    });
    const robustness = budget && evaluateRobustness(ctx, { model: result.model.handle, items: { dataset }, norm: budget.norm, ...(budget.eps ? { eps: budget.eps } : {}), version: 'standard', seed: 0 }, path.basename(dataset.path));
    await DatasetPanel.show(ctx, { modelPath, model: result.model.handle, datasetPath: dataset.path, attack, classNames: result.model.labels ?? [], attackResult: result.attackResult, missing: [], pending: [] }, dataset, robustness);
    if (!robustness) {
        void vscode.window.showInformationMessage(`AdvVis: ${path.basename(modelPath)} under ${describeAttack(attack)}: clean accuracy ${(100 * result.attackResult.cleanAccuracy).toFixed(1)}%, `
            + `adversarial accuracy ${(100 * result.attackResult.adversarialAccuracy).toFixed(1)}%, success rate ${(100 * result.attackResult.successRate).toFixed(1)}% over ${result.attackResult.count} images.`);
        return;
    }
    const report = await robustness.catch(() => undefined);
    if (report) void vscode.window.showInformationMessage(`AdvVis: ${path.basename(modelPath)}, ${report.version} suite (${report.norm}): `
        + report.results.map(at => `ε ${formatEps(at.eps)}: clean ${(100 * at.cleanAccuracy).toFixed(1)}%, robust ${(100 * at.robustAccuracy).toFixed(1)}%`).join('; ') + ` over ${report.results[0]?.count ?? 0} images.`);
}

/** robustness/evaluate under its own cancellable progress notification (the suite takes minutes on real data). */
function evaluateRobustness(ctx: Ctx, params: RobustnessEvaluateParams, datasetName: string): Promise<RobustnessEvaluateResult> {
    return Promise.resolve(vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `AdvVis: robustness report (AutoAttack ${params.version}, ${params.norm}) on ${datasetName}`, cancellable: true }, async (progress, token) => {
        let last = 0;
        return ctx.request('robustness/evaluate', params, {
            token, onProgress: value => { progress.report({ message: value.message, increment: value.percentage !== undefined ? Math.max(0, value.percentage - last) : undefined }); last = Math.max(last, value.percentage ?? last); },
        });
    }));
}
