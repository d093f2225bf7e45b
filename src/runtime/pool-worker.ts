/**
 * The worker side of a DecoderPool, whatever the platform: holds one Decoder (its own wasm instance)
 * and answers the pool's requests with it. Platform entry files (src/node/pool-worker.ts,
 * src/web/pool-worker.ts) only connect it to their message port.
 */
import { RuntimeError } from '../errors.ts';
import { Decoder } from './decoder.ts';
import { errorToData, type DecoderCall, type PoolReply, type PoolRequest } from './pool-protocol.ts';

/** The worker's end of the channel to its pool. */
export interface PoolWorkerScope {
  post(reply: PoolReply, transfer: ArrayBuffer[]): void;
  receive(handler: (request: PoolRequest) => void): void;
}

export function serveDecoder(scope: PoolWorkerScope): void {
  let decoder: Decoder | undefined;
  scope.receive(async (request) => {
    try {
      if (request.kind === 'load') {
        decoder = await Decoder.load(request.model, request.options);
        scope.post({ id: request.id, ok: true, value: decoder.info }, []);
        return;
      }
      if (!decoder) throw new RuntimeError('this decoder pool worker was asked to decode before it loaded a model');
      const samples = ownBuffer(callDecoder(decoder, request.call));
      // Transferred, not copied: the pool receives the worker's array itself.
      scope.post({ id: request.id, ok: true, value: samples }, [samples.buffer as ArrayBuffer]);
    } catch (error) {
      scope.post({ id: request.id, ok: false, error: errorToData(error) }, []);
    }
  });
}

function callDecoder(decoder: Decoder, call: DecoderCall): Float32Array {
  switch (call.method) {
    case 'sample': return decoder.sample(call.n, call.options);
    case 'sampleLatents': return decoder.sampleLatents(call.n, call.options);
    case 'decode': return decoder.decode(call.latents, call.labels, call.options);
    case 'traverse': return decoder.traverse(call.options);
  }
}

/** The decoder returns arrays that own their whole buffer; this keeps transferring safe if that changes. */
function ownBuffer(samples: Float32Array): Float32Array {
  return samples.byteOffset === 0 && samples.byteLength === samples.buffer.byteLength ? samples : samples.slice();
}
