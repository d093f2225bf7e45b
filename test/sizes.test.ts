// docs/SIZES.md states the build's sizes (wasm, browser bundles, Worker): scripts/sizes.ts writes it
// from build/ and dist/. Here it is regenerated from the current build and compared, so a change that
// moves a size fails until `node --import tsx scripts/sizes.ts --write` is run and the file committed.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sizesMarkdown } from '../scripts/sizes.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

describe('docs/SIZES.md', () => {
  it('matches the sizes of the current build (regenerate: node --import tsx scripts/sizes.ts --write)', async () => {
    assert.equal(readFileSync(join(ROOT, 'docs/SIZES.md'), 'utf8'), await sizesMarkdown(ROOT));
  });

  it('is the only place README.md and docs/ state the wasm, bundle or Worker sizes', () => {
    for (const file of ['README.md', 'docs/API.md', 'docs/WEB.md', 'docs/WORKER.md']) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      assert.doesNotMatch(text, /\d(\.\d+)? ?(KB|KiB)\b[^\n]*gzip|gzipped[^\n]*\d[\d,]* bytes/i, `${file} states a size: link docs/SIZES.md instead`);
    }
  });
});
