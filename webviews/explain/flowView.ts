// Flow View (Activation Profiles §4.3): one vertical axis per selected layer, the daemon's aligned 1-D UMAP of that
// layer normalised to the background's [0, 1], so every axis shares one scale. Every background image is a faint
// polyline on a canvas under the SVG (one stroke per class); the daemon's bundles (lines grouped per axis pair, class,
// start and end bin) are drawn over them with widths ∝ their counts; the benign image and its adversarial twin go on top
// (solid and dashed); the diverging point (the layer into which the pair's relative distance rises most) is a red axis
// with a band from the previous one. Clicking an axis selects that layer.
import * as d3 from 'd3';
import type { FlowData } from '../shared/messages';
import { adversarialColor, benignColor, classColor, resolveColor } from '../shared/theme';

/** A copy of the Flow View's SVG with the background canvas embedded as an image, for SVG/PNG export. */
export function flowSvgForExport(svg: SVGSVGElement, canvas: HTMLCanvasElement): SVGSVGElement {
    const copy = svg.cloneNode(true) as SVGSVGElement;
    const image = document.createElementNS('http://www.w3.org/2000/svg', 'image');
    image.setAttribute('href', canvas.toDataURL('image/png'));
    image.setAttribute('width', canvas.style.width.replace('px', ''));
    image.setAttribute('height', canvas.style.height.replace('px', ''));
    copy.insertBefore(image, copy.firstChild);
    return copy;
}

export interface FlowOptions {
    /** Canvas stacked under the SVG for the background lines. */
    canvas: HTMLCanvasElement;
    width: number;
    height: number;
    selectedLayer?: string;
    onSelectLayer(layer: string, index: number): void;
}

export function drawFlow(svgElement: SVGSVGElement, flow: FlowData, options: FlowOptions): void {
    const margin = { top: 34, right: 16, bottom: 40, left: 16 };
    const svg = d3.select(svgElement);
    svg.selectAll('*').remove();
    svg.attr('width', options.width).attr('height', options.height).attr('viewBox', `0 0 ${options.width} ${options.height}`)
        .attr('data-layers', flow.layers.length).attr('data-bundles', flow.bundles.length);
    const layerCount = flow.layers.length;
    const x = d3.scalePoint<number>().domain(d3.range(layerCount)).range([margin.left + 50, options.width - margin.right - 50]);
    // Aligned axes: one scale for all, the background's [0, 1] widened to hold the foreground pair.
    let low = 0, high = 1;
    for (const v of [...flow.benign, ...flow.adversarial]) if (Number.isFinite(v)) { low = Math.min(low, v); high = Math.max(high, v); }
    const y = d3.scaleLinear().domain([low, high]).range([options.height - margin.bottom, margin.top]);
    const xs = flow.layers.map((_, layer) => x(layer)!);
    const polyline = (values: number[]) => {
        const points = values.map((v, layer) => (Number.isFinite(v) ? `${xs[layer].toFixed(1)},${y(v).toFixed(1)}` : null));
        return points.every(p => p) ? `M${points.join('L')}` : null;
    };
    const className = (label: number) => (label < 0 ? 'unlabelled' : flow.classNames[label] ?? `class ${label}`);

    if (flow.divergingLayer !== null && flow.divergingLayer > 0) {
        const right = xs[flow.divergingLayer], left = xs[flow.divergingLayer - 1];
        svg.append('rect').attr('class', 'diverging-band').attr('data-diverging', flow.layers[flow.divergingLayer])
            .attr('x', left).attr('y', margin.top - 8).attr('width', right - left).attr('height', options.height - margin.top - margin.bottom + 16)
            .append('title').text(`Diverging point: the benign and adversarial images' distance, relative to the background's spread, rises most from ${flow.layers[flow.divergingLayer - 1]} to ${flow.layers[flow.divergingLayer]}`);
    }

    // Background: drawn on a canvas under the SVG (thousands of translucent polylines rasterise far faster there),
    // one pass per label; the SVG keeps a record per label for tests and exports (see flowSvgForExport).
    const byLabel = [...d3.group(d3.range(flow.background.length), i => flow.backgroundLabels[i] ?? -1)].sort((a, b) => a[0] - b[0]);
    const opacity = Math.max(0.03, Math.min(0.35, 20 / Math.max(1, flow.background.length)));
    const canvas = options.canvas;
    const ratio = window.devicePixelRatio || 1;
    canvas.width = Math.round(options.width * ratio);
    canvas.height = Math.round(options.height * ratio);
    canvas.style.width = `${options.width}px`;
    canvas.style.height = `${options.height}px`;
    const context = canvas.getContext('2d')!;
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.clearRect(0, 0, options.width, options.height);
    context.globalAlpha = opacity;
    context.lineWidth = 1;
    for (const [label, rows] of byLabel) {
        context.strokeStyle = resolveColor(classColor(label));
        context.beginPath();
        for (const i of rows) {
            const values = flow.background[i];
            context.moveTo(xs[0], y(values[0]));
            for (let layer = 1; layer < values.length; layer++) context.lineTo(xs[layer], y(values[layer]));
        }
        context.stroke();
    }
    svg.append('g').attr('class', 'flow-background').attr('data-lines', flow.background.length)
        .selectAll('g').data(byLabel).join('g').attr('class', 'flow-background-label')
        .attr('data-label', ([label]) => label).attr('data-lines', ([, rows]) => rows.length);

    // Bundles: the daemon's groups of background lines between neighbouring axes, width ∝ member count.
    const maxCount = d3.max(flow.bundles, b => b.count) || 1;
    const bundlePath = (b: FlowData['bundles'][number]) => {
        const x1 = xs[b.pair], x2 = xs[b.pair + 1], m = (x1 + x2) / 2;
        return `M${x1.toFixed(1)},${y(b.from).toFixed(1)}C${m.toFixed(1)},${y(b.from).toFixed(1)} ${m.toFixed(1)},${y(b.to).toFixed(1)} ${x2.toFixed(1)},${y(b.to).toFixed(1)}`;
    };
    svg.append('g').attr('class', 'flow-bundles').attr('data-bundles', flow.bundles.length)
        .selectAll('path').data(flow.bundles.filter(b => b.pair + 1 < layerCount)).join('path')
        .attr('class', 'flow-bundle').attr('data-label', b => b.label).attr('data-count', b => b.count)
        .attr('d', bundlePath).attr('fill', 'none').attr('stroke', b => classColor(b.label)).attr('stroke-opacity', 0.35).attr('stroke-linecap', 'round')
        .attr('stroke-width', b => Math.max(1, 10 * Math.sqrt(b.count / maxCount)))
        .append('title').text(b => `${className(b.label)}: ${b.count} background images from ${b.from.toFixed(2)} to ${b.to.toFixed(2)}`);

    const axes = svg.append('g').selectAll('g').data(flow.layers).join('g')
        .attr('class', (_, i) => `flow-axis${i === flow.divergingLayer ? ' diverging' : ''}${flow.layers[i] === options.selectedLayer ? ' selected' : ''}`)
        .attr('data-layer', layer => layer)
        .attr('transform', (_, i) => `translate(${xs[i]},0)`)
        .on('click', (_, layer) => options.onSelectLayer(layer, flow.layers.indexOf(layer)));
    axes.append('rect').attr('x', -10).attr('y', margin.top).attr('width', 20).attr('height', options.height - margin.top - margin.bottom).attr('fill', 'transparent');
    axes.append('line').attr('y1', y(high)).attr('y2', y(low)).attr('pointer-events', 'none');
    axes.append('text').attr('y', options.height - margin.bottom + 14).attr('text-anchor', 'middle')
        .text(layer => (layer.length > 16 ? `…${layer.slice(-15)}` : layer))
        .attr('font-weight', layer => (layer === options.selectedLayer ? 'bold' : null));
    axes.append('text').attr('class', 'flow-score').attr('y', options.height - margin.bottom + 27).attr('text-anchor', 'middle')
        .text((_, i) => (Number.isFinite(flow.scores[i]?.score) ? `score ${flow.scores[i].score.toFixed(2)}` : ''));
    axes.append('title').text((layer, i) => {
        const score = flow.scores[i];
        const trust = flow.trustworthiness[i];
        return [`${layer}: click for the Layer View`,
            Number.isFinite(score?.score) ? `benign–adversarial distance / background spread: ${score.score.toFixed(3)}` : '',
            score?.profileDistance !== null && score?.profileDistance !== undefined ? `distance on this axis: ${score.profileDistance.toFixed(3)}` : '',
            trust !== null && trust !== undefined ? `trustworthiness: ${trust.toFixed(3)}` : ''].filter(Boolean).join('\n');
    });
    // Spearman alignment of neighbouring axes, between them at the top.
    svg.append('g').attr('class', 'flow-alignment').selectAll('text').data(flow.alignment.slice(0, Math.max(0, layerCount - 1))).join('text')
        .attr('x', (_, i) => (xs[i] + xs[i + 1]) / 2).attr('y', margin.top - 14).attr('text-anchor', 'middle').attr('font-size', 10)
        .text(rho => `ρ ${rho.toFixed(2)}`).append('title').text('Spearman correlation of the neighbouring axes\' orderings');

    const foreground = svg.append('g').attr('class', 'flow-foreground-group');
    const name = (label: number | null) => (label === null ? '' : ` (${className(label)})`);
    for (const [role, values, color, dash, label] of [['benign', flow.benign, benignColor, null, flow.benignClass], ['adversarial', flow.adversarial, adversarialColor, '6 3', flow.adversarialClass]] as const) {
        const d = polyline(values);
        if (!d) continue;
        foreground.append('path').attr('class', 'flow-foreground').attr('data-role', role).attr('stroke', color).attr('stroke-dasharray', dash).attr('d', d)
            .append('title').text(`${role} image${name(label)}`);
        foreground.append('g').attr('data-role', role).selectAll('circle').data(values).join('circle').attr('class', 'flow-foreground-point')
            .attr('cx', (_, i) => xs[i]).attr('cy', v => y(v)).attr('r', 3).attr('fill', color);
    }
    if (flow.divergingLayer !== null) {
        const i = flow.divergingLayer;
        svg.append('text').attr('class', 'diverging-label').attr('x', xs[i]).attr('y', margin.top - 24).attr('text-anchor', 'middle').attr('fill', 'var(--vscode-charts-red, #f14c4c)')
            .text('diverging point');
    }
    const legend = svg.append('g').attr('transform', `translate(${margin.left},${12})`);
    legend.append('text').text(`— benign${name(flow.benignClass)}`).style('fill', benignColor);
    legend.append('text').attr('x', 160).text(`- - adversarial${name(flow.adversarialClass)}`).style('fill', adversarialColor);
}
