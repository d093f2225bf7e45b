/**
 * Format-2 graph models written directly, with seeded random weights, for tests of every layer kind
 * and of graphs that branch and join (residual blocks, skip concatenations), without a converter.
 */
import { encodeF16 } from '../../src/format/f16.ts';
import { quantizeInt8PerChannel } from '../../src/format/int8.ts';
import { readModel } from '../../src/format/read.ts';
import { outputChannelAxis, type DType, type GraphInputSpec, type LayerSpec, type NodeSpec } from '../../src/format/spec.ts';
import { writeModel, type TensorInput } from '../../src/format/write.ts';
import { kindOf } from '../../src/layers/index.ts';
import { randomValues, seededRandom } from './numbers.ts';

/** The spec of a layer type (conv2d and conv2dTranspose share one interface, so Extract cannot find it). */
type SpecOf<L, T> = L extends { type: infer U } ? (T extends U ? L : never) : never;
type Fields<T extends LayerSpec['type']> = Omit<SpecOf<LayerSpec, T>, 'type' | 'kernel' | 'bias' | 'scale' | 'name'>;

export class GraphBuilder {
  readonly latent: string;
  readonly label: string | undefined;
  private readonly nodes: NodeSpec[] = [];
  private readonly tensors: TensorInput[] = [];
  private readonly shapes = new Map<string, number[]>();
  private readonly random: () => number;
  readonly dtype: DType;
  private readonly inputs: GraphInputSpec[];

  constructor(options: { latent: number[]; layout?: 'NCHW' | 'NHWC'; classes?: number; dtype?: DType; seed?: number }) {
    this.dtype = options.dtype ?? 'f32';
    this.random = seededRandom(options.seed ?? 1);
    this.latent = 'z';
    this.inputs = [{ name: 'z', kind: 'latent', shape: options.latent, ...(options.layout ? { layout: options.layout } : {}) }];
    this.shapes.set('z', options.latent);
    if (options.classes) {
      this.label = 'label';
      this.inputs.push({ name: 'label', kind: 'label', classes: options.classes });
      this.shapes.set('label', [options.classes]);
    }
  }

  shape(value: string): number[] {
    return this.shapes.get(value)!;
  }

  /** An f32 tensor of random values in [-scale, scale) (or the given values). */
  f32(shape: number[], scale = 1, values?: Float32Array): number {
    const data = values ?? randomValues(shape.reduce((a, b) => a * b, 1), this.random, scale);
    return this.tensors.push({ dtype: 'f32', shape, data }) - 1;
  }

  /** Adds a node of any kind; weighted kinds get a kernel of `kernelShape` and a bias of `outputs`. */
  add<T extends LayerSpec['type']>(type: T, name: string, inputs: string[], fields: Fields<T>, weights?: { kernelShape: number[]; outputs: number }): string {
    const spec = { type, name, inputs, ...fields } as unknown as NodeSpec;
    if (weights) Object.assign(spec, this.weights(type as 'dense', weights.kernelShape, weights.outputs));
    this.nodes.push(spec);
    const tensors = this.tensors.map((t, i) => ({ dtype: t.dtype, shape: t.shape, offset: i }));
    const { shape } = kindOf(spec).infer(spec, inputs.map((v) => this.shape(v)), `node "${name}"`, {
      tensors, dtype: this.dtype, meta: {} as never, graph: { label: null },
    });
    this.shapes.set(name, shape);
    return name;
  }

  dense(name: string, input: string, units: number, activation: Fields<'dense'>['activation'] = 'linear'): string {
    const K = this.shape(input).at(-1)!;
    return this.add('dense', name, [input], { units, activation }, { kernelShape: [K, units], outputs: units });
  }

  conv2d(name: string, input: string, filters: number, k: number, fields: Partial<Fields<'conv2d'>> = {}): string {
    const C = this.shape(input).at(-1)!;
    const pad = Math.floor(k / 2);
    const groups = fields.groups ?? 1;
    const all: Fields<'conv2d'> = { filters, kernelSize: [k, k], strides: [1, 1], padding: 'explicit', pads: [pad, pad, pad, pad], activation: 'linear', ...fields };
    return this.add('conv2d', name, [input], all, { kernelShape: [k, k, C / groups, filters], outputs: filters });
  }

  conv2dTranspose(name: string, input: string, filters: number, k: number, fields: Partial<Fields<'conv2dTranspose'>> = {}): string {
    const C = this.shape(input).at(-1)!;
    const all: Fields<'conv2dTranspose'> = { filters, kernelSize: [k, k], strides: [2, 2], padding: 'explicit', pads: [1, 1, 1, 1], activation: 'linear', ...fields };
    return this.add('conv2dTranspose', name, [input], all, { kernelShape: [k, k, filters / (fields.groups ?? 1), C], outputs: filters });
  }

  private weights(type: 'dense' | 'conv2d' | 'conv2dTranspose', kernelShape: number[], outputs: number) {
    const fanIn = kernelShape.reduce((a, b) => a * b, 1) / outputs;
    const values = randomValues(fanIn * outputs, this.random, Math.sqrt(3 / fanIn));
    const bias = this.f32([outputs], 0.1);
    if (this.dtype === 'i8') {
      const { q, scales } = quantizeInt8PerChannel(values, kernelShape, outputChannelAxis(type));
      const kernel = this.tensors.push({ dtype: 'i8', shape: kernelShape, data: q }) - 1;
      return { kernel, bias, scale: this.tensors.push({ dtype: 'f32', shape: [outputs], data: scales }) - 1 };
    }
    const data = this.dtype === 'f16' ? encodeF16(values) : values;
    return { kernel: this.tensors.push({ dtype: this.dtype, shape: kernelShape, data }) - 1, bias };
  }

  /** The model file, with `output` as its output. */
  write(output: string, range: [number, number] = [0, 1]): Uint8Array {
    const latentSize = this.shape(this.latent).reduce((a, b) => a * b, 1);
    const classes = this.label ? this.shape(this.label)[0] : 0;
    const meta = { latentSize, conditioning: classes ? { classes } : null, output: { shape: this.shape(output), range }, dtype: this.dtype, producer: 'edgevae tests' };
    const bytes = writeModel({ meta, inputs: this.inputs, nodes: this.nodes, output, tensors: this.tensors });
    readModel(bytes);
    return bytes;
  }
}
