/** The presets, by name: one model family each, from one published tutorial or paper (see docs/MODELS.md). */
import { InputError } from '../../errors.ts';
import type { Preset } from '../preset.ts';
import { aaeSemi } from './aae-semi.ts';
import { aaeSupervised } from './aae-supervised.ts';
import { aae } from './aae.ts';
import { ae } from './ae.ts';
import { convVae } from './conv-vae.ts';
import { cvae } from './cvae.ts';
import { dcganVae } from './dcgan-vae.ts';

export const PRESETS: Record<string, Preset> = Object.fromEntries(
  [convVae, ae, aae, aaeSupervised, aaeSemi, cvae, dcganVae].map((preset) => [preset.name, preset]),
);

/** The preset called `name`; an InputError listing the presets when there is none. */
export function getPreset(name: string): Preset {
  const preset = Object.hasOwn(PRESETS, name) ? PRESETS[name] : undefined;
  if (!preset) throw new InputError(`unknown preset ${JSON.stringify(name)}; the presets are ${Object.keys(PRESETS).join(', ')}`);
  return preset;
}
