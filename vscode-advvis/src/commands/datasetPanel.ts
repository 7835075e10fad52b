// The Dataset View panel (Li et al.'s image space and neuron space): gets the attack results over a data set, then a
// 2-D profile of the penultimate layer for the two scatterplots; the webview asks for neurons/rank, neurons/cluster
// and receptive fields through the relay as the user selects cells, images and neurons. A robustness report still
// running (robustness/evaluate) is shown as pending and posted into the view's robustness section when it arrives.
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Ctx } from '../ctx';
import { describeError } from '../daemon/errors';
import type { DatasetRef, MethodName, RobustnessEvaluateResult } from '../daemon/protocol';
import type { DatasetBundle } from '../../../webviews/shared/messages';
import { attachWebview, webviewOptions } from '../panels/webviewHost';

const datasetMethods: readonly MethodName[] = ['neurons/rank', 'neurons/cluster', 'unit/receptiveFields', 'layer/activationMaps', 'neurons/edit'];

export class DatasetPanel {
    static readonly viewType = 'advvis.dataset';

    static async show(ctx: Ctx, bundle: DatasetBundle, dataset: DatasetRef, robustness?: Promise<RobustnessEvaluateResult>): Promise<void> {
        const panel = vscode.window.createWebviewPanel(DatasetPanel.viewType, `Dataset: ${path.basename(bundle.datasetPath)}`, vscode.ViewColumn.Active, webviewOptions(ctx));
        const channel = attachWebview(ctx, panel.webview, 'dataset', panel.title, datasetMethods);
        panel.onDidDispose(() => channel.dispose());
        let current: DatasetBundle = { ...bundle, pending: robustness ? ['robustness/evaluate', 'profiles/compute'] : ['profiles/compute'] };
        let started = false;
        let ready = false;
        const without = (method: string) => current.pending.filter(m => m !== method);
        robustness?.then(
            result => { current = { ...current, robustness: result, pending: without('robustness/evaluate') }; },
            error => { current = { ...current, pending: without('robustness/evaluate'), missing: [...current.missing, { method: 'robustness/evaluate', message: describeError('robustness/evaluate', error) }] }; },
        ).then(() => { if (ready) void channel.post({ type: 'update', body: { robustness: current.robustness, pending: current.pending, missing: current.missing } }); });
        channel.onReady(async () => {
            await channel.post({ type: 'init', view: 'dataset', body: current });
            ready = true;
            if (started) return;
            started = true;
            try {
                const graph = await ctx.request('model/graph', { model: bundle.model });
                // Profiles are 1-D: the penultimate layer (input of the last weighted node) and the output give x and y.
                const lastWeighted = [...graph.nodes].reverse().find(node => node.category === 'connectedWeighted');
                const penultimate = lastWeighted?.inputs.find(input => graph.layers.includes(input)) ?? graph.layers[graph.layers.length - 2];
                const output = graph.layers[graph.layers.length - 1];
                const layers = penultimate && penultimate !== output ? [penultimate, output] : [output];
                const adversarial = (bundle.attackResult?.items ?? []).map(item => item.adversarialPath).filter((p): p is string => !!p);
                const profiles = await ctx.request('profiles/compute', { model: bundle.model, layers, background: { dataset }, foreground: adversarial, labelBy: 'true', seed: 42 }, { onProgress: () => undefined });
                current = { ...current, profiles: await ctx.inline(profiles) as DatasetBundle['profiles'], pending: without('profiles/compute') };
                await channel.post({ type: 'update', body: { profiles: current.profiles, pending: current.pending } });
            } catch (error) {
                current = { ...current, pending: without('profiles/compute'), missing: [...current.missing, { method: 'profiles/compute', message: describeError('profiles/compute', error) }] };
                await channel.post({ type: 'update', body: { pending: current.pending, missing: current.missing } });
            }
        });
    }
}
