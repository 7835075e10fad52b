// Architecture View (Activation Profiles §4.2): the model graph left to right; circles for nodes that touch graph
// inputs or outputs, squares otherwise; grey / blue / red by category; blocks as rectangles that collapse to one item
// on click (branching edges between blocks stay visible). Clicking a node selects its output as a Flow View layer.
import * as d3 from 'd3';
import type { ModelGraph } from '../shared/messages';
import { categoryColors } from '../shared/theme';
import { layout, nodeSize, type Item, type Layout } from './layout';

export interface ArchitectureCallbacks {
    onToggleBlock(blockId: string): void;
    onToggleNode(item: Item, layerName: string): void;
}

export interface ArchitectureOptions {
    collapsed: Set<string>;
    selectedLayers: Set<string>;
    findings?: Record<string, string>;
}

export function drawArchitecture(svgElement: SVGSVGElement, graph: ModelGraph, options: ArchitectureOptions, callbacks: ArchitectureCallbacks): Layout {
    const result = layout(graph.nodes, graph.edges, graph.blocks, options.collapsed);
    const svg = d3.select(svgElement);
    svg.selectAll('*').remove();
    svg.attr('width', '100%').attr('height', Math.max(160, result.height + 20))
        .attr('data-node-count', result.items.length).attr('data-edge-count', result.edges.length);
    const root = svg.append('g').attr('class', 'viewport');
    svg.call(d3.zoom<SVGSVGElement, unknown>().scaleExtent([0.1, 4]).on('zoom', event => root.attr('transform', event.transform)));

    // Blocks, outermost first; a click on the frame collapses the block.
    const blocks = root.append('g').attr('class', 'blocks').selectAll('g').data(result.blockBoxes).join('g').attr('class', 'graph-block')
        .attr('data-block', box => box.block.id);
    blocks.append('rect').attr('x', box => box.x).attr('y', box => box.y).attr('width', box => box.width).attr('height', box => box.height).attr('rx', 4)
        .on('click', (event, box) => { event.stopPropagation(); callbacks.onToggleBlock(box.block.id); })
        .append('title').text(box => `${box.block.label} (${box.block.nodes.length} nodes): click to collapse`);
    blocks.append('text').attr('x', box => box.x + 3).attr('y', box => box.y + 9).text(box => `▾ ${truncate(box.block.label, Math.max(4, box.width / 6))}`);

    const position = new Map(result.items.map(item => [item.id, item]));
    const link = (from: Item, to: Item) => {
        const midX = (from.x + to.x) / 2;
        return `M${from.x},${from.y}C${midX},${from.y} ${midX},${to.y} ${to.x},${to.y}`;
    };
    root.append('g').attr('class', 'edges').selectAll('path').data(result.edges).join('path')
        .attr('class', edge => `graph-edge${edge.isBranch ? ' branch' : ''}`)
        .attr('d', edge => link(position.get(edge.from)!, position.get(edge.to)!))
        .append('title').text(edge => edge.values.join(', '));

    const nodesById = new Map(graph.nodes.map(node => [node.index, node]));
    const items = root.append('g').attr('class', 'nodes').selectAll('g').data(result.items).join('g')
        .attr('class', item => `graph-node${!item.isBlock && options.selectedLayers.has(layerOf(item)) ? ' selected' : ''}`)
        .attr('data-item', item => item.id)
        .attr('data-category', item => item.category)
        .attr('transform', item => `translate(${item.x},${item.y})`)
        .on('click', (event, item) => {
            event.stopPropagation();
            if (item.isBlock) callbacks.onToggleBlock(item.id.slice(6));
            else callbacks.onToggleNode(item, layerOf(item));
        });
    items.filter(item => item.isBlock).append('rect').attr('x', -nodeSize).attr('y', -nodeSize / 2 - 2).attr('width', 2 * nodeSize).attr('height', nodeSize + 4).attr('rx', 3)
        .attr('fill', 'var(--advvis-block)').attr('stroke-dasharray', '3 2');
    items.filter(item => !item.isBlock && item.terminal).append('circle').attr('r', nodeSize / 2).attr('fill', item => categoryColors[item.category]);
    items.filter(item => !item.isBlock && !item.terminal).append('rect').attr('x', -nodeSize / 2).attr('y', -nodeSize / 2).attr('width', nodeSize).attr('height', nodeSize)
        .attr('fill', item => categoryColors[item.category]);
    items.filter(item => item.isBlock).append('rect').attr('x', -nodeSize + 3).attr('y', -3).attr('width', 2 * nodeSize - 6).attr('height', 6).attr('fill', item => categoryColors[item.category]);
    items.append('text').attr('y', nodeSize / 2 + 10).attr('text-anchor', 'middle')
        .text(item => (item.isBlock ? `▸ ${truncate(item.label, 9)}` : truncate(nodesById.get(item.nodes[0])!.opType, 8)));
    items.append('title').text(item => {
        if (item.isBlock) return `${item.label}: ${item.nodes.length} nodes (click to expand)`;
        const node = nodesById.get(item.nodes[0])!;
        const shape = node.outputShapes[0] ? ` → [${node.outputShapes[0].join('×')}]` : '';
        const finding = options.findings?.[node.name] ? `\nLast explanation: ${options.findings[node.name]}` : '';
        return `${node.name} (${node.opType})${shape}\n${node.parameterCount.toLocaleString()} parameters${finding}`;
    });
    return result;

    function layerOf(item: Item): string {
        const node = nodesById.get(item.nodes[0])!;
        return node.outputs[0] ?? node.name;
    }
}

function truncate(text: string, length: number): string {
    return text.length > length ? `${text.slice(0, Math.max(1, Math.floor(length) - 1))}…` : text;
}
