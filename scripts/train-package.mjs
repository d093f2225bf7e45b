// Fills packages/train/dist (edgevae-train, the training side) from this checkout's build: a copy of
// dist/ without the browser bundles. The runtime package (edgevae) ships only the runtime's part of
// dist/ (package.json "files"); the training package ships the whole compiled tree, so its modules
// keep their relative imports and need no rewriting, and brings TensorFlow.js and the other training
// libraries as its dependencies. Run by that package's prepack (npm pack -w packages/train), after
// the root's build.
import { cpSync, existsSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const path = (relative) => fileURLToPath(new URL(`../${relative}`, import.meta.url));
if (!existsSync(path('dist/cli/training.js'))) {
  console.error('dist/ has no training side to copy: run "npm run build" in the repository first');
  process.exit(1);
}
rmSync(path('packages/train/dist'), { recursive: true, force: true });
cpSync(path('dist'), path('packages/train/dist'), {
  recursive: true,
  filter: (source) => !source.startsWith(path('dist/browser')) && !source.endsWith('.map'),
});
console.log('packages/train/dist: copied from dist/ (without dist/browser)');
