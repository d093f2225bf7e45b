// Joins a one-hot class label to each sample's flat activation (conditional decoders).

/** Returns false if a label is outside 0..classes-1 (the host checks first; this is a backstop). */
export function concatLabel(x: usize, y: usize, batch: i32, size: i32, labels: usize, classes: i32, labelFirst: bool): bool {
  const outSize = size + classes;
  for (let b = 0; b < batch; b++) {
    const label = load<i32>(labels + (<usize>b << 2));
    if (label < 0 || label >= classes) return false;
    const row = y + (<usize>(b * outSize) << 2);
    const features = labelFirst ? row + (<usize>classes << 2) : row;
    const oneHot = labelFirst ? row : row + (<usize>size << 2);
    memory.copy(features, x + (<usize>(b * size) << 2), <usize>size << 2);
    memory.fill(oneHot, 0, <usize>classes << 2);
    store<f32>(oneHot + (<usize>label << 2), 1.0);
  }
  return true;
}
