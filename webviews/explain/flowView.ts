// Flow View (Activation Profiles §4.3): one vertical axis per selected layer, every image a polyline through its
// 1-D activation profile at each axis. Background lines go to a canvas under the SVG, one stroke per label; the benign and adversarial images are drawn on top; the diverging point reported by the
// daemon is marked with a band between the two axes and a red axis. Clicking an axis selects that layer.
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
    const margin = { top: 28, right: 16, bottom: 36, left: 16 };
    const svg = d3.select(svgElement);
    svg.selectAll('*').remove();
    svg.attr('width', options.width).attr('height', options.height).attr('viewBox', `0 0 ${options.width} ${options.height}`);
    const layerCount = flow.layers.length;
    const x = d3.scalePoint<number>().domain(d3.range(layerCount)).range([margin.left + 40, options.width - margin.right - 40]);

    // Per-axis scale over background and foreground values (profiles of different layers are not comparable).
    const scales = flow.layers.map((_, layer) => {
        let low = Math.min(flow.benign[layer], flow.adversarial[layer]), high = Math.max(flow.benign[layer], flow.adversarial[layer]);
        for (const row of flow.background) { const v = row[layer]; if (v < low) low = v; if (v > high) high = v; }
        if (!(high > low)) { low -= 1; high += 1; }
        return d3.scaleLinear().domain([low, high]).range([options.height - margin.bottom, margin.top]);
    });
    const point = (values: number[], layer: number) => `${x(layer)!.toFixed(1)},${scales[layer](values[layer]).toFixed(1)}`;
    const polyline = (values: number[]) => `M${values.map((_, layer) => point(values, layer)).join('L')}`;

    if (flow.divergingLayer !== null && flow.divergingLayer > 0) {
        const right = x(flow.divergingLayer)!, left = x(flow.divergingLayer - 1)!;
        svg.append('rect').attr('class', 'diverging-band').attr('data-diverging', flow.layers[flow.divergingLayer])
            .attr('x', left).attr('y', margin.top - 8).attr('width', right - left).attr('height', options.height - margin.top - margin.bottom + 16)
            .append('title').text(`Diverging point: the benign and adversarial images split between ${flow.layers[flow.divergingLayer - 1]} and ${flow.layers[flow.divergingLayer]}`);
    }

    // Background: drawn on a canvas under the SVG (thousands of translucent polylines rasterise far faster there),
    // one pass per label; the SVG keeps a record per label for tests and exports (see flowSvgForExport).
    const byLabel = [...d3.group(d3.range(flow.background.length), i => flow.backgroundLabels[i] ?? -1)].sort((a, b) => a[0] - b[0]);
    const opacity = Math.max(0.04, Math.min(0.5, 30 / Math.max(1, flow.background.length)));
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
    const xs = flow.layers.map((_, layer) => x(layer)!);
    for (const [label, rows] of byLabel) {
        context.strokeStyle = resolveColor(classColor(label));
        context.beginPath();
        for (const i of rows) {
            const values = flow.background[i];
            context.moveTo(xs[0], scales[0](values[0]));
            for (let layer = 1; layer < values.length; layer++) context.lineTo(xs[layer], scales[layer](values[layer]));
        }
        context.stroke();
    }
    svg.append('g').attr('class', 'flow-background').attr('data-lines', flow.background.length)
        .selectAll('g').data(byLabel).join('g').attr('class', 'flow-background-label')
        .attr('data-label', ([label]) => label).attr('data-lines', ([, rows]) => rows.length);

    const axes = svg.append('g').selectAll('g').data(flow.layers).join('g')
        .attr('class', (_, i) => `flow-axis${i === flow.divergingLayer ? ' diverging' : ''}${flow.layers[i] === options.selectedLayer ? ' selected' : ''}`)
        .attr('data-layer', layer => layer)
        .attr('transform', (_, i) => `translate(${x(i)},0)`)
        .on('click', (_, layer) => options.onSelectLayer(layer, flow.layers.indexOf(layer)));
    axes.append('rect').attr('x', -10).attr('y', margin.top).attr('width', 20).attr('height', options.height - margin.top - margin.bottom).attr('fill', 'transparent');
    axes.append('line').attr('y1', margin.top).attr('y2', options.height - margin.bottom);
    axes.append('text').attr('y', options.height - margin.bottom + 14).attr('text-anchor', 'middle')
        .text(layer => (layer.length > 16 ? `…${layer.slice(-15)}` : layer))
        .attr('font-weight', layer => (layer === options.selectedLayer ? 'bold' : null));
    axes.append('title').text(layer => `${layer}: click for the Layer View`);

    const foreground = svg.append('g').attr('class', 'flow-foreground-group');
    foreground.append('path').attr('class', 'flow-foreground').attr('data-role', 'benign').attr('stroke', benignColor).attr('d', polyline(flow.benign));
    foreground.append('path').attr('class', 'flow-foreground').attr('data-role', 'adversarial').attr('stroke', adversarialColor).attr('stroke-dasharray', '6 3').attr('d', polyline(flow.adversarial));
    if (flow.divergingLayer !== null) {
        const i = flow.divergingLayer;
        svg.append('text').attr('class', 'diverging-label').attr('x', x(i)!).attr('y', margin.top - 12).attr('text-anchor', 'middle').attr('fill', 'var(--vscode-charts-red, #f14c4c)')
            .text('diverging point');
    }
    const legend = svg.append('g').attr('transform', `translate(${margin.left},${12})`);
    legend.append('text').text('— benign').attr('fill', benignColor).style('fill', benignColor);
    legend.append('text').attr('x', 70).text('- - adversarial').style('fill', adversarialColor);
}
