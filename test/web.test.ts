// End to end in Debian's Chromium (headless, through playwright-core): `edgevae serve` serves the demo
// page; its <edgevae-sampler> elements draw digits (not blank; the judge reads the digits asked for),
// bit-identical to toImageGrid(Decoder.sample) in Node for the same seed (strict SIMD on both sides);
// a slider moves the image exactly as shifting that latent coordinate in Node does; the digit menu
// changes the class the judge sees; bad attributes show their message instead of a blank canvas.
// Saves a screenshot to test-artifacts/web-sampler.png (the README shows a copy, docs/images/).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { Decoder, toImageGrid, type ImageGrid } from '../src/index.ts';
import { classify } from '../src/train/classify.ts';
import { startServe, type RunningServer } from './helpers/serve.ts';
import type { EdgeVaeSampler } from '../src/web/sampler-element.ts';
import { GRAPH_PLANS, buildGraphModel } from './helpers/random-models.ts';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = new URL('../test-artifacts/web-sampler.png', import.meta.url);
const skip = existsSync(CHROMIUM) ? false : `Debian's chromium is not at ${CHROMIUM}: install it with "apt-get install -y chromium" (.ci/run does)`;

const load = (path: string) => Decoder.load(readFileSync(new URL(path, import.meta.url)));
const cvae = await load('../models/cvae.evae');
const aae = await load('../packages/models/aae.evae');
const judge = await load('../packages/models/judge/mnist.evae');
/** An RGB graph model: [8, 8, 3] images in [-1, 1] from a [4, 4, 8] image latent. The page fetches it from a route the test answers. */
const rgbBytes = buildGraphModel({ ...GRAPH_PLANS['rgb from an image latent'], seed: 12 });
const rgb = await Decoder.load(rgbBytes);
const RGB_MODEL_PATH = '/test-models/rgb.evae';

/** What the demo page sets on its two elements (examples/web/index.html); the stddevs are the files' own priors. */
const PAGE = { cvae: { seed: 1, count: 20, stddev: 1 }, aae: { seed: 1, count: 16, stddev: 2 } };

const gridOf = (decoder: Decoder, samples: Float32Array) => toImageGrid(samples, { shape: decoder.info.outputShape, range: decoder.info.range });

/** The canvas of element `id`, as RGBA bytes at its own resolution. */
async function canvasPixels(page: Page, id: string): Promise<ImageGrid> {
  const { width, height, data } = await page.evaluate((id) => {
    const canvas = document.getElementById(id)!.shadowRoot!.querySelector('canvas')!;
    const image = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
    return { width: image.width, height: image.height, data: Array.from(image.data) };
  }, id);
  return { width, height, data: Uint8ClampedArray.from(data) };
}

/** Does `action`, then waits for element `id` to draw again or to show an error; says which. */
async function after1Render(page: Page, id: string, action: () => Promise<unknown>): Promise<'edgevae-render' | 'edgevae-error'> {
  await page.evaluate((id) => {
    const element = document.getElementById(id)!;
    (window as unknown as { next: Promise<string> }).next = new Promise((resolve) => {
      for (const type of ['edgevae-render', 'edgevae-error']) element.addEventListener(type, () => resolve(type), { once: true });
    });
  }, id);
  await action();
  return page.evaluate(() => (window as unknown as { next: Promise<'edgevae-render' | 'edgevae-error'> }).next);
}

/** The 28x28 images of a grid drawn with toImageGrid's defaults (columns ceil(sqrt(n)), 1 pixel of padding), as judge input. */
function gridImages(grid: ImageGrid, count: number): Float32Array {
  const columns = Math.ceil(Math.sqrt(count));
  const images = new Float32Array(count * 784);
  for (let k = 0; k < count; k++) {
    const x0 = 1 + (k % columns) * 29;
    const y0 = 1 + Math.floor(k / columns) * 29;
    for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) images[k * 784 + y * 28 + x] = grid.data[((y0 + y) * grid.width + x0 + x) * 4] / 255;
  }
  return images;
}

const judgedLabels = (grid: ImageGrid, count: number) => Array.from(classify(judge, gridImages(grid, count)).labels);
const agreeing = (labels: number[], wanted: (i: number) => number) => labels.filter((label, i) => label === wanted(i)).length;

describe('the web page in Chromium', { skip }, () => {
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  before(async () => {
    server = await startServe();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--headless'] });
    page = await browser.newPage({ viewport: { width: 1120, height: 760 } });
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await page.route(`**${RGB_MODEL_PATH}`, (route) => route.fulfill({ status: 200, contentType: 'application/octet-stream', body: Buffer.from(rgbBytes) }));
    await page.goto(server.url);
    await page.waitForFunction(() => ['cvae', 'aae'].every((id) => !['empty', 'loading'].includes(document.querySelector<EdgeVaeSampler>(`#${id}`)!.state)));
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('loads, and both elements draw digits on their canvas (not blank; the judge reads 0..9 in turn); saves a screenshot', async () => {
    for (const id of ['cvae', 'aae']) assert.equal(await page.evaluate((id) => document.querySelector<EdgeVaeSampler>(`#${id}`)!.state, id), 'ready', id);
    assert.deepEqual(pageErrors, []);
    const grid = await canvasPixels(page, 'cvae');
    assert.equal(grid.width, 5 * 29 + 1);
    const bright = grid.data.filter((v, i) => i % 4 === 0 && v > 128).length / (grid.width * grid.height);
    assert.ok(bright > 0.05 && bright < 0.5, `share of bright pixels ${bright}`);
    const labels = judgedLabels(grid, PAGE.cvae.count);
    assert.ok(agreeing(labels, (i) => i % 10) >= 18, `the judge read ${labels.join('')} for 0..9 twice`);
    mkdirSync(new URL('.', SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT.pathname });
    assert.ok(statSync(SCREENSHOT).size > 10_000);
  });

  it('the same seed gives the same pixels as the Node runtime (strict SIMD, bit for bit)', async () => {
    assert.deepEqual(await page.evaluate(() => ['cvae', 'aae'].map((id) => document.querySelector<EdgeVaeSampler>(`#${id}`)!.decoder!.info.simd)), ['strict', 'strict']);
    assert.deepEqual(await canvasPixels(page, 'cvae'), gridOf(cvae, cvae.sample(PAGE.cvae.count, { seed: PAGE.cvae.seed })));
    assert.deepEqual(await canvasPixels(page, 'aae'), gridOf(aae, aae.sample(PAGE.aae.count, { seed: PAGE.aae.seed, stddev: PAGE.aae.stddev })));
    // A seed typed into the seed field.
    const seedField = page.locator('#cvae').locator('input.seed');
    assert.equal(await after1Render(page, 'cvae', () => seedField.fill('20261121').then(() => seedField.press('Enter'))), 'edgevae-render');
    assert.equal(await page.locator('#cvae').getAttribute('seed'), '20261121');
    assert.deepEqual(await canvasPixels(page, 'cvae'), gridOf(cvae, cvae.sample(PAGE.cvae.count, { seed: 20261121 })));
    // Regenerate: a fresh seed, drawn as Node draws it.
    assert.equal(await after1Render(page, 'cvae', () => page.locator('#cvae').getByRole('button', { name: 'Regenerate' }).click()), 'edgevae-render');
    const seed = Number(await page.locator('#cvae').getAttribute('seed'));
    assert.notEqual(seed, 20261121);
    assert.deepEqual(await canvasPixels(page, 'cvae'), gridOf(cvae, cvae.sample(PAGE.cvae.count, { seed })));
    await after1Render(page, 'cvae', () => page.locator('#cvae').evaluate((el) => el.setAttribute('seed', '1')));
  });

  it('a slider moves the image: the same pixels as Node decoding the shifted latents', async () => {
    const before = await canvasPixels(page, 'aae');
    const slider = page.locator('#aae').locator('input[type=range][data-dim="1"]');
    assert.equal(await after1Render(page, 'aae', () => slider.fill('1.5')), 'edgevae-render');
    const moved = await canvasPixels(page, 'aae');
    assert.notDeepEqual(moved.data, before.data);
    const { seed, count, stddev } = PAGE.aae;
    const latents = aae.sampleLatents(count, { seed, stddev });
    for (let i = 0; i < count; i++) latents[2 * i + 1] += 1.5 * stddev;
    assert.deepEqual(moved, gridOf(aae, aae.decode(latents)));
    assert.equal(await page.locator('#aae').locator('output').nth(1).textContent(), '1.5');
    await after1Render(page, 'aae', () => slider.fill('0'));
    assert.deepEqual(await canvasPixels(page, 'aae'), before);
  });

  it('the digit menu changes the class, as the judge classifier sees it', async () => {
    const menu = page.locator('#cvae').locator('select.digit');
    for (const digit of [3, 8]) {
      assert.equal(await after1Render(page, 'cvae', () => menu.selectOption(String(digit))), 'edgevae-render');
      assert.equal(await page.locator('#cvae').getAttribute('digit'), String(digit));
      const labels = judgedLabels(await canvasPixels(page, 'cvae'), PAGE.cvae.count);
      assert.ok(agreeing(labels, () => digit) >= 18, `asked for ${digit}s, the judge read ${labels.join('')}`);
    }
    await after1Render(page, 'cvae', () => menu.selectOption(''));
    assert.equal(await page.locator('#cvae').getAttribute('digit'), null);
  });

  it('bad attributes show their message in place of the canvas; fixing them draws again', async () => {
    const cases = [
      { id: 'cvae', attribute: 'seed', value: 'abc', message: 'seed must be an integer in 0..9007199254740991, got "abc"' },
      { id: 'cvae', attribute: 'digit', value: '10', message: 'digit must be an integer in 0..9, got "10"' },
      { id: 'cvae', attribute: 'count', value: '0', message: 'count must be an integer in 1..100, got "0"' },
      { id: 'aae', attribute: 'digit', value: '3', message: 'this model is not conditional: it takes no digit (got "3")' },
      { id: 'aae', attribute: 'stddev', value: 'wide', message: 'stddev must be a number in 0..10, got "wide"' },
    ];
    for (const { id, attribute, value, message } of cases) {
      const element = page.locator(`#${id}`);
      const previous = await element.getAttribute(attribute);
      assert.equal(await after1Render(page, id, () => element.evaluate((el, [a, v]) => el.setAttribute(a, v), [attribute, value])), 'edgevae-error');
      assert.equal(await element.locator('[role=alert]').textContent(), message);
      assert.ok(await element.locator('[role=alert]').isVisible(), `${attribute}="${value}": message visible`);
      assert.ok(!(await element.locator('canvas').isVisible()), `${attribute}="${value}": canvas hidden`);
      const restore = () => element.evaluate((el, [a, v]) => (v === null ? el.removeAttribute(a!) : el.setAttribute(a!, v)), [attribute, previous]);
      assert.equal(await after1Render(page, id, restore), 'edgevae-render');
      assert.ok(await element.locator('canvas').isVisible());
      assert.ok(!(await element.locator('[role=alert]').isVisible()));
    }
  });

  it('draws an RGB graph model in colour, the same pixels as Node for the seed; a slider moves one coordinate of its image latent', async () => {
    await page.evaluate((model) => {
      const element = document.createElement('edgevae-sampler');
      Object.assign(element, { id: 'rgb' });
      for (const [name, value] of [['model', model], ['seed', '5'], ['count', '9']]) element.setAttribute(name, value);
      document.body.append(element);
    }, RGB_MODEL_PATH);
    await page.waitForFunction(() => document.querySelector<EdgeVaeSampler>('#rgb')!.state === 'ready');
    const grid = await canvasPixels(page, 'rgb');
    assert.deepEqual(grid, gridOf(rgb, rgb.sample(9, { seed: 5 })));
    assert.ok(grid.data.some((v, i) => i % 4 === 0 && v !== grid.data[i + 1]), 'some pixel is not grey');
    assert.match((await page.locator('#rgb').locator('.status').textContent()) ?? '', /\[4, 4, 8\] latent · f32 weights · 9 samples/);
    const slider = page.locator('#rgb').locator('input[type=range][data-dim="100"]');
    assert.equal(await after1Render(page, 'rgb', () => slider.fill('2')), 'edgevae-render');
    const latents = rgb.sampleLatents(9, { seed: 5 });
    for (let i = 0; i < 9; i++) latents[i * 128 + 100] += 2;
    assert.deepEqual(await canvasPixels(page, 'rgb'), gridOf(rgb, rgb.decode(latents)));
    await page.evaluate(() => document.getElementById('rgb')!.remove());
    assert.deepEqual(pageErrors, []);
  });

  it('a model that cannot be loaded is named in a visible message', async () => {
    const cases = [
      { model: 'models/missing.evae', message: /^could not load the model http:\/\/127\.0\.0\.1:\d+\/models\/missing\.evae: HTTP 404 Not Found$/ },
      { model: 'edgevae-sampler.js', message: /^could not load the model http:\/\/127\.0\.0\.1:\d+\/edgevae-sampler\.js: not an edgevae model: the file does not start with "EVAE"$/ },
      { model: 'http://127.0.0.1:1/x.evae', message: /^could not load the model http:\/\/127\.0\.0\.1:1\/x\.evae: Failed to fetch$/ },
      { model: '', message: /^set the model attribute to the URL of an edgevae model file \(\.evae\)$/ },
    ];
    for (const { model, message } of cases) {
      const text = await page.evaluate(async (model) => {
        const element = document.createElement('edgevae-sampler');
        element.setAttribute('model', model);
        const failed = new Promise((resolve) => element.addEventListener('edgevae-error', resolve, { once: true }));
        document.body.append(element);
        await failed;
        const alert = element.shadowRoot!.querySelector<HTMLElement>('[role=alert]')!;
        const shown = !alert.hidden && alert.getBoundingClientRect().height > 0;
        element.remove();
        return shown ? alert.textContent : 'message not visible';
      }, model);
      assert.match(text ?? '', message, model);
    }
  });
});
