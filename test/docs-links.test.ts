// Every relative link in README.md and docs/*.md points at a file of the repository, and every
// #anchor at a heading of its target (GitHub's heading ids), so moving a section cannot leave a dead link.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const FILES = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** The text outside fenced code blocks. */
function prose(text: string): string {
  return text.replace(/^[ \t]*```[\s\S]*?^[ \t]*```/gm, '');
}

/** GitHub's id for a heading: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(text: string): Set<string> {
  const ids = new Set<string>();
  const seen = new Map<string, number>();
  for (const [, title] of prose(text).matchAll(/^#{1,6}[ \t]+(.+?)[ \t]*#*$/gm)) {
    const base = title.replace(/<[^>]*>/g, (tag) => tag.replace(/[<>]/g, '')).toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    ids.add(n === 0 ? base : `${base}-${n}`);
  }
  return ids;
}

function links(text: string): string[] {
  return [...prose(text).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]!)
    .filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target));
}

describe('links in README.md and docs/', () => {
  for (const file of FILES) {
    it(`${file}: every relative link and anchor resolves`, () => {
      const text = readFileSync(join(ROOT, file), 'utf8');
      const dead: string[] = [];
      for (const target of links(text)) {
        const [path, anchor] = target.split('#') as [string, string | undefined];
        const resolved = path === '' ? join(ROOT, file) : join(ROOT, dirname(file), decodeURIComponent(path));
        if (!existsSync(resolved)) { dead.push(`${target} (no ${relative(ROOT, resolved)})`); continue; }
        if (anchor !== undefined && statSync(resolved).isFile() && resolved.endsWith('.md')
          && !anchors(readFileSync(resolved, 'utf8')).has(anchor.toLowerCase())) dead.push(`${target} (no heading #${anchor})`);
      }
      assert.deepEqual(dead, [], `${file} has dead links`);
    });
  }
});
