// Neuron space (Li et al. §5.2): vulnerability curves with confidence bands (benign / adversarial class, units in the
// daemon's rank order), and the cluster dendrogram whose links select a group for RF union / intersection.
import * as d3 from 'd3';
import type { NeuronCurves } from '../shared/messages';
import type { DendrogramLink } from '../shared/convert';
import { adversarialColor, benignColor } from '../shared/theme';

export function drawCurves(svgElement: SVGSVGElement, curves: NeuronCurves, selectedUnit: number | undefined, onUnit: (unit: number) => void): void {
    const width = 520, height = 200, margin = 24;
    const n = curves.units.length;
    const x = d3.scaleLinear().domain([0, Math.max(1, n - 1)]).range([margin, width - margin]);
    const all = [...curves.benign, ...curves.adversarial, ...curves.benignBand.flat(), ...curves.adversarialBand.flat()].filter(Number.isFinite);
    const y = d3.scaleLinear().domain(d3.extent(all) as [number, number]).nice().range([height - margin, margin]);
    const svg = d3.select(svgElement).attr('width', width).attr('height', height).attr('data-units', n);
    svg.selectAll('*').remove();
    const band = d3.area<[number, number]>().x((_, i) => x(i)).y0(d => y(d[0])).y1(d => y(d[1]));
    const line = d3.line<number>().x((_, i) => x(i)).y(v => y(v));
    svg.append('path').attr('d', band(curves.benignBand)).attr('fill', benignColor).attr('fill-opacity', 0.2).attr('data-role', 'benign-band');
    svg.append('path').attr('d', band(curves.adversarialBand)).attr('fill', adversarialColor).attr('fill-opacity', 0.2).attr('data-role', 'adversarial-band');
    svg.append('path').attr('d', line(curves.benign)).attr('fill', 'none').attr('stroke', benignColor).attr('stroke-width', 1.5);
    svg.append('path').attr('d', line(curves.adversarial)).attr('fill', 'none').attr('stroke', adversarialColor).attr('stroke-width', 1.5);
    svg.append('g').attr('transform', `translate(0,${height - margin})`).call(d3.axisBottom(x).ticks(0));
    svg.append('g').selectAll('rect').data(curves.units).join('rect')
        .attr('x', (_, i) => x(i) - 3).attr('width', 6).attr('y', margin).attr('height', height - 2 * margin)
        .attr('fill', unit => (unit === selectedUnit ? 'var(--vscode-focusBorder)' : 'transparent')).attr('fill-opacity', 0.3).attr('data-unit', unit => unit)
        .on('click', (_, unit) => onUnit(unit))
        .append('title').text((unit, i) => `unit ${unit} (rank ${i + 1})`);
}

export function drawDendrogram(svgElement: SVGSVGElement, links: DendrogramLink[], leafCount: number, leafOrder: number[], units: number[],
    selected: number | undefined, onLink: (link: DendrogramLink) => void): void {
    const width = 520, height = 180, margin = 16;
    const leafX = new Map<number, number>();
    const x = d3.scalePoint<number>().domain(leafOrder).range([margin, width - margin]);
    leafOrder.forEach(leaf => leafX.set(leaf, x(leaf)!));
    const maxHeight = d3.max(links, link => link.height) || 1;
    const y = d3.scaleLinear().domain([0, maxHeight]).range([height - margin, margin]);
    const position = (id: number): [number, number] => (id < leafCount ? [leafX.get(id)!, y(0)] : [nodeX.get(id)!, y(links[id - leafCount].height)]);
    const nodeX = new Map<number, number>();
    for (const link of links) nodeX.set(link.id, (position(link.left)[0] + position(link.right)[0]) / 2);
    const svg = d3.select(svgElement).attr('width', width).attr('height', height).attr('class', 'dendrogram').attr('data-links', links.length);
    svg.selectAll('*').remove();
    svg.selectAll('path').data(links).join('path')
        .attr('d', link => { const [lx, ly] = position(link.left), [rx, ry] = position(link.right), h = y(link.height); return `M${lx},${ly}V${h}H${rx}V${ry}`; })
        .classed('selected', link => link.id === selected)
        .on('click', (_, link) => onLink(link))
        .append('title').text(link => `${link.leaves.length} units (distance ${link.height.toFixed(3)}): click for union / intersection of their RFs`);
    svg.append('g').selectAll('text').data(leafOrder.length <= 40 ? leafOrder : []).join('text').attr('x', leaf => leafX.get(leaf)!).attr('y', height - 2).attr('text-anchor', 'middle').text(leaf => units[leaf]);
}

/** Union or intersection of binary mask PNGs (alpha or brightness > 0), drawn into a canvas. */
export async function combineMaskImages(urls: string[], mode: 'union' | 'intersection'): Promise<HTMLCanvasElement> {
    const images = await Promise.all(urls.map(async url => { const img = new Image(); img.src = url; await img.decode(); return img; }));
    const width = images[0]?.naturalWidth ?? 1, height = images[0]?.naturalHeight ?? 1;
    const canvas = document.createElement('canvas');
    canvas.width = width; canvas.height = height;
    const context = canvas.getContext('2d')!;
    const result = new Uint8Array(width * height).fill(mode === 'union' ? 0 : 1);
    for (const img of images) {
        context.clearRect(0, 0, width, height);
        context.drawImage(img, 0, 0, width, height);
        const data = context.getImageData(0, 0, width, height).data;
        for (let i = 0; i < result.length; i++) {
            const on = data[4 * i + 3] > 0 && data[4 * i] + data[4 * i + 1] + data[4 * i + 2] > 0 ? 1 : 0;
            result[i] = mode === 'union' ? Math.max(result[i], on) : Math.min(result[i], on);
        }
    }
    const out = context.createImageData(width, height);
    for (let i = 0; i < result.length; i++) { out.data[4 * i] = out.data[4 * i + 1] = out.data[4 * i + 2] = 255 * result[i]; out.data[4 * i + 3] = 255; }
    context.putImageData(out, 0, 0);
    canvas.style.width = '96px';
    canvas.style.imageRendering = 'pixelated';
    canvas.dataset.mode = mode;
    return canvas;
}
