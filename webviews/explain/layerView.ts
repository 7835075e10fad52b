// Layer View (Activation Profiles §4.4): the units of one layer in a square grid coloured by their reduced activation
// (max over space for conv units), and activation maps of the strongest units. Clicking a unit selects it.
import * as d3 from 'd3';
import type { LayerData } from '../shared/messages';

export function drawLayer(container: HTMLElement, layer: LayerData, selected: Set<number>, onSelect: (unit: number) => void): SVGSVGElement {
    container.replaceChildren();
    const values = layer.values;
    const columns = Math.ceil(Math.sqrt(values.length)), cell = Math.max(6, Math.min(22, Math.floor(360 / Math.max(1, columns))));
    const extent = d3.max(values, v => Math.abs(v)) || 1;
    const color = layer.isDifference
        ? (v: number) => d3.interpolateRdBu(0.5 - v / extent / 2)
        : d3.scaleSequential(d3.interpolateViridis).domain(d3.extent(values) as [number, number]);
    const note = document.createElement('div');
    note.className = 'advvis-note';
    note.textContent = `${layer.layer}: ${values.length} units, reduction "${layer.reduction}"${layer.isDifference ? ', colour = adversarial − benign (red: excited by the attack)' : ''}`;
    const svg = d3.select(container).append('svg').attr('class', 'unit-grid')
        .attr('width', columns * cell).attr('height', Math.ceil(values.length / columns) * cell).attr('data-units', values.length);
    svg.selectAll('rect').data(values).join('rect')
        .attr('x', (_, i) => (i % columns) * cell).attr('y', (_, i) => Math.floor(i / columns) * cell).attr('width', cell).attr('height', cell)
        .attr('fill', v => color(v)).attr('data-unit', (_, i) => i).classed('selected', (_, i) => selected.has(i))
        .on('click', (event: MouseEvent) => onSelect(Number((event.currentTarget as SVGRectElement).dataset.unit)))
        .append('title').text((v, i) => `unit ${i}: ${v.toFixed(4)}`);
    container.prepend(note);
    if (layer.maps?.length) {
        const maps = document.createElement('div');
        maps.className = 'fields activation-maps';
        for (const unitMap of layer.maps) {
            const figure = document.createElement('figure');
            const img = document.createElement('img');
            img.src = unitMap.image;
            const caption = document.createElement('figcaption');
            caption.textContent = `unit ${unitMap.unit}`;
            figure.append(img, caption);
            maps.append(figure);
        }
        container.append(maps);
    }
    return svg.node()!;
}
