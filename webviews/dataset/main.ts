// Dataset View: image space (scatterplots, prediction matrix, image grid) and neuron space (vulnerability curves,
// receptive fields with a threshold slider, context images, cluster dendrogram with union / intersection), coordinated:
// a matrix cell or brush selects images; an image selects the neuron space's subject; a unit selects RFs. Wiring only.
import { connect, getState, rpc, showError, updateState } from '../shared/host';
import { exportButtons, toCsv } from '../shared/exporting';
import { toCurves, toDatasetImages, toDendrogram, imageUrl, type DendrogramLink } from '../shared/convert';
import { methodTitle, type DatasetBundle, type DatasetImage, type ImageSortOrder, type NeuronCurves } from '../shared/messages';
import type { NeuronsClusterResult, NeuronsRankResult, ReceptiveFieldsResult } from '../../vscode-advvis/src/daemon/protocol';
import { drawGrid, drawMatrix, drawScatter, sortImages } from './imageSpace';
import { combineMaskImages, drawCurves, drawDendrogram } from './neuronSpace';
import { drawRobustness } from './robustness';

const app = document.getElementById('app')!;
let bundle: DatasetBundle | null = null;
let images: DatasetImage[] = [];
let focused: DatasetImage | undefined;
let curves: NeuronCurves | null = null;
let cluster: { result: NeuronsClusterResult; links: DendrogramLink[] } | null = null;
let selectedUnit: number | undefined;
let selectedLink: DendrogramLink | undefined;
const notes = new Map<string, string>();

connect(message => {
    if (message.type === 'init' && message.view === 'dataset') { bundle = message.body; refresh(); }
    else if (message.type === 'update' && bundle) { bundle = { ...bundle, ...(message.body as Partial<DatasetBundle>) }; refresh(); }
    else if (message.type === 'error') showError(app, message.message);
});

function refresh(): void {
    images = toDatasetImages(bundle!);
    render();
}

function selection(): DatasetImage[] {
    const state = getState();
    if (state.selectedCell) return images.filter(image => image.trueLabel === state.selectedCell![0] && image.adversarialLabel === state.selectedCell![1]);
    if (state.selectedImages?.length) { const set = new Set(state.selectedImages); return images.filter(image => set.has(image.index)); }
    return images;
}

function render(): void {
    if (!bundle) return;
    const state = getState();
    app.replaceChildren();
    const result = bundle.attackResult;
    const header = document.createElement('div');
    header.className = 'advvis-note';
    header.textContent = result
        ? `${bundle.datasetPath}: ${result.count} images · clean accuracy ${(100 * result.cleanAccuracy).toFixed(1)}% · adversarial ${(100 * result.adversarialAccuracy).toFixed(1)}% · success rate ${(100 * result.successRate).toFixed(1)}%`
        : bundle.datasetPath;
    app.append(header);
    // The daemon's notes on the data (e.g. class folders it could not match to the model's classes): users must see them.
    for (const text of result?.warnings ?? []) {
        const warning = document.createElement('div');
        warning.className = 'advvis-warning';
        warning.setAttribute('role', 'alert');
        warning.textContent = text;
        app.append(warning);
    }
    for (const entry of bundle.missing) note(app, `${methodTitle(entry.method)}: ${entry.message}`);
    if (bundle.pending.length) note(app, `Computing: ${bundle.pending.map(methodTitle).join(', ')}…`);
    if (bundle.robustness) drawRobustness(app, bundle.robustness);
    else if (bundle.pending.includes('robustness/evaluate')) note(app, 'Robustness report: running the attack suite on every ε (see the notification for progress)…');
    const columns = document.createElement('div');
    columns.className = 'dataset-columns';
    const left = document.createElement('div'), right = document.createElement('div');
    columns.append(left, right);
    app.append(columns);
    const classes = Math.max(bundle.classNames.length, ...images.map(image => Math.max(image.trueLabel, image.adversarialLabel) + 1), 1);
    const selected = selection();
    const selectedSet = new Set(state.selectedCell || state.selectedImages?.length ? selected.map(image => image.index) : []);

    // Image space.
    const colorBy = state.colorBy ?? 'true';
    const scatterHead = heading(left, 'Data overview', exportButtons({ name: 'image-space', csv: () => toCsv(['index', 'source', 'true', 'benign', 'adversarial', 'l2', 'pBenign', 'pAdversarial'],
        images.map(i => [i.index, i.source, i.trueLabel, i.benignLabel, i.adversarialLabel, i.perturbationL2, i.benignProbability, i.adversarialProbability])), json: () => images }));
    const toggle = document.createElement('button');
    toggle.textContent = `colour: ${colorBy} label`;
    toggle.addEventListener('click', () => { updateState({ colorBy: colorBy === 'true' ? 'predicted' : 'true' }); render(); });
    scatterHead.append(toggle);
    const onBrush = (indices: number[]) => { updateState({ selectedImages: indices, selectedCell: null }); render(); };
    if (images.some(image => image.benignXY)) {
        const benign = svg(left), adversarial = svg(left);
        benign.id = 'scatter-benign'; adversarial.id = 'scatter-adversarial';
        drawScatter(benign, images, 'benign', colorBy, selectedSet, onBrush);
        drawScatter(adversarial, images, 'adversarial', colorBy, selectedSet, onBrush);
    } else if (!bundle.pending.includes('profiles/compute')) note(left, 'No 2-D profiles: the scatterplots need the activation profiles of this data set, which could not be computed (see the note above).');
    heading(left, 'Prediction matrix (rows: true, columns: adversarial)');
    const matrix = svg(left);
    matrix.id = 'matrix';
    drawMatrix(matrix, images, classes, state.selectedCell, cell => { updateState({ selectedCell: cell, selectedImages: [] }); render(); });
    const sortBar = heading(left, `Images (${selected.length})`);
    const sort = document.createElement('select');
    const orders: [ImageSortOrder, string][] = [['perturbationAsc', 'perturbation ↑'], ['perturbationDesc', 'perturbation ↓'], ['benignProbabilityDesc', 'benign-probability drop ↓'], ['adversarialProbabilityAsc', 'adversarial probability ↑']];
    for (const [value, label] of orders) { const option = document.createElement('option'); option.value = value; option.textContent = label; sort.append(option); }
    sort.value = state.sortOrder ?? 'perturbationAsc';
    sort.addEventListener('change', () => { updateState({ sortOrder: sort.value as ImageSortOrder }); render(); });
    sortBar.append(sort);
    const grid = document.createElement('div');
    grid.id = 'grid';
    left.append(grid);
    drawGrid(grid, sortImages(selected, state.sortOrder ?? 'perturbationAsc'), focused?.index, image => { focused = image; void loadNeuronSpace(); render(); });

    // Neuron space.
    heading(right, `Neuron vulnerability${curves ? ` (${curves.layer}, class ${curves.benignClass} → ${curves.adversarialClass})` : ''}`,
        curves ? exportButtons({ name: 'neuron-curves', csv: () => toCsv(['unit', 'benign', 'adversarial'], curves!.units.map((u, i) => [u, curves!.benign[i], curves!.adversarial[i]])) }) : undefined);
    for (const key of ['neurons/rank', 'neurons/cluster', 'unit/receptiveFields']) if (notes.has(key)) note(right, `${methodTitle(key)}: ${notes.get(key)}`);
    if (!focused) note(right, 'Select an image pair in the grid.');
    if (curves) drawCurves(svg(right), curves, selectedUnit, unit => { selectedUnit = unit; render(); void loadFields(); });
    heading(right, 'Receptive fields');
    const slider = document.createElement('input');
    slider.type = 'range'; slider.min = '0.05'; slider.max = '0.95'; slider.step = '0.05'; slider.value = String(state.threshold ?? 0.5); slider.id = 'threshold';
    slider.title = 'RF threshold';
    slider.addEventListener('change', () => { updateState({ threshold: Number(slider.value) }); void loadFields(); });
    right.append(slider);
    const fields = document.createElement('div');
    fields.id = 'fields';
    fields.className = 'fields';
    right.append(fields);
    heading(right, 'Neuron clusters');
    if (cluster) {
        drawDendrogram(svg(right), cluster.links, cluster.result.units.length, cluster.result.leafOrder, cluster.result.units, selectedLink?.id, link => { selectedLink = link; render(); void loadUnion(link); });
        const union = document.createElement('div');
        union.id = 'cluster-masks';
        union.className = 'fields';
        right.append(union);
    }
}

async function loadNeuronSpace(): Promise<void> {
    if (!bundle || !focused) return;
    const items = selection().filter(image => image.trueLabel === focused!.trueLabel && image.adversarialLabel === focused!.adversarialLabel).slice(0, 64).map(image => image.source);
    try {
        const rank = await rpc('neurons/rank', { model: bundle.model, items: { images: items }, attack: bundle.attack, benignClass: focused.benignLabel, adversarialClass: focused.adversarialLabel, topK: 64 });
        curves = toCurves(rank);
        notes.delete('neurons/rank');
        const result = await rpc('neurons/cluster', { model: bundle.model, layer: rank.layer, units: rank.units.map(unit => unit.unit), images: focused.adversarialPath ? [focused.source, focused.adversarialPath] : [focused.source] });
        cluster = { result, links: toDendrogram(result) };
        notes.delete('neurons/cluster');
    } catch (error) {
        notes.set(curves ? 'neurons/cluster' : 'neurons/rank', (error as Error).message);
    }
    render();
}

async function loadFields(): Promise<void> {
    if (!bundle || !focused || selectedUnit === undefined || !curves) return;
    const threshold = getState().threshold ?? 0.5;
    const subjects = [focused.source, focused.adversarialPath, ...selection().filter(image => image.index !== focused!.index).slice(0, 6).map(image => image.source)].filter((s): s is string => !!s);
    try {
        const results = await Promise.all(subjects.map(image => rpc('unit/receptiveFields', { model: bundle!.model, layer: curves!.layer, units: [selectedUnit!], image, threshold })));
        const box = document.getElementById('fields');
        box?.replaceChildren(...results.map((result, i) => {
            const img = document.createElement('img');
            img.src = imageUrl(result.fields[0]?.mask) ?? '';
            img.width = 64; img.height = 64;
            img.title = i === 0 ? 'benign' : i === 1 ? 'adversarial' : 'context image';
            img.dataset.role = img.title;
            return img;
        }));
        notes.delete('unit/receptiveFields');
    } catch (error) {
        notes.set('unit/receptiveFields', (error as Error).message);
        render();
    }
}

async function loadUnion(link: DendrogramLink): Promise<void> {
    if (!bundle || !focused || !curves) return;
    try {
        const result = await rpc('unit/receptiveFields', { model: bundle.model, layer: curves.layer, units: link.leaves, image: focused.source, threshold: getState().threshold ?? 0.5 });
        const urls = result.fields.map(field => imageUrl(field.mask)).filter((url): url is string => !!url);
        if (!urls.length) return;
        document.getElementById('cluster-masks')?.replaceChildren(await combineMaskImages(urls, 'union'), await combineMaskImages(urls, 'intersection'));
    } catch (error) {
        notes.set('unit/receptiveFields', (error as Error).message);
        render();
    }
}

function heading(parent: HTMLElement, text: string, extra?: HTMLElement): HTMLElement {
    const element = document.createElement('h2');
    element.textContent = text;
    if (extra) element.append(extra);
    parent.append(element);
    return element;
}

function svg(parent: HTMLElement): SVGSVGElement {
    const element = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    parent.append(element);
    return element;
}

function note(parent: HTMLElement, text: string): void {
    const element = document.createElement('div');
    element.className = 'advvis-note';
    element.textContent = text;
    parent.append(element);
}
