// Attribution graph (MASSIF §3, attribution/graph): per layer, left to right, the most important units grouped by the
// relative change of importance under attack: emphasized (orange), suppressed (blue), shared (grey), inactive (hollow);
// influence edges between consecutive layers, coloured by the side on which they are stronger. Clicking a node focuses it; shift-click adds it to the neuron-edit set.
import * as d3 from 'd3';
import type { AttributionGraph, AttributionNode } from '../shared/messages';
import { adversarialColor, benignColor } from '../shared/theme';

export function drawAttribution(svgElement: SVGSVGElement, graph: AttributionGraph, selected: Set<string>,
    onClick: (node: AttributionNode, additive: boolean) => void): void {
    const width = Math.max(360, graph.layers.length * 220), rowHeight = 26;
    const columns = graph.layers.map(layer => graph.nodes.filter(node => node.layer === layer));
    const height = Math.max(80, d3.max(columns, column => column.length)! * rowHeight + 40);
    const svg = d3.select(svgElement);
    svg.selectAll('*').remove();
    svg.attr('width', width).attr('height', height).attr('data-nodes', graph.nodes.length).attr('data-edges', graph.edges.length);
    const x = d3.scalePoint<string>().domain(graph.layers).range([100, width - 100]);
    const position = new Map<string, [number, number]>();
    columns.forEach(column => column.forEach((node, i) => position.set(node.id, [x(node.layer)!, 30 + i * rowHeight])));
    const maxWeight = d3.max(graph.edges, edge => Math.abs(edge.weight)) || 1;
    const maxDelta = d3.max(graph.nodes, node => Math.abs(node.delta)) || 1;
    svg.append('g').selectAll('path').data(graph.edges.filter(edge => position.has(edge.from) && position.has(edge.to))).join('path')
        .attr('class', 'attr-edge')
        .attr('d', edge => { const [x1, y1] = position.get(edge.from)!, [x2, y2] = position.get(edge.to)!; const m = (x1 + x2) / 2; return `M${x1},${y1}C${m},${y1} ${m},${y2} ${x2},${y2}`; })
        .attr('data-from', edge => edge.from).attr('data-to', edge => edge.to)
        .attr('stroke', edge => (edge.adversarialWeight >= edge.benignWeight ? adversarialColor : benignColor))
        .attr('stroke-width', edge => 0.5 + (4 * Math.abs(edge.weight)) / maxWeight);
    svg.append('g').selectAll('text').data(graph.layers).join('text').attr('x', layer => x(layer)!).attr('y', 14).attr('text-anchor', 'middle').text(layer => layer);
    const nodes = svg.append('g').selectAll('g').data(graph.nodes.filter(node => position.has(node.id))).join('g')
        .attr('class', node => `attr-node${selected.has(`${node.layer}#${node.unit}`) ? ' selected' : ''}`)
        .attr('data-node', node => node.id).attr('data-group', node => node.side)
        .attr('transform', node => `translate(${position.get(node.id)!.join(',')})`)
        .on('click', (event: MouseEvent, node) => onClick(node, event.shiftKey));
    const fill = { adversarial: adversarialColor, benign: benignColor, both: 'var(--advvis-grey, #888)', inactive: 'none' } as const;
    const describe = { adversarial: 'emphasized by the attack', benign: 'suppressed by the attack', both: 'shared by both', inactive: 'inactive' } as const;
    nodes.append('circle').attr('r', node => 4 + (6 * Math.abs(node.delta)) / maxDelta).attr('fill', node => fill[node.side])
        .attr('stroke', node => (node.side === 'inactive' ? 'var(--advvis-grey, #888)' : null));
    nodes.append('text').attr('x', 12).attr('dy', '0.35em').text(node => `${node.unit}`);
    nodes.append('title').text(node => `${node.layer} unit ${node.unit}: ${describe[node.side]}; importance ${node.benignImportance.toFixed(3)} → ${node.adversarialImportance.toFixed(3)} (relative change ${(100 * node.delta).toFixed(0)}%)`
        + (node.vulnerableAtEps !== null ? `; changes from ε = ${node.vulnerableAtEps}` : ''));
}
