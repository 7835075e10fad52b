// Attribution graph (MASSIF §3): neurons that the attack excites (orange) or suppresses (blue) per layer, left to right,
// and the influence edges between them. Clicking a node focuses it; shift-click adds it to the neuron-edit set.
import * as d3 from 'd3';
import type { AttributionGraph, AttributionNode } from '../shared/messages';
import { adversarialColor, benignColor } from '../shared/theme';

export function drawAttribution(svgElement: SVGSVGElement, graph: AttributionGraph, selected: Set<string>,
    onClick: (node: AttributionNode, additive: boolean) => void): void {
    const width = Math.max(320, graph.layers.length * 160), rowHeight = 26;
    const columns = graph.layers.map(layer => graph.nodes.filter(node => node.layer === layer));
    const height = Math.max(80, d3.max(columns, column => column.length)! * rowHeight + 40);
    const svg = d3.select(svgElement);
    svg.selectAll('*').remove();
    svg.attr('width', width).attr('height', height).attr('data-nodes', graph.nodes.length).attr('data-edges', graph.edges.length);
    const x = d3.scalePoint<string>().domain(graph.layers).range([60, width - 60]);
    const position = new Map<string, [number, number]>();
    columns.forEach(column => column.forEach((node, i) => position.set(node.id, [x(node.layer)!, 30 + i * rowHeight])));
    const maxWeight = d3.max(graph.edges, edge => Math.abs(edge.weight)) || 1;
    const maxDelta = d3.max(graph.nodes, node => Math.abs(node.delta)) || 1;
    svg.append('g').selectAll('path').data(graph.edges.filter(edge => position.has(edge.from) && position.has(edge.to))).join('path')
        .attr('class', 'attr-edge')
        .attr('d', edge => { const [x1, y1] = position.get(edge.from)!, [x2, y2] = position.get(edge.to)!; const m = (x1 + x2) / 2; return `M${x1},${y1}C${m},${y1} ${m},${y2} ${x2},${y2}`; })
        .attr('stroke', edge => (edge.weight >= 0 ? adversarialColor : benignColor))
        .attr('stroke-width', edge => 0.5 + (4 * Math.abs(edge.weight)) / maxWeight);
    svg.append('g').selectAll('text').data(graph.layers).join('text').attr('x', layer => x(layer)!).attr('y', 14).attr('text-anchor', 'middle').text(layer => layer);
    const nodes = svg.append('g').selectAll('g').data(graph.nodes.filter(node => position.has(node.id))).join('g')
        .attr('class', node => `attr-node${selected.has(`${node.layer}#${node.unit}`) ? ' selected' : ''}`)
        .attr('data-node', node => node.id)
        .attr('transform', node => `translate(${position.get(node.id)!.join(',')})`)
        .on('click', (event: MouseEvent, node) => onClick(node, event.shiftKey));
    nodes.append('circle').attr('r', node => 4 + (6 * Math.abs(node.delta)) / maxDelta).attr('fill', node => (node.delta >= 0 ? adversarialColor : benignColor));
    nodes.append('text').attr('x', 12).attr('dy', '0.35em').text(node => `${node.unit}`);
    nodes.append('title').text(node => `${node.layer} unit ${node.unit}: ${node.delta >= 0 ? 'excited' : 'suppressed'} by the attack (Δ ${node.delta.toFixed(3)})`);
}
