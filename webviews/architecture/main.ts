// Architecture View webview (custom editor for *.onnx): wiring only. The graph arrives in `init`; collapsed blocks and
// selected layers survive hide/show through setState.
import { drawArchitecture } from './view';
import { connect, getState, post, showError, updateState } from '../shared/host';
import { exportButtons } from '../shared/exporting';
import type { ModelGraph } from '../shared/messages';
import { toModelGraph } from '../shared/convert';

const app = document.getElementById('app')!;
let graph: ModelGraph | null = null;
let findings: Record<string, string> | undefined;

connect(message => {
    if (message.type === 'init' && message.view === 'architecture') {
        if (message.body.restricted) {
            graph = null;
            app.replaceChildren(restrictedNotice());
            return;
        }
        if (message.body.error || !message.body.graph) {
            app.replaceChildren();
            showError(app, message.body.error ?? 'The daemon returned no graph for this model.');
            return;
        }
        const converted = toModelGraph(message.body.modelPath, message.body.graph, message.body.model);
        graph = converted;
        findings = message.body.findings;
        const state = getState();
        // First view of a large model: the daemon's suggested overview (its blocks of defaultCollapseDepth collapsed).
        if (!state.collapsed) updateState({ collapsed: converted.nodes.length > 40 ? overview(converted) : [] });
        render();
    } else if (message.type === 'error') {
        showError(app, message.message);
    }
});

function render(): void {
    if (!graph) return;
    const started = performance.now();
    const state = getState();
    app.replaceChildren();
    const toolbar = document.createElement('div');
    toolbar.className = 'toolbar';
    const title = document.createElement('strong');
    title.textContent = `${graph.modelName}: ${graph.nodes.length} nodes, ${graph.parameterCount.toLocaleString()} parameters`;
    const legend = document.createElement('span');
    legend.className = 'advvis-note';
    legend.textContent = 'grey: no parameters · blue: weighted (conv, dense) · red: other trainable · click a block to collapse or expand, a node to select its layer';
    const expand = button('Expand all', () => { updateState({ collapsed: [] }); render(); });
    const collapse = button('Collapse all', () => { updateState({ collapsed: graph!.blocks.filter(block => !block.parentId).map(block => block.id) }); render(); });
    const overviewButton = button('Overview', () => { updateState({ collapsed: overview(graph!) }); render(); });
    overviewButton.title = `Collapse the blocks of depth ${graph.defaultCollapseDepth} (the daemon's suggestion for a readable overview)`;
    const spacer = document.createElement('span');
    spacer.className = 'spacer';
    const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    toolbar.append(title, expand, collapse, overviewButton, spacer, exportButtons({
        name: `${graph.modelName}-architecture`,
        svg: () => svg,
        json: () => graph,
        csv: () => ['index,name,opType,category,parameters,output', ...graph!.nodes.map(node => [node.index, node.name, node.opType, node.category, node.parameterCount, node.outputs[0] ?? ''].join(','))].join('\n') + '\n',
    }));
    app.append(toolbar, legend);
    if (graph.shapeError) showError(app, `Output shapes are not shown: ${graph.shapeError}`);
    if (graph.unsupportedOps.length) showError(app, `Operators AdvVis cannot run yet: ${graph.unsupportedOps.join(', ')}. The graph is shown; analyses through them will fail.`);
    app.append(svg);
    drawArchitecture(svg, graph, { collapsed: new Set(state.collapsed ?? []), selectedLayers: new Set(state.selectedLayers ?? []), findings }, {
        onToggleBlock: id => {
            const collapsed = new Set(getState().collapsed ?? []);
            if (collapsed.has(id)) collapsed.delete(id); else collapsed.add(id);
            updateState({ collapsed: [...collapsed] });
            render();
        },
        onToggleNode: (_item, layer) => {
            const selected = new Set(getState().selectedLayers ?? []);
            if (selected.has(layer)) selected.delete(layer); else selected.add(layer);
            updateState({ selectedLayers: [...selected] });
            post({ type: 'selectLayers', layers: [...selected] });
            render();
        },
    });
    document.body.dataset.drawMs = (performance.now() - started).toFixed(1);
}

/** Restricted Mode: no graph (reading one runs the daemon on the workspace's file), a reason and a way to trust. */
function restrictedNotice(): HTMLElement {
    const box = document.createElement('div');
    box.className = 'advvis-restricted';
    const title = document.createElement('strong');
    title.textContent = 'Restricted Mode';
    const text = document.createElement('p');
    text.textContent = 'AdvVis shows a model only in a trusted workspace: reading its architecture runs the AdvVis daemon on a file of this workspace. '
        + 'Trust the workspace and the graph appears here.';
    box.append(title, text, button('Manage Workspace Trust', () => post({ type: 'manageTrust' })));
    return box;
}

function button(text: string, onClick: () => void): HTMLButtonElement {
    const element = document.createElement('button');
    element.textContent = text;
    element.addEventListener('click', onClick);
    return element;
}

/** The blocks the daemon suggests collapsing for an overview (depth defaultCollapseDepth); top-level ones if none. */
function overview(model: ModelGraph): string[] {
    const atDepth = model.blocks.filter(block => block.depth === model.defaultCollapseDepth);
    return (atDepth.length ? atDepth : model.blocks.filter(block => !block.parentId)).map(block => block.id);
}
