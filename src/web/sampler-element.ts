/**
 * <edgevae-sampler model="cvae.evae">: draws samples of an edgevae model on a canvas, with a
 * regenerate button, a seed field, a digit menu (conditional models) and one slider per latent
 * dimension. No framework: a custom element with an open shadow root; importing this module defines it.
 *
 * Attributes: model (URL of an .evae file, required), seed (0..2^53-1, default 1), digit (a class of
 * a conditional model; absent: every class in turn), count (samples, 1..100, default 16), stddev
 * (of the latent draws, 0..10; default: the model's prior, 1 unless its file records another). The sliders shift every sample's latent vector along one
 * dimension, in units of stddev. A bad attribute or an unloadable model shows its message in the
 * element instead of a blank canvas.
 * Uses the strict SIMD build, so a seed gives the same pixels as `edgevae` in Node.
 */
import { Decoder } from '../index.ts';
import { OFFSET_LIMIT, drawSamples, parseModelUrl, readView, type SamplerView } from './sampler-view.ts';

export const SAMPLER_TAG = 'edgevae-sampler';

/** Screen pixels per image pixel: 28-pixel digits are too small to see at 1. */
const PIXEL_SCALE = 3;

export type SamplerState = 'empty' | 'loading' | 'ready' | 'error';

/** Detail of the `edgevae-render` event, fired after each drawing. */
export interface SamplerRenderDetail extends SamplerView {
  milliseconds: number;
}

const TEMPLATE = `
<style>
  :host { display: inline-block; font: 14px system-ui, sans-serif; color: #222; }
  .controls { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin-bottom: 8px; }
  input.seed { width: 11ch; }
  canvas { display: block; image-rendering: pixelated; background: #000; }
  .error { color: #b00020; font-weight: 600; max-width: 40ch; }
  .sliders { display: grid; grid-template-columns: auto 1fr 5ch; gap: 2px 8px; align-items: center; margin-top: 8px; }
  .status { color: #666; font-size: 12px; margin: 6px 0 0; }
  [hidden] { display: none !important; }
</style>
<div class="controls" part="controls">
  <button class="regenerate" part="regenerate" type="button">Regenerate</button>
  <label>Seed <input class="seed" part="seed" type="text" inputmode="numeric" autocomplete="off"></label>
  <label class="digit-label" hidden>Digit <select class="digit" part="digit"></select></label>
</div>
<canvas part="canvas" hidden></canvas>
<p class="error" part="error" role="alert" hidden></p>
<div class="sliders" part="sliders"></div>
<p class="status" part="status"></p>`;

export class EdgeVaeSampler extends HTMLElement {
  static readonly observedAttributes = ['model', 'seed', 'digit', 'count', 'stddev'];

  #decoder: Decoder | undefined;
  #offsets: number[] = [];
  #state: SamplerState = 'empty';
  #error: string | undefined;
  /** Bumped by every load, so a slow response for an older model attribute is dropped. */
  #loadGeneration = 0;
  readonly #root: ShadowRoot;

  constructor() {
    super();
    this.#root = this.attachShadow({ mode: 'open' });
    this.#root.innerHTML = TEMPLATE;
    this.#part('.regenerate').addEventListener('click', () => this.setAttribute('seed', String(randomSeed())));
    this.#part<HTMLInputElement>('.seed').addEventListener('change', (e) => this.setAttribute('seed', (e.target as HTMLInputElement).value));
    this.#part<HTMLSelectElement>('.digit').addEventListener('change', (e) => this.#setDigit((e.target as HTMLSelectElement).value));
  }

  /** The loaded decoder, once the model is in. */
  get decoder(): Decoder | undefined {
    return this.#decoder;
  }

  get state(): SamplerState {
    return this.#state;
  }

  /** The message shown, while something is wrong. */
  get error(): string | undefined {
    return this.#error;
  }

  connectedCallback(): void {
    if (this.#state === 'empty') void this.#load();
  }

  attributeChangedCallback(name: string, previous: string | null, value: string | null): void {
    if (previous === value) return;
    if (name === 'model') {
      if (this.isConnected) void this.#load();
    } else this.#render();
  }

  async #load(): Promise<void> {
    const generation = ++this.#loadGeneration;
    this.#state = 'loading';
    this.#status('loading the model…');
    try {
      const url = parseModelUrl(this.getAttribute('model'), document.baseURI);
      const decoder = await Decoder.fromURL(url);
      if (generation !== this.#loadGeneration) return;
      this.#decoder = decoder;
      this.#offsets = new Array<number>(decoder.info.latentSize).fill(0);
      this.#buildDigitMenu(decoder.info.classes);
      this.#buildSliders(decoder.info.latentSize);
      this.#render();
    } catch (err) {
      if (generation !== this.#loadGeneration) return;
      this.#decoder = undefined;
      this.#showError(err);
    }
  }

  /** Draws the current view, or shows why it cannot. */
  #render(): void {
    const decoder = this.#decoder;
    if (!decoder) return;
    try {
      const view = readView(decoder, (name) => this.getAttribute(name), [...this.#offsets]);
      const started = performance.now();
      const grid = drawSamples(decoder, view);
      const milliseconds = performance.now() - started;
      this.#paint(grid.width, grid.height, grid.data);
      this.#syncControls(view);
      this.#state = 'ready';
      this.#setError(undefined);
      const { meta, latentShape, dtype } = decoder.info;
      const latent = latentShape.length === 1 ? `${latentShape[0]}-d latent` : `[${latentShape.join(', ')}] latent`;
      this.#status(`${meta.preset ?? 'model'} · ${latent} · ${dtype} weights · ${view.count} samples in ${milliseconds.toFixed(1)} ms`);
      this.dispatchEvent(new CustomEvent<SamplerRenderDetail>('edgevae-render', { detail: { ...view, milliseconds } }));
    } catch (err) {
      this.#showError(err);
    }
  }

  #paint(width: number, height: number, rgba: Uint8ClampedArray): void {
    const canvas = this.#part<HTMLCanvasElement>('canvas');
    canvas.width = width;
    canvas.height = height;
    canvas.style.width = `${width * PIXEL_SCALE}px`;
    canvas.style.height = `${height * PIXEL_SCALE}px`;
    canvas.getContext('2d')!.putImageData(new ImageData(new Uint8ClampedArray(rgba), width, height), 0, 0);
  }

  /** Puts the attribute values into the controls, when they changed from outside. */
  #syncControls(view: SamplerView): void {
    const seed = this.#part<HTMLInputElement>('.seed');
    if (seed.value !== String(view.seed)) seed.value = String(view.seed);
    this.#part<HTMLSelectElement>('.digit').value = view.digit === undefined ? '' : String(view.digit);
  }

  #setDigit(value: string): void {
    if (value === '') this.removeAttribute('digit');
    else this.setAttribute('digit', value);
  }

  #buildDigitMenu(classes: number): void {
    const menu = this.#part<HTMLSelectElement>('.digit');
    menu.replaceChildren(new Option('all, in turn', ''), ...Array.from({ length: classes }, (_, c) => new Option(String(c), String(c))));
    this.#part('.digit-label').hidden = classes === 0;
  }

  /** One slider per latent dimension, each shifting that coordinate of every sample. */
  #buildSliders(latentSize: number): void {
    const rows = Array.from({ length: latentSize }, (_, dim) => {
      const label = document.createElement('label');
      label.textContent = `z${dim}`;
      label.title = 'offset in standard deviations of the draws';
      const slider = Object.assign(document.createElement('input'), { type: 'range', min: String(-OFFSET_LIMIT), max: String(OFFSET_LIMIT), step: '0.1', value: '0' });
      slider.setAttribute('part', 'slider');
      slider.dataset.dim = String(dim);
      slider.setAttribute('aria-label', `latent dimension ${dim}`);
      label.htmlFor = slider.id = `z${dim}`;
      const shown = document.createElement('output');
      shown.textContent = '0.0';
      slider.addEventListener('input', () => {
        this.#offsets[dim] = Number(slider.value);
        shown.textContent = Number(slider.value).toFixed(1);
        this.#render();
      });
      return [label, slider, shown];
    });
    this.#part('.sliders').replaceChildren(...rows.flat());
  }

  #showError(err: unknown): void {
    this.#state = 'error';
    this.#setError(err instanceof Error ? err.message : String(err));
    this.#status('');
    this.dispatchEvent(new CustomEvent('edgevae-error', { detail: { message: this.#error } }));
  }

  #setError(message: string | undefined): void {
    this.#error = message;
    const box = this.#part('.error');
    box.textContent = message ?? '';
    box.hidden = message === undefined;
    this.#part('canvas').hidden = message !== undefined;
  }

  #status(text: string): void {
    this.#part('.status').textContent = text;
  }

  #part<T extends HTMLElement = HTMLElement>(selector: string): T {
    return this.#root.querySelector<T>(selector)!;
  }
}

/** A fresh seed for "Regenerate": 32 random bits, short enough to read and type again. */
function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

if (!customElements.get(SAMPLER_TAG)) customElements.define(SAMPLER_TAG, EdgeVaeSampler);

declare global {
  interface HTMLElementTagNameMap {
    'edgevae-sampler': EdgeVaeSampler;
  }
}
