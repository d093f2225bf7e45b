// TensorFlow.js backend selection: auto's choice and log, explicit cpu, wasm and edgevae running real ops, and
// the clear error for the optional tfjs-node packages when they are not installed (as on CI).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { BackendUnavailableError, selectBackend, type BackendChoice } from '../src/train/backend.ts';
import { InputError, UnsupportedError } from '../src/errors.ts';

const require = createRequire(import.meta.url);
const installed = (pkg: string) => {
  try {
    require.resolve(`${pkg}/package.json`);
    return true;
  } catch {
    return false;
  }
};
const HAS_NODE_GPU = installed('@tensorflow/tfjs-node-gpu');
const HAS_NODE = installed('@tensorflow/tfjs-node');

/** [[1, 2], [3, 4]] x [[5, 6], [7, 8]] on the active backend. */
async function matMulCheck(tf: Awaited<ReturnType<typeof selectBackend>>['tf']) {
  const product = tf.matMul(tf.tensor2d([1, 2, 3, 4], [2, 2]), tf.tensor2d([5, 6, 7, 8], [2, 2]));
  assert.deepEqual(Array.from(await product.data()), [19, 22, 43, 50]);
  // and a larger one, through the backend's real matrix kernel
  const a = tf.ones([64, 300]);
  const b = tf.fill([300, 32], 0.5);
  const c = await tf.matMul(a, b).data();
  assert.equal(c.length, 64 * 32);
  assert.ok(c.every((v) => v === 150));
}

describe('selectBackend', () => {
  it('auto picks the fastest present backend and says why it skipped the others', { skip: HAS_NODE_GPU || HAS_NODE ? 'a tfjs-node package is installed here' : false }, async () => {
    const lines: string[] = [];
    const selected = await selectBackend('auto', (m) => lines.push(m));
    assert.equal(selected.choice, 'edgevae');
    assert.equal(selected.name, 'edgevae');
    assert.equal(selected.tf.getBackend(), 'edgevae');
    assert.equal(lines.length, 1);
    assert.match(lines[0], /auto chose edgevae \(edgevae's (strict|relaxed)-SIMD matrix and convolution kernels on @tensorflow\/tfjs-backend-wasm 4\.22\.0, SIMD, 1 thread\)/);
    assert.match(lines[0], /skipped node-gpu: @tensorflow\/tfjs-node-gpu is not installed/);
    assert.match(lines[0], /skipped node: @tensorflow\/tfjs-node is not installed/);
    await matMulCheck(selected.tf);
  });

  it('cpu works, without the "running TensorFlow.js in Node.js" banner', async (t) => {
    const warn = t.mock.method(console, 'warn');
    const log = t.mock.method(console, 'log');
    const selected = await selectBackend('cpu');
    assert.equal(selected.name, 'cpu');
    assert.equal(selected.tf.getBackend(), 'cpu');
    await matMulCheck(selected.tf);
    const printed = [...warn.mock.calls, ...log.mock.calls].map((c) => c.arguments.join(' ')).join('\n');
    assert.doesNotMatch(printed, /looks like you are running TensorFlow\.js in Node\.js/);
    // PROD was only set for the warm-up write
    assert.equal(selected.tf.env().getBool('PROD'), false);
  });

  it('wasm initialises from the package files and runs a matMul', async () => {
    const selected = await selectBackend('wasm');
    assert.equal(selected.name, 'wasm');
    assert.match(selected.description, /tfjs-backend-wasm 4\.22\.0/);
    await matMulCheck(selected.tf);
    // switching back and forth keeps working (setWasmPaths is not called in a way that throws)
    await selectBackend('cpu');
    assert.equal((await selectBackend('wasm')).tf.getBackend(), 'wasm');
  });

  it('edgevae runs its own matMul on the wasm backend, and shares tensors with it', async () => {
    const selected = await selectBackend('edgevae');
    assert.equal(selected.name, 'edgevae');
    assert.equal(selected.package, '@tensorflow/tfjs-backend-wasm');
    await matMulCheck(selected.tf);
    // the same BackendWasm under two names: a tensor made on one is used on the other
    const tf = selected.tf;
    const t = tf.tensor1d([1, 2, 3]);
    await selectBackend('wasm');
    assert.deepEqual(Array.from(await tf.mul(t, 2).data()), [2, 4, 6]);
    assert.equal(tf.findBackend('wasm'), tf.findBackend('edgevae'));
    t.dispose();
  });

  it('every call hands back the same tf namespace', async () => {
    const a = await selectBackend('cpu');
    const b = await selectBackend('wasm');
    assert.equal(a.tf, b.tf);
  });

  for (const [choice, pkg, present] of [
    ['node', '@tensorflow/tfjs-node', HAS_NODE],
    ['node-gpu', '@tensorflow/tfjs-node-gpu', HAS_NODE_GPU],
  ] as const) {
    it(`${choice} without ${pkg} fails clearly, naming the package and its install command`, { skip: present ? `${pkg} is installed here` : false }, async () => {
      const before = (await selectBackend('cpu')).tf.getBackend();
      await assert.rejects(selectBackend(choice), (err: unknown) => {
        assert.ok(err instanceof BackendUnavailableError);
        assert.ok(err instanceof UnsupportedError);
        assert.equal(err.code, 'UNSUPPORTED');
        assert.equal(err.backend, choice);
        assert.equal(err.package, pkg);
        assert.equal(err.missing, true);
        assert.ok(err.message.includes(`${pkg}, which is not installed`), err.message);
        assert.ok(err.message.includes(`npm install ${pkg}@4.22.0`), err.message);
        return true;
      });
      // a failed choice leaves the active backend alone
      assert.equal((await selectBackend('cpu')).tf.getBackend(), before);
    });
  }

  it('rejects an unknown choice', async () => {
    await assert.rejects(selectBackend('webgl' as BackendChoice), InputError);
  });
});
