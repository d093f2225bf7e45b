/**
 * `edgevae bench`'s progress line on stderr: the share done, what runs, and the time left. Drawn only
 * on a terminal, at most ten times a second, and cleared at the end. Its own few lines rather than
 * cli-progress (with its dependencies 170 KB installed), which the runtime package leaves to the
 * training side (docs/SIZES.md).
 */
export interface ProgressLine {
  update(done: number, what: string): void;
  stop(): void;
}

const WIDTH = 30;

export function progressLine(total: number, stream: NodeJS.WriteStream = process.stderr): ProgressLine {
  const started = performance.now();
  let drawn = 0;
  let shown = false;
  return {
    update(done, what) {
      const now = performance.now();
      if (!stream.isTTY || (now - drawn < 100 && done < total)) return;
      drawn = now;
      const share = total > 0 ? Math.min(1, done / total) : 1;
      const filled = Math.round(share * WIDTH);
      const left = share > 0 ? ((now - started) / 1000) * (1 / share - 1) : NaN;
      const eta = Number.isFinite(left) ? `${Math.ceil(left)}s` : '?';
      stream.write(`\r\x1b[2Kbench |${'█'.repeat(filled)}${'░'.repeat(WIDTH - filled)}| ${Math.round(share * 100)}% | ${what} | ETA ${eta}`);
      shown = true;
    },
    stop() {
      if (shown) stream.write('\r\x1b[2K');
    },
  };
}
