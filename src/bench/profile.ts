/**
 * The per-node profile of `edgevae bench --layers` (and of the full-size models in
 * docs/BENCHMARKS.md): after warm-up, the decoder runs its plan one node at a time
 * (Decoder.profile), pass after pass, and each node's median milliseconds per pass gives its share of
 * the pass and its GFLOP/s (2 x its multiply-adds per sample, from the layer registry, x the batch).
 * Medians per node, so a pass slowed by another process on the core moves the figures little.
 * Platform-neutral: only `performance.now()`.
 */
import type { GraphNode } from '../format/read.ts';
import type { Decoder } from '../runtime/decoder.ts';
import type { BenchInputs } from './contender.ts';
import { percentile, summarizeLatency, timeCalls } from './measure.ts';

export interface NodeProfile {
  /** The node's name (its display name where the file has one), kind and per-sample output shape. */
  name: string;
  type: string;
  outputShape: number[];
  macsPerSample: number;
  /** What the node computes, in a few words ("3x3 conv, stride 1, 64 → 64 channels"); '' where the kind says it all. */
  detail: string;
  /** A convolution's shape, for the per-kind targets (3x3 convs of 32 channels or more). */
  conv?: { kernel: [number, number]; strides: [number, number]; inChannels: number; outChannels: number; groups: number; transposed: boolean };
  /** Median milliseconds per pass; 0 for a node that runs no code (a reshape reads its input's memory as it is). */
  ms: number;
  /** Whether the node runs code of its own (false: an alias of its input). */
  runs: boolean;
  /** ms over the sum of every node's ms. */
  share: number;
  /** 2 x multiply-adds x batch / time; null where the node does no multiply-adds or took no time. */
  gflops: number | null;
}

export interface LayerProfile {
  batch: number;
  /** Profiled passes timed (after warm-up). */
  passes: number;
  /** Sum of the nodes' medians: a pass as the profile sees it. */
  sumMs: number;
  /** Median of a whole decode (one executor call for every node), timed between the passes: what the profile's per-node timing costs shows as sumMs - decodeMs. */
  decodeMs: number;
  nodes: NodeProfile[];
}

export interface ProfileOptions {
  /** Seconds of profiled passes (at least `minPasses`). */
  seconds: number;
  /** Seconds of whole decodes first, so V8 has optimized the kernels (default 0.5). */
  warmUpSeconds?: number;
  minPasses?: number;
  shouldStop?: () => boolean;
  /** The model's graph nodes (readModel), for each node's detail; without them the details are empty. */
  graph?: readonly GraphNode[];
}

/** A node's detail and convolution shape, from its spec. */
export function describeNode(node: GraphNode): Pick<NodeProfile, 'detail' | 'conv'> {
  const { layer } = node;
  if (layer.type === 'conv2d' || layer.type === 'conv2dTranspose') {
    const inChannels = node.inShapes[0][node.inShapes[0].length - 1];
    const groups = layer.groups ?? 1;
    const transposed = layer.type === 'conv2dTranspose';
    const [kh, kw] = layer.kernelSize;
    const kind = `${kh}x${kw} ${transposed ? 'transposed conv' : groups === inChannels && groups > 1 ? 'depthwise conv' : 'conv'}`;
    return {
      detail: `${kind}, stride ${layer.strides[0] === layer.strides[1] ? layer.strides[0] : layer.strides.join('x')}, ${inChannels} → ${layer.filters} channels${groups > 1 && groups !== inChannels ? `, ${groups} groups` : ''}`,
      conv: { kernel: [kh, kw], strides: [...layer.strides], inChannels, outChannels: layer.filters, groups, transposed },
    };
  }
  if (layer.type === 'dense') return { detail: `${node.inShapes[0][node.inShapes[0].length - 1]} → ${layer.units}` };
  return { detail: '' };
}

/** Profiles `decoder` on one batch of inputs (at most the decoder's maxBatch samples). */
export async function profileLayers(decoder: Decoder, inputs: BenchInputs, options: ProfileOptions): Promise<LayerProfile> {
  const { seconds, warmUpSeconds = 0.5, minPasses = 5, shouldStop, graph } = options;
  const { latents, labels } = inputs;
  const decode = () => decoder.decode(latents, labels);
  await timeCalls(decode, { seconds: warmUpSeconds, minCalls: 2, shouldStop });
  const layers = decoder.info.layers;
  const perNode: number[][] = layers.map(() => []);
  const decodes: number[] = [];
  let runs: boolean[] = [];
  // A profiled pass, then a whole decode, in turns, until the time is spent.
  const end = performance.now() + seconds * 1000;
  while ((perNode[0].length < minPasses || performance.now() < end) && !(shouldStop?.() && perNode[0].length > 0)) {
    const { layerMs } = decoder.profile(latents, labels);
    layerMs.forEach((ms, i) => perNode[i].push(ms ?? 0));
    runs = layerMs.map((ms) => ms !== null);
    decodes.push(...(await timeCalls(decode, { seconds: 0, minCalls: 1, maxCalls: 1 })));
    // Let a pending Ctrl-C run between passes.
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  const medians = perNode.map((times) => percentile([...times].sort((a, b) => a - b), 50));
  const sumMs = medians.reduce((sum, ms) => sum + ms, 0);
  const nodes = layers.map((layer, i): NodeProfile => {
    const ms = medians[i];
    const flops = 2 * layer.macsPerSample * inputs.batch;
    return {
      name: layer.name,
      type: layer.type,
      outputShape: layer.outputShape,
      macsPerSample: layer.macsPerSample,
      ...(graph ? describeNode(graph[i]) : { detail: '' }),
      ms,
      runs: runs[i],
      share: sumMs > 0 ? ms / sumMs : 0,
      gflops: flops > 0 && ms > 0 ? flops / (ms * 1e6) : null,
    };
  });
  return { batch: inputs.batch, passes: perNode[0].length, sumMs, decodeMs: summarizeLatency(decodes).p50Ms, nodes };
}
