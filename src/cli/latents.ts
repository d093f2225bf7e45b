/**
 * `edgevae decode --latents FILE`: latents given as JSON, the way a script or another framework
 * writes them: an array of rows (each the model's latentSize numbers) or one flat array of numbers.
 * Image latents are channels-last [h, w, c] per row unless the command is told `--layout NCHW`.
 */
import { InputError } from '../errors.ts';

/** The latents in a JSON file's text, as one flat array; `file` names the file in messages. */
export function parseLatentsJson(text: string, file: string, latentSize: number, maxRows: number): Float32Array {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new InputError(`latents file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  const expected = `an array of rows of ${latentSize} numbers (the model's latent size), or one flat array of numbers`;
  if (!Array.isArray(json) || json.length === 0) throw new InputError(`latents file ${file} must hold ${expected}`);
  const rows = Array.isArray(json[0]) ? (json as unknown[]) : null;
  const count = rows ? rows.length : json.length / latentSize;
  if (!Number.isInteger(count)) throw new InputError(`latents file ${file} holds ${json.length} numbers: not a whole number of ${latentSize}-value latents`);
  if (count > maxRows) throw new InputError(`latents file ${file} holds ${count} latents; at most ${maxRows} are decoded at once`);
  const flat = new Float32Array(count * latentSize);
  const put = (value: unknown, at: number, where: string) => {
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new InputError(`latents file ${file}: ${where} must be a finite number, got ${JSON.stringify(value)}`);
    flat[at] = value;
  };
  if (!rows) (json as unknown[]).forEach((value, i) => put(value, i, `[${i}]`));
  else {
    rows.forEach((row, i) => {
      if (!Array.isArray(row) || row.length !== latentSize) throw new InputError(`latents file ${file}: row ${i} must be an array of ${latentSize} numbers (the model's latent size)`);
      row.forEach((value: unknown, j) => put(value, i * latentSize + j, `[${i}][${j}]`));
    });
  }
  return flat;
}
