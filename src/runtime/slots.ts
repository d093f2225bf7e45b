/**
 * Where each value lives while a batch decodes. Values are assigned to slots from their last use, as
 * a register allocator would: a slot is free again once nothing later reads the value in it, so the
 * memory a batch needs is the peak of the values live at once, not their sum. A chain needs exactly
 * two slots (ping-pong); a reshape shares its input's slot; an op that may work in place (an
 * activation, an add) writes over its first input when nothing reads that input later.
 *
 * Pure bookkeeping on the graph, shared by the reader (which bounds the peak) and the planner.
 */
import { kindOf } from '../layers/index.ts';
import type { Graph } from '../layers/types.ts';
import { product } from '../format/spec.ts';

export interface SlotPlan {
  /** The slot of every value but the label input's (which lives in the labels area). */
  slotOf: Map<string, number>;
  /** Each slot's size in elements per sample. */
  slotElements: number[];
  /** Elements per sample over all slots: the peak of values live at once, in the slots' sizes. */
  elementsPerSample: number;
}

export function planSlots(graph: Graph): SlotPlan {
  const { nodes, latent, label, output } = graph;
  // Values that share memory (a reshape and its input) have one root: the value that owns the slot.
  const root = new Map<string, string>([[latent.name, latent.name]]);
  for (const node of nodes) root.set(node.name, kindOf(node.layer).storage === 'alias' ? root.get(node.inputs[0])! : node.name);
  const lastUse = new Map<string, number>();
  for (const node of nodes) for (const input of node.inputs) if (input !== label?.name) lastUse.set(root.get(input)!, node.index);
  lastUse.set(root.get(output)!, Infinity);

  const slotElements: number[] = [];
  const rootSlot = new Map<string, number>();
  const free: number[] = [];
  const take = (elements: number): number => {
    // Best fit among free slots; else grow the largest free one; else a new slot.
    let best = -1;
    for (const s of free) if (slotElements[s] >= elements && (best < 0 || slotElements[s] < slotElements[best])) best = s;
    if (best < 0) for (const s of free) if (best < 0 || slotElements[s] > slotElements[best]) best = s;
    if (best < 0) {
      slotElements.push(elements);
      return slotElements.length - 1;
    }
    free.splice(free.indexOf(best), 1);
    slotElements[best] = Math.max(slotElements[best], elements);
    return best;
  };
  rootSlot.set(latent.name, take(product(latent.shape)));
  for (const node of nodes) {
    const kind = kindOf(node.layer);
    if (kind.storage === 'alias') continue;
    const overwritten = kind.storage === 'inPlace' ? (kind.inPlaceInput?.(node) ?? 0) : -1;
    const first = overwritten >= 0 ? root.get(node.inputs[overwritten]) : undefined;
    const elements = product(node.outShape);
    if (kind.storage === 'inPlace' && first !== undefined && lastUse.get(first) === node.index) {
      const slot = rootSlot.get(first)!;
      slotElements[slot] = Math.max(slotElements[slot], elements);
      rootSlot.set(node.name, slot);
      lastUse.set(first, -1); // handed over: not freed below
    } else {
      rootSlot.set(node.name, take(elements));
    }
    for (const input of new Set(node.inputs)) {
      const r = root.get(input);
      if (r !== undefined && lastUse.get(r) === node.index) free.push(rootSlot.get(r)!);
    }
  }
  const slotOf = new Map<string, number>();
  for (const [value, r] of root) slotOf.set(value, rootSlot.get(r)!);
  return { slotOf, slotElements, elementsPerSample: slotElements.reduce((a, b) => a + b, 0) };
}
