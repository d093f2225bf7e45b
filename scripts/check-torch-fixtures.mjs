// Runs every torch fixture's .onnx (scripts/torch-fixtures.py) in onnxruntime-node on the inputs in
// its .bin, at the fixture's batch and at batch 1 (the dynamic axis), and compares with torch's
// outputs stored in the same .bin.
//   node scripts/check-torch-fixtures.mjs [test/fixtures/torch]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';

const dir = process.argv[2] ?? 'test/fixtures/torch';
const TOL = 1e-4;
let bad = 0;
for (const name of JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'))) {
  const m = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8'));
  const buf = readFileSync(join(dir, `${name}.bin`));
  const f = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const session = await ort.InferenceSession.create(join(dir, `${name}.onnx`));
  const out = m.outputs[0];
  for (const b of new Set([m.inputs[0].shape[0], 1])) {
    const feeds = {};
    for (const i of m.inputs) {
      const per = i.count / i.shape[0];
      feeds[i.name] = new ort.Tensor('float32', f.slice(i.offset, i.offset + per * b), [b, ...i.shape.slice(1)]);
    }
    const got = (await session.run(feeds))[out.name];
    const n = (out.count / out.shape[0]) * b;
    let maxd = 0;
    for (let k = 0; k < n; k++) maxd = Math.max(maxd, Math.abs(got.data[k] - f[out.offset + k]));
    const shapeOk = JSON.stringify(got.dims) === JSON.stringify([b, ...out.shape.slice(1)]);
    const ok = shapeOk && maxd <= TOL;
    if (!ok) bad++;
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${name.padEnd(24)} batch ${b}  dims [${got.dims}]  max |ort - torch| ${maxd.toExponential(2)}`);
  }
}
console.log(bad ? `${bad} failed` : 'all match');
process.exitCode = bad ? 1 : 0;
