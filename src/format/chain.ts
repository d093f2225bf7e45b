/**
 * Format 1 described a chain of layers: the latent flows through each in turn, and a `concatenate`
 * joins the one-hot label. This turns such a header (as raw JSON: it is validated after) into the
 * graph it describes, so format 1 files and chain-shaped drafts go through the one graph reader.
 * Nodes keep their layers' names where those are unique; the others are named by position (`layers[3]`).
 */
import { LIMITS } from './spec.ts';
import { fail, isObject } from './validate.ts';

const LATENT = 'z';
const LABEL = 'label';

/** A format-1 header as raw JSON to a format-2 header as raw JSON; structural problems fail with format 1's messages. */
export function chainToGraph(json: unknown): Record<string, unknown> {
  if (!isObject(json)) fail('header JSON must be an object');
  const h = json as Record<string, unknown>;
  if (!Array.isArray(h.layers) || h.layers.length < 1 || h.layers.length > LIMITS.layers) {
    fail(`header.layers must be an array of 1..${LIMITS.layers} layers`);
  }
  const meta = isObject(h.meta) ? h.meta : fail('header.meta must be an object');
  const conditioning = isObject(meta.conditioning) ? meta.conditioning : null;
  const inputNames = isObject(meta.inputs) ? meta.inputs : {};
  const latent = typeof inputNames.latent === 'string' ? inputNames.latent : LATENT;
  const label = typeof inputNames.label === 'string' && inputNames.label !== latent ? inputNames.label : latent === LABEL ? `${LABEL}_` : LABEL;
  let previous = latent;
  const joins: number[] = [];
  const named = (h.layers as unknown[]).map((l) => (isObject(l) && typeof l.name === 'string' ? l.name : undefined));
  const usable = (name: string | undefined): name is string =>
    name !== undefined && name.length >= 1 && name.length <= LIMITS.nameLength && name !== latent && name !== label && !/^layers\[\d+\]$/.test(name) && named.indexOf(name) === named.lastIndexOf(name);
  const nodes = (h.layers as unknown[]).map((layer, i) => {
    if (!isObject(layer)) fail(`layers[${i}] must be an object`);
    const l = layer as Record<string, unknown>;
    const where = `layers[${i}]`;
    const name = usable(named[i]) ? named[i]! : where;
    let inputs = [previous];
    if (l.type === 'concatenate') {
      if (!conditioning) fail(`${where} (concatenate) joins a class label, but meta.conditioning is null`);
      if (typeof l.labelFirst !== 'boolean') fail(`${where}.labelFirst must be true or false`);
      inputs = l.labelFirst ? [label, previous] : [previous, label];
      joins.push(i);
    }
    previous = name;
    const { labelFirst: _, name: sourceName, ...fields } = l;
    return { ...fields, name, inputs, ...(typeof sourceName === 'string' && sourceName !== name ? { displayName: sourceName } : {}) };
  });
  if (conditioning) {
    if (joins.length !== 1 || joins[0] !== conditioning.joinsAt) {
      fail(`meta.conditioning.joinsAt is ${JSON.stringify(conditioning.joinsAt)}, but the label is joined at layer(s) [${joins.join(', ')}]`);
    }
  }
  const latentSize = typeof meta.latentSize === 'number' ? meta.latentSize : fail(`meta.latentSize must be an integer in 1..${LIMITS.latent}, got ${JSON.stringify(meta.latentSize)}`);
  const inputs: unknown[] = [{ name: latent, kind: 'latent', shape: [latentSize] }];
  if (conditioning) inputs.push({ name: label, kind: 'label', classes: conditioning.classes });
  return { ...h, layers: undefined, inputs, nodes, output: previous };
}
