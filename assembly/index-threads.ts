// The build that shares one decode between threads (src/runtime/threads.ts): every export of the
// plain build, and runShare, in a memory the host imports and shares (asconfig.json "threads").
export * from './index';
export { runShare } from './executor-threads';
