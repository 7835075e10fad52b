// "AdvVis: Explain Attack" on an image: pick/remember model and attack, run explain/run with progress and Cancel in
// the notification area, open the explanation panel, then fill in the other views one daemon call at a time
// (each part that the daemon lacks is named in the panel instead). The host forwards results; it computes nothing.
import { readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Ctx } from '../ctx';
import { backgroundSize, describeAttack } from '../config';
import { DaemonError } from '../daemon/client';
import { describeError, isCancelled, isMissingMethod } from '../daemon/errors';
import type { AttackSpec, ExplainRunResult, ItemsRef, MethodName, NeuronsEditResult, ParamsOf } from '../daemon/protocol';
import { methodTitle, type ExplanationBundle, type WebviewMessage } from '../../../webviews/shared/messages';
import { attachWebview, webviewOptions, type WebviewChannel } from '../panels/webviewHost';
import { currentAttack, modelEntry, pickModel } from './pickers';
import { applyPart, attackFailure, explanationParts, type ExplanationPart } from './explainParts';

export const imageExtensions = ['.png', '.jpg', '.jpeg', '.bmp', '.ppm', '.pgm', '.npy'];
const panelMethods: readonly MethodName[] = ['layer/reduce', 'layer/activationMaps', 'unit/receptiveFields', 'unit/connections', 'unit/visualize', 'neurons/rank'];

export async function explainAttack(ctx: Ctx, uri?: vscode.Uri, preset?: { modelPath?: string; attack?: AttackSpec }): Promise<void> {
    const image = uri?.fsPath ?? (await pickImage());
    if (!image) return;
    const modelPath = preset?.modelPath ?? (await pickModel(ctx));
    if (!modelPath) return;
    const attack = preset?.attack ?? currentAttack(ctx);
    const title = `AdvVis: ${describeAttack(attack)} on ${path.basename(image)} with the model ${path.basename(modelPath)}`;
    let bundle: ExplanationBundle | undefined;
    try {
        bundle = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, async (progress, token) => {
            let last = 0;
            const onProgress = (value: { message?: string; percentage?: number; title?: string }) => {
                const increment = value.percentage !== undefined ? Math.max(0, value.percentage - last) : undefined;
                if (value.percentage !== undefined) last = value.percentage;
                progress.report({ message: value.message ?? value.title, increment });
            };
            progress.report({ message: `opening ${path.basename(modelPath)}` });
            const model = await ctx.request('model/open', { path: modelPath });
            const explain = await runExplain(ctx, model.handle, modelPath, image, attack, token, onProgress);
            return { imagePath: image, modelPath, model: model.handle, attack, explain, missing: explain.missing, pending: [] } as ExplanationBundle;
        });
    } catch (error) {
        ctx.showError('explain/run', error);
        return;
    }
    if (!bundle?.explain) return;
    ctx.findings.record(modelPath, bundle.explain);
    await ExplanationPanel.show(ctx, bundle);
}

/** explain/run; if this daemon lacks it, attack/run still gives the predictions before and after. */
async function runExplain(ctx: Ctx, model: string, modelPath: string, image: string, attack: AttackSpec, token: vscode.CancellationToken,
    onProgress: (value: { message?: string; percentage?: number }) => void): Promise<ExplainRunResult & { missing: ExplanationBundle['missing'] }> {
    const entry = await modelEntry(modelPath);
    try {
        const result = await ctx.request('explain/run', { model, image, attack, topUnits: 10, background: entry?.background ? { path: entry.background.path, labels: entry.background.labels, limit: backgroundSize() } : undefined }, { token, onProgress });
        return { ...(await ctx.inline(result)), missing: [] };
    } catch (error) {
        if (!isMissingMethod(error)) throw error;
        const attackResult = await ctx.inline(await ctx.request('attack/run', { model, items: { images: [image] }, attack, perImage: true, returnImages: true }, { token, onProgress })) as { items?: ExplainRunResult['attack'][] };
        const item = attackResult.items?.[0];
        if (!item) throw new DaemonError('attack/run', 'attack/run returned no item.');
        return { benign: item.benign, adversarial: item.adversarial, attack: item, layers: [], fromCache: false, missing: [{ method: 'explain/run', message: describeError('explain/run', error) }] };
    }
}

async function pickImage(): Promise<string | undefined> {
    const picked = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { Images: imageExtensions.map(ext => ext.slice(1)) }, title: 'AdvVis: image to attack' });
    return picked?.[0]?.fsPath;
}

const shownImageTypes: Record<string, string> = { '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.bmp': 'image/bmp' };
const maxShownImageBytes = 16 << 20;

/**
 * The image the user chose, as a data: URI: webviews may not load workspace files. Something that is not a regular
 * file once links are followed (a link to /dev/zero or a FIFO) or is over 16 MiB is not shown.
 */
export async function imageDataUri(file: string): Promise<string | undefined> {
    const type = shownImageTypes[path.extname(file).toLowerCase()];
    if (!type) return undefined;
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile() || info.size > maxShownImageBytes) return undefined;
    const bytes = await readFile(file).catch(() => undefined);
    return bytes ? `data:${type};base64,${bytes.toString('base64')}` : undefined;
}

/** The explanation webview panel: one per model and image; a webview reloaded (hidden and shown again) gets the bundle and the last edit result again. */
export class ExplanationPanel {
    static readonly viewType = 'advvis.explanation';
    private static readonly panels = new Map<string, ExplanationPanel>();
    private readonly channel: WebviewChannel;

    static async show(ctx: Ctx, bundle: ExplanationBundle): Promise<ExplanationPanel> {
        const key = `${bundle.modelPath}|${bundle.imagePath}`;
        ExplanationPanel.panels.get(key)?.panel.dispose();
        bundle.imageUri = await imageDataUri(bundle.imagePath);
        const panel = vscode.window.createWebviewPanel(ExplanationPanel.viewType, `Explain: ${path.basename(bundle.imagePath)}`, vscode.ViewColumn.Active, { ...webviewOptions(ctx), enableScripts: true });
        const instance = new ExplanationPanel(ctx, panel, bundle);
        ExplanationPanel.panels.set(key, instance);
        panel.onDidDispose(() => { if (ExplanationPanel.panels.get(key) === instance) ExplanationPanel.panels.delete(key); });
        return instance;
    }

    private constructor(private readonly ctx: Ctx, readonly panel: vscode.WebviewPanel, private bundle: ExplanationBundle) {
        this.channel = attachWebview(ctx, panel.webview, 'explain', panel.title, panelMethods, message => void this.onMessage(message));
        panel.onDidDispose(() => { this.disposed = true; this.cancel.cancel(); this.cancel.dispose(); this.channel.dispose(); });
        this.channel.onReady(() => void this.onReady());
    }

    private planned?: Promise<ExplanationPart[]>;
    private lastEdit?: NeuronsEditResult;

    /**
     * The webview (re)loaded: send it the bundle, and the first time start the parts. The parts are planned before the
     * first `init`, so the panel never shows a moment in which nothing is pending yet (it would look complete).
     */
    private async onReady(): Promise<void> {
        const first = !this.planned;
        this.planned ??= this.planParts();
        const runnable = await this.planned;
        if (this.disposed) return;
        void this.channel.post({ type: 'init', view: 'explain', body: this.bundle });
        if (this.lastEdit) void this.channel.post({ type: 'editResult', body: this.lastEdit });
        if (first) await this.loadParts(runnable);
    }

    private disposed = false;
    private readonly cancel = new vscode.CancellationTokenSource();

    private update(patch: Partial<ExplanationBundle>): void {
        this.bundle = { ...this.bundle, ...patch };
        if (!this.disposed) void this.channel.post({ type: 'update', body: patch });
    }

    /** Which parts to request (marked pending in the bundle) and which are skipped, with why (marked missing). */
    private async planParts(): Promise<ExplanationPart[]> {
        const b = this.bundle;
        let background: ItemsRef | undefined;
        try {
            background = await this.background();
        } catch (error) {
            // An unreadable folder or advvis.json costs the Flow View (its part says there is no background), not the panel.
            this.ctx.output.warn(`background images for ${b.imagePath}: ${(error as Error).message}`);
        }
        const parts = explanationParts(b, background);
        const runnable = parts.filter(part => !part.skip);
        const failure = attackFailure(b);
        this.bundle = { ...b, pending: [...new Set(runnable.map(part => part.method))], missing: [...b.missing, ...parts.filter(part => part.skip).map(part => ({ method: part.method, message: part.skip! }))],
            ...(failure ? { warnings: [...(b.warnings ?? []), failure] } : {}) };
        return runnable;
    }

    /** The views after explain/run: Flow View profiles, Layer View at the diverging point, RFs, vulnerability maps, attribution graph. */
    private async loadParts(runnable: ExplanationPart[]): Promise<void> {
        await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'AdvVis: computing the views', cancellable: true }, async (progress, token) => {
            token.onCancellationRequested(() => this.cancel.cancel());
            for (const [index, part] of runnable.entries()) {
                if (this.disposed || this.cancel.token.isCancellationRequested) break;
                // The daemon's $/progress moves the bar within this part's share; what it did not report is added at the end.
                const share = partProgress(partTitle(part.method), 100 / runnable.length, value => progress.report(value));
                try {
                    const result = await this.call(part.method, part.params, share.onProgress);
                    share.finish();
                    const next = applyPart(this.bundle, part, result);
                    this.update({ [part.key]: next[part.key], pending: this.pendingAfter(runnable, index) });
                } catch (error) {
                    share.finish();
                    if (!isMissingMethod(error) && !isCancelled(error)) this.ctx.output.warn(`${part.method}: ${(error as Error).message}`);
                    this.update({ pending: this.pendingAfter(runnable, index), missing: [...this.bundle.missing.filter(m => m.method !== part.method), { method: part.method, message: describeError(part.method, error) }] });
                }
            }
            if (this.cancel.token.isCancellationRequested) this.update({ pending: [], missing: [...this.bundle.missing, ...this.bundle.pending.map(method => ({ method, message: 'cancelled' }))] });
        });
    }

    private pendingAfter(parts: { method: MethodName }[], index: number): string[] {
        return [...new Set(parts.slice(index + 1).map(part => part.method))];
    }

    private async call<M extends MethodName>(method: M, params: ParamsOf<M>, onProgress: (value: { message?: string; percentage?: number }) => void): Promise<unknown> {
        return this.ctx.inline(await this.ctx.request(method, params, { token: this.cancel.token, onProgress }));
    }

    /** Background for the Flow View: the model's advvis.json data set, else the images beside this one. */
    private async background(): Promise<ItemsRef | undefined> {
        const entry = await modelEntry(this.bundle.modelPath);
        const limit = backgroundSize();
        if (entry?.background) return { dataset: { path: entry.background.path, labels: entry.background.labels, limit } };
        const folder = path.dirname(this.bundle.imagePath);
        const siblings = (await vscode.workspace.fs.readDirectory(vscode.Uri.file(folder)))
            .filter(([name, type]) => type === vscode.FileType.File && imageExtensions.includes(path.extname(name).toLowerCase()) && path.join(folder, name) !== this.bundle.imagePath)
            .map(([name]) => path.join(folder, name)).slice(0, limit);
        // UMAP needs more items than its 15 neighbours; fewer images beside this one give no Flow View (the panel says why).
        return siblings.length >= 16 ? { images: siblings } : undefined;
    }

    private async onMessage(message: WebviewMessage): Promise<void> {
        if (message.type !== 'editNeurons') return;
        const b = this.bundle;
        try {
            // Measured on the background images when there are any (one image says nothing), else on this one.
            const background = message.deletions.length ? await this.background().catch(() => undefined) : undefined;
            const items = editMeasureItems(b.imagePath, b.explain?.benign.class, background);
            const title = message.deletions.length ? 'AdvVis: deleting units and re-running the attack' : 'AdvVis: restoring the original model';
            const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: false },
                () => this.ctx.request('neurons/edit', { model: b.model, deletions: message.deletions, ...(message.deletions.length ? { items, attack: b.attack } : {}) }, { onProgress: () => undefined }));
            // Kept for a reloaded webview (it gets the result again after its init).
            this.lastEdit = result;
            void this.channel.post({ type: 'editResult', body: result });
        } catch (error) {
            this.ctx.showError('neurons/edit', error);
            void this.channel.post({ type: 'error', message: describeError('neurons/edit', error) });
        }
    }
}

/** What each part is called in the progress notification (not the method name). */
export const partTitle = (method: MethodName): string => methodTitle(method);

/**
 * One part's share of the panel's progress bar: the daemon's percentages (0–100 within the part) become increments of
 * at most `share` in total, never backwards; `finish` adds what is left, so the bar ends where the part ends.
 */
export function partProgress(title: string, share: number, report: (value: { message?: string; increment?: number }) => void):
    { onProgress: (value: { message?: string; percentage?: number }) => void; finish: () => void } {
    let done = 0;
    report({ message: title });
    const advance = (to: number, message?: string) => {
        const increment = Math.max(0, Math.min(share, to) - done);
        done += increment;
        report({ message: message ? `${title}: ${message}` : title, ...(increment > 0 ? { increment } : {}) });
    };
    return {
        onProgress: value => advance(value.percentage !== undefined ? share * value.percentage / 100 : done, value.message),
        finish: () => { if (done < share) advance(share); },
    };
}

/** At most this many images re-attacked to measure a neuron edit (the attack runs again on each). */
export const editMeasureLimit = 64;

/**
 * The images a neuron edit is measured on: the background data set (its labels) or the images beside this one
 * (no labels: the daemon measures against the original model's predictions), else this image alone, labelled with
 * its benign prediction (the class the attack moves it away from) when its true label is unknown.
 */
export function editMeasureItems(imagePath: string, benignClass: number | undefined, background: ItemsRef | undefined): ItemsRef {
    if (background?.dataset) return { dataset: { ...background.dataset, limit: Math.min(background.dataset.limit ?? editMeasureLimit, editMeasureLimit) } };
    if (background?.images?.length) return { images: [imagePath, ...background.images.filter(image => image !== imagePath)].slice(0, editMeasureLimit) };
    return { images: [imagePath], ...(benignClass !== undefined ? { labels: [benignClass] } : {}) };
}
