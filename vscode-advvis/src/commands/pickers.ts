// Choosing the model and the attack, remembered per workspace. Candidates: advvis.json entries, then every *.onnx in
// the workspace, each checked by the daemon (a model it cannot run is marked and never pre-selected). With one usable
// candidate and nothing remembered, it is used without asking; a remembered model is named when it is reused.
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Ctx } from '../ctx';
import type { AttackSpec } from '../daemon/protocol';
import { defaultAttack, describeAttack } from '../config';
import { readAdvvisJsonFile, type AdvvisModelEntry } from '../codelens/advvisJson';
import { describeError } from '../daemon/errors';
import { RestrictedModeError } from '../trust';

const modelKey = 'advvis.lastModel';
const attackKey = 'advvis.lastAttack';

export async function workspaceModels(): Promise<{ path: string; entry?: AdvvisModelEntry }[]> {
    const found = new Map<string, AdvvisModelEntry | undefined>();
    for (const config of await vscode.workspace.findFiles('**/advvis.json', '**/node_modules/**', 20)) {
        const parsed = await readAdvvisJsonFile(config.fsPath);
        for (const entry of parsed.models) found.set(entry.path, entry);
    }
    for (const file of await vscode.workspace.findFiles('**/*.onnx', '**/{node_modules,.advvis}/**', 200)) if (!found.has(file.fsPath)) found.set(file.fsPath, undefined);
    return [...found].map(([modelPath, entry]) => ({ path: modelPath, entry }));
}

export async function modelEntry(modelPath: string): Promise<AdvvisModelEntry | undefined> {
    return (await workspaceModels()).find(candidate => candidate.path === modelPath)?.entry;
}

/**
 * Why the daemon cannot run a model, in words, or undefined when it can: the file does not parse (a truncated
 * download), it uses operators AdvVis lacks, or it does not take one image. Opening it is the daemon's own check.
 */
export async function modelProblem(ctx: Ctx, modelPath: string): Promise<string | undefined> {
    try {
        const info = await ctx.request('model/open', { path: modelPath });
        if (info.unsupported.length) return `uses operators AdvVis cannot run yet (${[...new Set(info.unsupported.map(op => op.opType))].join(', ')})`;
        if (!info.preprocessing) return 'does not take one image of a fixed size';
        return undefined;
    } catch (error) {
        if (error instanceof RestrictedModeError) throw error;
        return `cannot be read: ${describeError('model/open', error)}`;
    }
}

/**
 * The remembered model, the only one, or the user's pick; undefined if cancelled or none exists. A model the daemon
 * cannot run is never chosen without asking: the pick lists it last, marked with why; the model used is named.
 */
export async function pickModel(ctx: Ctx, options: { force?: boolean } = {}): Promise<string | undefined> {
    const remembered = ctx.extension.workspaceState.get<string>(modelKey);
    const candidates = await workspaceModels();
    const name = (modelPath: string) => candidates.find(c => c.path === modelPath)?.entry?.name ?? path.basename(modelPath);
    if (!options.force && remembered && candidates.some(candidate => candidate.path === remembered) && !(await modelProblem(ctx, remembered))) {
        void vscode.window.showInformationMessage(`AdvVis: using the model ${name(remembered)} (remembered for this workspace; "AdvVis: Select Model" changes it).`);
        return remembered;
    }
    if (!candidates.length) {
        const choice = await vscode.window.showWarningMessage('AdvVis: no .onnx model in this workspace. Pick a model file?', 'Browse…');
        if (choice !== 'Browse…') return undefined;
        const picked = await vscode.window.showOpenDialog({ filters: { 'ONNX model': ['onnx'] }, canSelectMany: false });
        if (!picked?.[0]) return undefined;
        await ctx.extension.workspaceState.update(modelKey, picked[0].fsPath);
        return picked[0].fsPath;
    }
    const problems = new Map<string, string | undefined>();
    await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'AdvVis: checking which models can run' }, async () => {
        for (const candidate of candidates) problems.set(candidate.path, await modelProblem(ctx, candidate.path));
    });
    const usable = candidates.filter(candidate => !problems.get(candidate.path));
    let chosen = usable[0]?.path;
    if (candidates.length > 1 || options.force || !chosen) {
        // Usable models first, so the pre-selected (first) entry is one that runs.
        const items = [...usable, ...candidates.filter(candidate => problems.get(candidate.path))].map(candidate => {
            const problem = problems.get(candidate.path);
            return {
                label: `${problem ? '$(warning) ' : ''}${candidate.entry?.name ?? path.basename(candidate.path)}`,
                description: vscode.workspace.asRelativePath(candidate.path), detail: problem ? `Cannot be used: it ${problem}.` : undefined,
                modelPath: candidate.path, problem,
            };
        });
        const item = await vscode.window.showQuickPick(items, { title: 'AdvVis: which model?', placeHolder: 'The choice is remembered for this workspace (AdvVis: Select Model changes it)' });
        if (!item) return undefined;
        if (item.problem) {
            void vscode.window.showErrorMessage(`AdvVis: ${name(item.modelPath)} cannot be used: it ${item.problem}.`);
            return undefined;
        }
        chosen = item.modelPath;
    }
    await ctx.extension.workspaceState.update(modelKey, chosen);
    return chosen;
}

export function currentAttack(ctx: Ctx): AttackSpec {
    return ctx.extension.workspaceState.get<AttackSpec>(attackKey) ?? defaultAttack();
}

/**
 * The L∞ budget standard for the remembered model's domain (model/open's `standardBudgets`: MNIST-like 0.3,
 * CIFAR-sized 8/255, ImageNet-sized 4/255), or undefined when no model is remembered or the daemon cannot say.
 */
async function domainBudget(ctx: Ctx): Promise<number | undefined> {
    const modelPath = ctx.extension.workspaceState.get<string>(modelKey);
    if (!modelPath) return undefined;
    try {
        const info = await ctx.request('model/open', { path: modelPath });
        return info.standardBudgets?.find(budget => budget.norm === 'linf')?.eps;
    } catch {
        return undefined; // Restricted Mode or an unreadable model: choosing an attack still works, at the settings' ε
    }
}

const shortEps = (eps: number) => String(Number(eps.toPrecision(3)));

export async function pickAttack(ctx: Ctx): Promise<AttackSpec | undefined> {
    const base = defaultAttack();
    // The gradient and AutoAttack presets use the model's domain budget when the daemon knows it, else the settings'.
    const domain = await domainBudget(ctx);
    const eps = domain ?? base.eps;
    const budget = domain !== undefined ? `ε=${shortEps(eps)} (the model's standard L∞ budget)` : `ε=${shortEps(eps)}`;
    const presets: { label: string; attack: AttackSpec }[] = [
        { label: `Settings default: ${describeAttack(base)}`, attack: base },
        { label: 'FGSM ε=0.1', attack: { kind: 'fgsm', eps: 0.1, seed: 0 } },
        { label: 'FGSM ε=0.3', attack: { kind: 'fgsm', eps: 0.3, seed: 0 } },
        { label: 'PGD ε=0.1, 40 steps of 0.01', attack: { kind: 'pgd', eps: 0.1, alpha: 0.01, steps: 40, seed: 0 } },
        { label: 'PGD ε=0.3, 100 steps of 0.075 (Activation Profiles paper)', attack: { kind: 'pgd', eps: 0.3, alpha: 0.075, steps: 100, seed: 0 } },
        { label: 'Carlini–Wagner L2', attack: { kind: 'cw', eps: 1, norm: 'l2', steps: 100, seed: 0 } },
        { label: 'DeepFool', attack: { kind: 'deepfool', eps: 1, steps: 50, seed: 0 } },
        // The names and defaults of torchattacks and AutoAttack, at the domain's (or the settings') budget: α = ε/4, 10 steps.
        { label: `PGD ${budget}, 40 steps of ε/4`, attack: { kind: 'pgd', eps, alpha: eps / 4, steps: 40, seed: 0 } },
        { label: `BIM ${budget}, 10 steps`, attack: { kind: 'bim', eps, alpha: eps / 4, steps: 10, seed: 0 } },
        { label: `MI-FGSM ${budget}, 10 steps, decay 1`, attack: { kind: 'miFgsm', eps, alpha: eps / 4, steps: 10, seed: 0 } },
        { label: `TPGD (TRADES KL) ${budget}, 10 steps`, attack: { kind: 'tpgd', eps, alpha: eps / 4, steps: 10, seed: 0 } },
        { label: `EOT-PGD ${budget}, 10 steps × 2 passes`, attack: { kind: 'eotPgd', eps, alpha: eps / 4, steps: 10, seed: 0 } },
        { label: `APGD-CE ${budget}, 100 iterations`, attack: { kind: 'apgdCe', eps, steps: 100, seed: 0 } },
        { label: `APGD-T ${budget}, 9 targets × 100 iterations`, attack: { kind: 'apgdT', eps, steps: 100, seed: 0 } },
        { label: `FAB-T ${budget}, 9 targets × 100 iterations`, attack: { kind: 'fabT', eps, steps: 100, seed: 0 } },
        { label: `Square Attack ${budget}, 5000 queries (no gradients)`, attack: { kind: 'square', eps, steps: 5000, seed: 0 } },
        { label: 'One-pixel attack (differential evolution, 1 pixel)', attack: { kind: 'onePixel', eps: 1, steps: 10, seed: 0 } },
    ];
    const item = await vscode.window.showQuickPick(presets, { title: 'AdvVis: attack', placeHolder: `Current: ${describeAttack(currentAttack(ctx))}` });
    if (!item) return undefined;
    await ctx.extension.workspaceState.update(attackKey, item.attack);
    return item.attack;
}
