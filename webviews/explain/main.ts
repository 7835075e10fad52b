// Explanation panel: predictions before/after, Flow View with the diverging point, Layer View at that point, the most
// changed neurons with receptive fields, vulnerability maps, the attribution graph, and neuron editing.
// Wiring only; the views live in their own files. Parts arrive as the daemon finishes them (`update`).
import * as d3 from 'd3';
import { connect, getState, post, rpc, showError, updateState } from '../shared/host';
import { exportButtons, toCsv } from '../shared/exporting';
import { heatmapCanvas } from '../shared/heatmap';
import { toExplanation, toLayer } from '../shared/convert';
import { methodTitle, type Explanation, type ExplanationBundle, type Prediction } from '../shared/messages';
import type { LayerActivationMapsResult, LayerReduceResult, NeuronsEditResult } from '../../vscode-advvis/src/daemon/protocol';
import { drawFlow, flowSvgForExport } from './flowView';
import { drawLayer } from './layerView';
import { drawNeurons, neuronKey } from './neurons';
import { drawAttribution } from './attribution';

const app = document.getElementById('app')!;
let bundle: ExplanationBundle | null = null;
const editSet = new Set<string>(getState().selectedUnits?.map(String) ?? []);
let lastEdit: NeuronsEditResult | undefined;

connect(message => {
    switch (message.type) {
        case 'init':
            if (message.view !== 'explain') return;
            bundle = message.body;
            render();
            break;
        case 'update':
            if (!bundle) return;
            bundle = { ...bundle, ...(message.body as Partial<ExplanationBundle>) };
            render();
            break;
        case 'editResult':
            // Kept, not only written into the box: parts still arriving re-render the panel (and its edited-model banner).
            lastEdit = message.body;
            render();
            break;
        case 'error':
            showError(app, message.message);
            break;
    }
});

function render(): void {
    if (!bundle) return;
    const started = performance.now();
    const explanation = toExplanation(bundle);
    app.replaceChildren();
    if (!explanation) {
        showError(app, bundle.missing.map(entry => `${methodTitle(entry.method)}: ${entry.message}`).join('\n') || 'No explanation yet.');
        return;
    }
    header(explanation);
    for (const text of bundle.warnings ?? []) {
        const warning = document.createElement('div');
        warning.className = 'advvis-warning';
        warning.setAttribute('role', 'alert');
        warning.textContent = text;
        app.append(warning);
    }
    editedBanner();
    predictions(explanation);
    flow(explanation);
    layerSection(explanation);
    vulnerability(explanation);
    neurons(explanation);
    attribution(explanation);
    document.body.dataset.drawMs = (performance.now() - started).toFixed(1);
}

function section(title: string, id: string, exportBar?: HTMLElement): HTMLElement {
    const element = document.createElement('section');
    element.id = id;
    const heading = document.createElement('h2');
    heading.textContent = title;
    if (exportBar) heading.append(exportBar);
    element.append(heading);
    app.append(element);
    return element;
}

function note(parent: HTMLElement, text: string): void {
    const element = document.createElement('div');
    element.className = 'advvis-note';
    element.textContent = text;
    parent.append(element);
}

function missingNote(parent: HTMLElement, ...methods: string[]): boolean {
    const missing = bundle!.missing.filter(entry => methods.includes(entry.method));
    for (const entry of missing) note(parent, entry.message.includes(methodTitle(entry.method)) ? entry.message : `${methodTitle(entry.method)}: ${entry.message}`);
    const pending = bundle!.pending.filter(method => methods.includes(method));
    if (pending.length) note(parent, `Computing (${pending.join(', ')})…`);
    return missing.length > 0 || pending.length > 0;
}

function header(explanation: Explanation): void {
    const element = document.createElement('div');
    const attack = explanation.attack;
    element.className = 'advvis-note';
    element.textContent = `${explanation.imagePath} · ${explanation.modelPath} · ${attack.kind.toUpperCase()} ε=${attack.eps}${attack.steps ? `, ${attack.steps} steps` : ''}`
        + (explanation.linf !== undefined ? ` · L∞ ${explanation.linf.toFixed(3)}, L2 ${explanation.l2?.toFixed(3)}` : '');
    app.append(element);
}

function predictions(explanation: Explanation): void {
    const container = section('Predictions', 'predictions', exportButtons({ name: 'predictions', json: () => ({ benign: explanation.benign, adversarial: explanation.adversarial }) }));
    const row = document.createElement('div');
    row.className = 'predictions';
    const card = (title: string, prediction: Prediction, image: string | undefined, role: string) => {
        const element = document.createElement('div');
        element.className = 'prediction';
        element.dataset.role = role;
        if (image) { const img = document.createElement('img'); img.src = image; img.alt = title; element.append(img); }
        const label = document.createElement('div');
        label.className = 'label';
        label.textContent = `${title}: ${prediction.name} (${(100 * prediction.probability).toFixed(1)}%)`;
        element.append(label);
        for (const score of prediction.top) {
            const line = document.createElement('div');
            line.textContent = `${score.name} ${(100 * score.probability).toFixed(1)}%`;
            const bar = document.createElement('div');
            bar.className = 'bar';
            bar.style.width = `${Math.max(1, 120 * score.probability)}px`;
            line.append(bar);
            element.append(line);
        }
        row.append(element);
    };
    card('Benign', explanation.benign, explanation.benignImage, 'benign');
    card('Adversarial', explanation.adversarial, explanation.adversarialImage, 'adversarial');
    if (explanation.perturbationImage) {
        const element = document.createElement('div');
        element.className = 'prediction';
        const img = document.createElement('img');
        img.src = explanation.perturbationImage;
        const label = document.createElement('div');
        label.textContent = 'Perturbation (grey = 0)';
        element.append(img, label);
        row.append(element);
    }
    container.append(row);
}

function flow(explanation: Explanation): void {
    const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    const canvas = document.createElement('canvas');
    const data = explanation.flow;
    const container = section('Flow View', 'flow', exportButtons({
        name: 'flow-view', svg: () => (data ? flowSvgForExport(svg, canvas) : svg),
        csv: data ? () => toCsv(['item', 'label', ...data.layers], [
            ['benign', explanation.benign.label, ...data.benign], ['adversarial', explanation.adversarial.label, ...data.adversarial],
            ...data.background.map((row, i) => [`background ${i}`, data.backgroundLabels[i], ...row]),
        ]) : undefined,
        npy: data ? () => ({ values: data.background.flat(), shape: [data.background.length, data.layers.length] }) : undefined,
    }));
    const onSelectLayer = (layer: string) => selectLayer(layer);
    if (data) {
        const stack = document.createElement('div');
        stack.className = 'flow-stack';
        stack.append(canvas, svg);
        container.append(stack);
        const t0 = performance.now();
        drawFlow(svg, data, { canvas, width: Math.max(480, app.clientWidth - 24), height: 320, selectedLayer: getState().selectedLayers?.[0] ?? explanation.divergingLayer ?? undefined, onSelectLayer });
        svg.dataset.drawMs = (performance.now() - t0).toFixed(1);
        note(container, `${data.background.length} background images on aligned 1-D UMAP axes, coloured by class, with ${data.bundles.length} bundles (width ∝ images); solid: benign, dashed: adversarial; red: the diverging point. Click an axis for its Layer View.`);
        return;
    }
    missingNote(container, 'profiles/compute');
    // Without background profiles: the per-layer divergence scores of explain/run, diverging point in red.
    container.append(svg);
    const scores = explanation.divergence;
    const width = Math.max(480, app.clientWidth - 24), height = 180;
    const x = d3.scaleBand<string>().domain(scores.map(s => s.layer)).range([30, width - 10]).padding(0.2);
    const y = d3.scaleLinear().domain([0, d3.max(scores, s => s.score) || 1]).range([height - 40, 10]);
    const chart = d3.select(svg).attr('width', width).attr('height', height).attr('class', 'divergence');
    chart.selectAll('rect').data(scores).join('rect')
        .attr('class', s => (s.layer === explanation.divergingLayer ? 'diverging' : ''))
        .attr('data-layer', s => s.layer).attr('data-diverging', s => (s.layer === explanation.divergingLayer ? s.layer : null))
        .attr('x', s => x(s.layer)!).attr('width', x.bandwidth()).attr('y', s => y(s.score)).attr('height', s => y(0) - y(s.score))
        .on('click', (_, s) => onSelectLayer(s.layer))
        .append('title').text(s => `${s.layer}: score ${s.score.toFixed(3)}`);
    const labels = shortLayerNames(scores.map(s => s.layer), Math.max(6, Math.floor(x.bandwidth() / 7)));
    chart.selectAll('text.layer').data(scores).join('text').attr('class', 'layer').attr('x', s => x(s.layer)! + x.bandwidth() / 2).attr('y', height - 26)
        .attr('text-anchor', 'middle').text((_, i) => labels[i]);
    note(container, 'Distance between benign and adversarial activations per layer (diverging point in red). Click a bar for its Layer View.');
}

/** Layer names for narrow labels: the suffix they all share (e.g. "_Output_0") dropped, then cut to `max` characters. */
function shortLayerNames(names: string[], max: number): string[] {
    let common = names.length > 1 ? names[0] : '';
    for (const name of names) while (common && !name.endsWith(common)) common = common.slice(1);
    return names.map(name => {
        const short = common && name.length > common.length ? name.slice(0, name.length - common.length) : name;
        return short.length > max ? `${short.slice(0, max - 1)}…` : short;
    });
}

async function selectLayer(layer: string): Promise<void> {
    if (!bundle?.explain) return;
    updateState({ selectedLayers: [layer] });
    post({ type: 'selectLayers', layers: [layer] });
    const adversarialPath = bundle.explain.attack.adversarialPath;
    if (!adversarialPath) return;
    bundle = { ...bundle, pending: [...bundle.pending, 'layer/reduce'] };
    render();
    try {
        const reduce = await rpc('layer/reduce', { model: bundle.model, layer, items: { images: [bundle.imagePath, adversarialPath] }, reduction: 'difference', i: 1, j: 0, topK: 8 });
        let maps: LayerActivationMapsResult | undefined;
        try {
            maps = await rpc('layer/activationMaps', { model: bundle.model, layer, item: adversarialPath, units: reduce.top.map(t => t.unit), format: 'png' });
        } catch { /* maps are optional (dense layers have none) */ }
        bundle = { ...bundle, layer: reduce, maps, pending: bundle.pending.filter(m => m !== 'layer/reduce') };
    } catch (error) {
        const failure = error as Error & { code?: number };
        bundle = { ...bundle, pending: bundle.pending.filter(m => m !== 'layer/reduce'), missing: [...bundle.missing.filter(m => m.method !== 'layer/reduce'), { method: 'layer/reduce', message: failure.message }] };
    }
    render();
}

function layerSection(explanation: Explanation): void {
    const data = explanation.layer;
    let svg: SVGSVGElement | null = null;
    const container = section(`Layer View${data ? `: ${data.layer}` : ''}`, 'layer', data ? exportButtons({
        name: `layer-${data.layer}`, svg: () => svg, csv: () => toCsv(['unit', 'value'], data.values.map((v, i) => [i, v])),
        npy: () => ({ values: data.values, shape: [data.values.length] }),
    }) : undefined);
    if (missingNote(container, 'layer/reduce') && !data) return;
    if (!data) { note(container, 'Select a layer in the Flow View.'); return; }
    const body = document.createElement('div');
    container.append(body);
    const selected = new Set((getState().selectedUnits ?? []).map(Number));
    svg = drawLayer(body, data, selected, unit => {
        updateState({ selectedUnits: [unit] });
        post({ type: 'selectUnit', layer: data.layer, unit });
        render();
    });
}

function vulnerability(explanation: Explanation): void {
    const maps = explanation.vulnerabilityMaps;
    const container = section('Vulnerability maps', 'vulnerability', maps ? exportButtons({
        name: 'vulnerability-maps', json: () => maps, npy: () => ({ values: [...maps.benign.data, ...maps.adversarial.data], shape: [2, maps.benign.height, maps.benign.width] }),
    }) : undefined);
    if (missingNote(container, 'vulnerability/map') && !maps) return;
    if (!maps) return;
    const threshold = getState().threshold ?? 0.5;
    const row = document.createElement('div');
    row.className = 'fields';
    row.append(heatmapCanvas(maps.benign, 112, { tint: [55, 148, 255] }), heatmapCanvas(maps.adversarial, 112, { tint: [209, 134, 22] }),
        heatmapCanvas(maps.benign, 112, { threshold, tint: [55, 148, 255] }), heatmapCanvas(maps.adversarial, 112, { threshold, tint: [209, 134, 22] }));
    const slider = document.createElement('input');
    slider.type = 'range'; slider.min = '0'; slider.max = '1'; slider.step = '0.05'; slider.value = String(threshold);
    slider.addEventListener('change', () => { updateState({ threshold: Number(slider.value) }); render(); });
    container.append(row);
    note(container, 'Benign-probability drop (bMap) and adversarial-probability gain (aMap) when a region is swapped in from the adversarial image; right: binarised at the threshold.');
    container.append(slider);
}

function neurons(explanation: Explanation): void {
    const container = section(`Most changed neurons${explanation.neurons[0] ? ` (${explanation.neurons[0].layer})` : ''}`, 'neurons', exportButtons({
        name: 'neurons', csv: () => toCsv(['layer', 'unit', 'change'], explanation.neurons.map(n => [n.layer, n.unit, n.score])), json: () => explanation.neurons,
    }));
    missingNote(container, 'unit/receptiveFields', 'unit/visualize', 'neurons/rank');
    const ranked = explanation.ranked;
    if (ranked) {
        const line = document.createElement('div');
        line.className = 'advvis-note';
        line.id = 'ranked';
        line.dataset.units = String(ranked.units.length);
        line.textContent = `Most vulnerable units of ${ranked.layer} by band gap (neurons/rank over ${ranked.benignCount} background images of class ${ranked.benignClass} and ${ranked.adversarialCount} attacked into ${ranked.adversarialClass}): `
            + ranked.units.slice(0, 10).map(u => `${u.unit} (${u.bandGap.toFixed(2)})`).join(', ');
        container.append(line);
    }
    if (!explanation.neurons.length) { note(container, 'The daemon reported no changed units.'); return; }
    const table = document.createElement('div');
    container.append(table);
    drawNeurons(table, explanation.neurons, {
        maskOpacity: 0.6, selected: editSet, benignImage: explanation.benignImage, adversarialImage: explanation.adversarialImage,
        onToggle: (neuron, on) => { if (on) editSet.add(neuronKey(neuron)); else editSet.delete(neuronKey(neuron)); updateState({ selectedUnits: [...editSet] as unknown as number[] }); render(); },
        onFocus: neuron => post({ type: 'selectUnit', layer: neuron.layer, unit: neuron.unit }),
    });
    const edit = document.createElement('button');
    edit.className = 'primary';
    edit.id = 'delete-units';
    edit.textContent = `Delete ${editSet.size} selected unit(s) and re-run the attack`;
    edit.disabled = editSet.size === 0;
    edit.addEventListener('click', () => post({ type: 'editNeurons', deletions: deletions() }));
    const restore = document.createElement('button');
    restore.textContent = 'Restore the original model';
    restore.addEventListener('click', restoreOriginal);
    const result = document.createElement('div');
    result.id = 'edit-result';
    container.append(edit, restore, result);
    showEditResult();
}

/** The last neurons/edit answer, in the box under the edit buttons (if the neuron table is drawn); empty once restored. */
function showEditResult(): void {
    const box = document.getElementById('edit-result');
    if (!box) return;
    const result = lastEdit;
    if (!result || !result.unitsDeleted) { box.textContent = ''; delete box.dataset.units; return; }
    const rate = (value?: number) => (value === undefined ? 'n/a' : `${(100 * value).toFixed(1)}%`);
    const units = `${result.unitsDeleted} unit${result.unitsDeleted === 1 ? '' : 's'} deleted`;
    const labels = result.labelsPredicted ? ' (their labels: the original model\'s predictions)' : '';
    box.textContent = result.before && result.after
        ? `${units}. Measured on ${result.count} image${result.count === 1 ? '' : 's'}${labels}: attack success rate ${rate(result.before.successRate)} → ${rate(result.after.successRate)}; `
            + `${result.labelsPredicted ? 'agreement with the original predictions' : 'clean accuracy'} ${rate(result.before.cleanAccuracy)} → ${rate(result.after.cleanAccuracy)}.`
            + (result.count === 1 ? ' One image says little: put background images beside this one (16 or more) or name a data set in advvis.json.' : '')
        : `${units}.`;
    box.dataset.units = String(result.unitsDeleted);
    box.dataset.images = String(result.count);
}

/** Empties the deletion set in the daemon; the result text and the banner go at once. */
function restoreOriginal(): void {
    editSet.clear();
    lastEdit = undefined;
    updateState({ selectedUnits: [] });
    post({ type: 'editNeurons', deletions: [] });
    render();
}

/** While units are deleted, a banner at the top says so: the daemon's model is edited until it is restored. */
function editedBanner(): void {
    if (!lastEdit?.unitsDeleted) return;
    const banner = document.createElement('div');
    banner.className = 'advvis-warning';
    banner.id = 'edited-model';
    banner.setAttribute('role', 'status');
    const listed = lastEdit.edits.map(edit => `${edit.layer}: ${edit.units.join(', ')}`).join('; ');
    banner.textContent = `Edited model: ${lastEdit.unitsDeleted} unit${lastEdit.unitsDeleted === 1 ? '' : 's'} deleted (${listed}). `
        + 'Predictions made through AdvVis on this model use the edit until you restore it; the views in this panel show the original model.';
    const restore = document.createElement('button');
    restore.textContent = 'Restore the original model';
    restore.style.marginLeft = '8px';
    restore.addEventListener('click', restoreOriginal);
    banner.append(restore);
    app.append(banner);
}

function deletions(): { layer: string; units: number[] }[] {
    const byLayer = new Map<string, number[]>();
    for (const key of editSet) {
        const at = key.lastIndexOf('#');
        const layer = key.slice(0, at);
        byLayer.set(layer, [...(byLayer.get(layer) ?? []), Number(key.slice(at + 1))]);
    }
    return [...byLayer].map(([layer, units]) => ({ layer, units }));
}

function attribution(explanation: Explanation): void {
    const graph = explanation.attribution;
    const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    const container = section(`Attribution graph: ${explanation.benign.name} → ${explanation.adversarial.name}`, 'attribution', graph ? exportButtons({
        name: 'attribution-graph', svg: () => svg, json: () => graph,
    }) : undefined);
    if (missingNote(container, 'attribution/graph') && !graph) return;
    if (!graph) return;
    container.append(svg);
    drawAttribution(svg, graph, editSet, (node, additive) => {
        if (additive) {
            const key = `${node.layer}#${node.unit}`;
            if (editSet.has(key)) editSet.delete(key); else editSet.add(key);
            render();
        } else {
            post({ type: 'selectUnit', layer: node.layer, unit: node.unit });
        }
    });
    note(container, `${graph.imageCount} image(s) attacked (success ${(100 * graph.successRate).toFixed(0)}%). Orange: emphasized by the attack; blue: suppressed; grey: shared; hollow: inactive; edges by influence, coloured by the stronger side. Shift-click adds a unit to the deletion set.`);
}
