/**
 * Entry of the data-parallel watchdog thread (started by data-parallel.ts). While the main thread
 * waits for the replicas with Atomics.wait its event loop is stopped, so it cannot hear a worker
 * thread die; this thread can: each worker holds one end of a message channel and this thread the
 * other, which closes when the worker ends for any reason. Then it raises the abort word for that
 * replica, which wakes the main thread. Only close() ends the workers on purpose, after ending this.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { raiseAbort } from './replica-sync.ts';

export interface WatchdogOrder {
  /** One channel end per worker thread, by replica number. */
  ports: { replica: number; port: MessagePort }[];
}

const port = parentPort;
if (!port) throw new Error('data-parallel-watchdog is the entry file of a thread started by data-parallel training, not a script to run');
const control = new Int32Array((workerData as { control: SharedArrayBuffer }).control);
port.on('message', ({ ports }: WatchdogOrder) => {
  for (const { replica, port: channel } of ports) channel.on('close', () => raiseAbort(control, replica));
  port.postMessage('watching');
});
