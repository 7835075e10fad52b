// Top vulnerable neurons (Li et al. §5.2): rank, score, activations before/after, each neuron's receptive field on
// the benign and adversarial image (masks from unit/receptiveFields, opacity from the slider), its activation-maximisation
// image (unit/visualize) and its band gap (neurons/rank). Checkboxes pick units for neuron editing.
import type { VulnerableNeuron } from '../shared/messages';

export interface NeuronTableOptions {
    maskOpacity: number;
    selected: Set<string>;
    benignImage?: string;
    adversarialImage?: string;
    onToggle(neuron: VulnerableNeuron, on: boolean): void;
    onFocus(neuron: VulnerableNeuron): void;
}

export const neuronKey = (neuron: { layer: string; unit: number }) => `${neuron.layer}#${neuron.unit}`;

export function drawNeurons(container: HTMLElement, neurons: VulnerableNeuron[], options: NeuronTableOptions): void {
    container.replaceChildren();
    const table = document.createElement('table');
    table.className = 'neurons';
    table.innerHTML = '<thead><tr><th></th><th>#</th><th>layer / unit</th><th>change</th><th></th><th>receptive fields (benign, adversarial)</th><th>feature visualization</th><th>band gap</th></tr></thead>';
    const body = document.createElement('tbody');
    neurons.forEach((neuron, rank) => {
        const row = document.createElement('tr');
        row.dataset.neuron = neuronKey(neuron);
        if (options.selected.has(neuronKey(neuron))) row.classList.add('selected');
        const check = document.createElement('input');
        check.type = 'checkbox';
        check.checked = options.selected.has(neuronKey(neuron));
        check.title = 'Select for neuron editing';
        check.addEventListener('change', () => options.onToggle(neuron, check.checked));
        const cells = [check, text(String(rank + 1)), text(`${neuron.layer} / ${neuron.unit}`), text(neuron.score.toFixed(3)),
            text(Number.isFinite(neuron.benignActivation) ? `${neuron.benignActivation.toFixed(3)} → ${neuron.adversarialActivation.toFixed(3)}` : ''), fields(neuron, options), visualization(neuron),
            text(neuron.bandGap !== undefined ? neuron.bandGap.toFixed(3) : '')];
        for (const cell of cells) { const td = document.createElement('td'); td.append(cell); row.append(td); }
        row.addEventListener('click', event => { if (event.target !== check) options.onFocus(neuron); });
        body.append(row);
    });
    table.append(body);
    container.append(table);
}

function fields(neuron: VulnerableNeuron, options: NeuronTableOptions): HTMLElement {
    const box = document.createElement('div');
    box.className = 'fields';
    const add = (mask: string | undefined, image: string | undefined, role: string) => {
        if (!mask) return;
        const holder = document.createElement('div');
        holder.className = 'field';
        holder.dataset.role = role;
        if (image) {
            const img = document.createElement('img');
            img.src = image;
            img.className = 'under';
            holder.append(img);
        }
        const overlay = document.createElement('img');
        overlay.src = mask;
        overlay.className = 'mask';
        overlay.style.opacity = String(options.maskOpacity);
        holder.append(overlay);
        box.append(holder);
    };
    add(neuron.benignField, options.benignImage, 'benign');
    add(neuron.adversarialField, options.adversarialImage, 'adversarial');
    if (!box.childElementCount) box.append(text('—'));
    return box;
}

/** The unit's activation-maximisation image (unit/visualize), activation before → after in the title. */
function visualization(neuron: VulnerableNeuron): HTMLElement {
    const visual = neuron.visualization;
    if (!visual) return text('');
    const img = document.createElement('img');
    img.src = visual.image;
    img.className = 'visualization';
    img.width = 56; img.height = 56;
    img.style.imageRendering = 'pixelated';
    img.title = `What maximises ${visual.layer} unit ${visual.unit}: mean activation ${visual.startActivation.toFixed(3)} → ${visual.activation.toFixed(3)}`;
    img.dataset.unit = String(visual.unit);
    return img;
}

function text(value: string): HTMLElement {
    const span = document.createElement('span');
    span.textContent = value;
    return span;
}
