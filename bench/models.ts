/**
 * The models of the decode benchmark: the three seed decoder architectures with random weights of the
 * real shapes (test/fixtures/models.ts), and the shipped models (models/ and packages/models/). Each is handed to every
 * contender as one f32 edgevae file; contenders convert it to their own dtype or format (a shipped
 * int8 model becomes its dequantized f32 values, and converts back to the very same int8 kernels).
 */
import { readFileSync } from 'node:fs';
import { convertDtype } from '../src/export/convert-dtype.ts';
import { exportModel } from '../src/export/index.ts';
import { readModel } from '../src/format/read.ts';
import { shippedModel } from '../src/node/files.ts';
import { selectBackend } from '../src/train/backend.ts';
import { ALL_FIXTURES } from '../test/fixtures/models.ts';

export interface BenchModel {
  name: string;
  /** What the model is, for the report. */
  description: string;
  /** The model as an f32 edgevae file. */
  f32: Uint8Array;
  macsPerSample: number;
  /** Weight dtype of the file the model comes from (the shipped models are int8). */
  sourceDtype: string;
}

const DESCRIPTIONS: Record<string, string> = {
  convVaeDecoder: 'conv VAE decoder: 8 → 24 → 49 → 7x7x1 → three 4x4 transposed convs of 64 (14x14) → 784, random weights',
  denseDecoder: 'dense VAE decoder 2 → 1000 → 1000 → 784, random weights',
  conditionalDecoder: 'conditional dense decoder (8 + one-hot 10) → 256 → 512 → 784, random weights',
};

/** The seed decoders, exported from their TensorFlow.js fixtures (seeded random weights). */
export async function seedModels(): Promise<BenchModel[]> {
  await selectBackend('cpu');
  return ALL_FIXTURES.filter((fixture) => fixture.large).map((fixture) => {
    const f32 = exportModel(fixture.build(1), { dtype: 'f32', meta: { output: { shape: fixture.outputShape } } });
    return { name: fixture.name, description: DESCRIPTIONS[fixture.name] ?? fixture.name, f32, macsPerSample: readModel(f32).macsPerSample, sourceDtype: 'f32' };
  });
}

function shipped(name: string): BenchModel {
  const bytes = new Uint8Array(readFileSync(shippedModel(name)));
  const parsed = readModel(bytes);
  // Each weighted layer as its output: units for dense, HxWxC for convolutions.
  const layers = parsed.graph.nodes.filter((s) => s.layer.type === 'dense' || s.layer.type === 'conv2d' || s.layer.type === 'conv2dTranspose')
    .map((s) => (s.layer.type === 'dense' ? `${s.outShape[s.outShape.length - 1]}` : `${s.layer.type} ${s.outShape.join('x')}`));
  const input = parsed.header.meta.latentSize + (parsed.header.meta.conditioning ? ` + one-hot ${parsed.header.meta.conditioning.classes}` : '');
  return {
    name,
    description: `shipped models/${name}.evae (${parsed.header.meta.preset}, trained): ${input} → ${layers.join(' → ')}`,
    f32: convertDtype(parsed, 'f32'),
    macsPerSample: parsed.macsPerSample,
    sourceDtype: parsed.header.meta.dtype,
  };
}

export async function benchModels(): Promise<BenchModel[]> {
  return [...(await seedModels()), shipped('cvae'), shipped('aae'), shipped('conv-vae')];
}
