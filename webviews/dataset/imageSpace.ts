// Image space (Li et al. §5.1): two scatterplots (benign, adversarial) of the penultimate layer's 2-D profile coloured
// by true or predicted label with a brush, the prediction matrix (true × adversarial label), and the image grid of
// the selection with the four sort orders. Selections update the other views through the callbacks.
import * as d3 from 'd3';
import type { DatasetImage, ImageSortOrder } from '../shared/messages';
import { classColor } from '../shared/theme';

export function drawScatter(svgElement: SVGSVGElement, images: DatasetImage[], which: 'benign' | 'adversarial', colorBy: 'true' | 'predicted',
    selected: Set<number>, onBrush: (indices: number[]) => void): void {
    const size = 260, pad = 10;
    const points = images.filter(image => (which === 'benign' ? image.benignXY : image.adversarialXY));
    const xy = (image: DatasetImage) => (which === 'benign' ? image.benignXY : image.adversarialXY)!;
    const x = d3.scaleLinear().domain(d3.extent(points, p => xy(p)[0]) as [number, number]).nice().range([pad, size - pad]);
    const y = d3.scaleLinear().domain(d3.extent(points, p => xy(p)[1]) as [number, number]).nice().range([size - pad, pad]);
    const svg = d3.select(svgElement).attr('width', size).attr('height', size).attr('data-points', points.length);
    svg.selectAll('*').remove();
    const label = (image: DatasetImage) => (colorBy === 'true' ? image.trueLabel : which === 'benign' ? image.benignLabel : image.adversarialLabel);
    svg.append('g').selectAll('circle').data(points).join('circle')
        .attr('class', p => `point${selected.size && !selected.has(p.index) ? ' dimmed' : ''}${selected.has(p.index) ? ' selected' : ''}`)
        .attr('cx', p => x(xy(p)[0])).attr('cy', p => y(xy(p)[1])).attr('r', 3).attr('fill', p => classColor(label(p)))
        .append('title').text(p => `#${p.index}: true ${p.trueLabel}, benign → ${p.benignLabel}, adversarial → ${p.adversarialLabel}`);
    svg.append('g').call(d3.brush<unknown>().extent([[0, 0], [size, size]]).on('end', event => {
        if (!event.selection) return;
        const [[x0, y0], [x1, y1]] = event.selection as [[number, number], [number, number]];
        onBrush(points.filter(p => { const px = x(xy(p)[0]), py = y(xy(p)[1]); return px >= x0 && px <= x1 && py >= y0 && py <= y1; }).map(p => p.index));
    }));
}

export function drawMatrix(svgElement: SVGSVGElement, images: DatasetImage[], classes: number, selectedCell: [number, number] | null | undefined,
    onCell: (cell: [number, number]) => void): void {
    const cell = Math.max(12, Math.min(26, Math.floor(260 / Math.max(1, classes)))), margin = 22;
    const counts = d3.range(classes).map(() => new Array<number>(classes).fill(0));
    for (const image of images) if (image.trueLabel < classes && image.adversarialLabel < classes) counts[image.trueLabel][image.adversarialLabel]++;
    const max = d3.max(counts.flat()) || 1;
    const svg = d3.select(svgElement).attr('class', 'matrix').attr('width', margin + classes * cell).attr('height', margin + classes * cell);
    svg.selectAll('*').remove();
    const cells = counts.flatMap((row, t) => row.map((count, a) => ({ t, a, count })));
    svg.selectAll('rect').data(cells).join('rect')
        .attr('x', c => margin + c.a * cell).attr('y', c => margin + c.t * cell).attr('width', cell).attr('height', cell)
        .attr('fill', c => (c.count ? d3.interpolateOranges(0.15 + 0.85 * (c.count / max)) : 'transparent'))
        .attr('data-cell', c => `${c.t},${c.a}`).attr('data-count', c => c.count)
        .classed('selected', c => !!selectedCell && selectedCell[0] === c.t && selectedCell[1] === c.a)
        .on('click', (_, c) => onCell([c.t, c.a]))
        .append('title').text(c => `true ${c.t} → adversarial ${c.a}: ${c.count} images`);
    svg.append('g').selectAll('text').data(d3.range(classes)).join('text').attr('x', i => margin + i * cell + cell / 2).attr('y', 14).attr('text-anchor', 'middle').text(i => i);
    svg.append('g').selectAll('text').data(d3.range(classes)).join('text').attr('x', 8).attr('y', i => margin + i * cell + cell / 2 + 3).text(i => i);
}

export function sortImages(images: DatasetImage[], order: ImageSortOrder): DatasetImage[] {
    const sorted = [...images];
    switch (order) {
        case 'perturbationAsc': return sorted.sort((a, b) => a.perturbationL2 - b.perturbationL2);
        case 'perturbationDesc': return sorted.sort((a, b) => b.perturbationL2 - a.perturbationL2);
        case 'benignProbabilityDesc': return sorted.sort((a, b) => b.benignProbabilityDrop - a.benignProbabilityDrop);
        case 'adversarialProbabilityAsc': return sorted.sort((a, b) => a.adversarialProbability - b.adversarialProbability);
    }
}

export function drawGrid(container: HTMLElement, images: DatasetImage[], focused: number | undefined, onFocus: (image: DatasetImage) => void): void {
    container.replaceChildren();
    container.className = 'grid-images';
    for (const image of images.slice(0, 120)) {
        const pair = document.createElement('div');
        pair.className = `pair${image.index === focused ? ' selected' : ''}`;
        pair.dataset.index = String(image.index);
        if (image.adversarialThumb) { const img = document.createElement('img'); img.src = image.adversarialThumb; pair.append(img); }
        const text = document.createElement('div');
        text.textContent = `#${image.index} ${image.benignLabel}→${image.adversarialLabel} L2 ${image.perturbationL2.toFixed(2)} p ${image.benignProbability.toFixed(2)}/${image.adversarialProbability.toFixed(2)}`;
        pair.append(text);
        pair.addEventListener('click', () => onFocus(image));
        container.append(pair);
    }
}
