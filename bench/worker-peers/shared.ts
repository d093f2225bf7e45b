/**
 * What the three peer Workers share: one endpoint, GET /run?n=N&repeats=R, that decodes R batches of N samples
 * of the shipped cvae's architecture and answers {n, checksum} (the sum of the outputs, so the work cannot be skipped),
 * or a 500 with the error when the runtime does not load. Times are taken by the caller
 * (bench/worker-peers.ts), outside workerd, whose clocks stand still while a request computes.
 */
export type DecodeBatch = (n: number) => Promise<Float32Array>;

export interface PeerEnv {
  /**
   * 'defaults': the library finds and loads its wasm its own way. 'wasmBinary': it is handed the wasm's
   * bytes (onnxruntime-web's documented option). 'precompiled': WebAssembly.instantiate is routed to
   * the module bundled with the Worker.
   */
  INSTANTIATE?: 'defaults' | 'wasmBinary' | 'precompiled';
}

export function peerWorker(load: (env: PeerEnv) => Promise<DecodeBatch>) {
  let decode: Promise<DecodeBatch> | undefined;
  return {
    async fetch(request: Request, env: PeerEnv): Promise<Response> {
      try {
        const query = new URL(request.url).searchParams;
        const n = Number(query.get('n') ?? '1');
        const repeats = Number(query.get('repeats') ?? '1'); // batches per request, so HTTP costs little beside them
        decode ??= load(env);
        const run = await decode;
        let checksum = 0;
        for (let r = 0; r < repeats; r++) checksum = (await run(n)).reduce((sum, v) => sum + v, 0);
        return Response.json({ n, repeats, checksum });
      } catch (err) {
        return Response.json({ error: String((err as Error)?.message ?? err), stack: (err as Error)?.stack }, { status: 500 });
      }
    },
  };
}

/**
 * Workers refuse to compile wasm from bytes at run time ("Wasm code generation disallowed by embedder"),
 * and neither peer takes a compiled WebAssembly.Module. This routes their byte-taking calls to `module`,
 * imported with the Worker: the workaround a Worker using them would need.
 */
export function routeInstantiateTo(module: WebAssembly.Module): void {
  const instantiate = WebAssembly.instantiate.bind(WebAssembly);
  const withModule = async (imports?: WebAssembly.Imports) => ({ module, instance: await instantiate(module, imports) });
  WebAssembly.instantiate = ((source: unknown, imports?: WebAssembly.Imports) =>
    source instanceof WebAssembly.Module ? instantiate(source, imports) : withModule(imports)) as typeof WebAssembly.instantiate;
  WebAssembly.instantiateStreaming = ((response: Promise<Response>, imports?: WebAssembly.Imports) => {
    Promise.resolve(response).catch(() => undefined); // the fetched bytes are not needed
    return withModule(imports);
  }) as typeof WebAssembly.instantiateStreaming;
}

/** The cvae's input for sample i: 10 latent values and a one-hot label of 10 classes, deterministic. */
export function conditionalInputs(n: number): { latents: Float32Array; oneHot: Float32Array } {
  const latents = Float32Array.from({ length: n * 10 }, (_, k) => Math.sin(k * 0.37));
  const oneHot = new Float32Array(n * 10);
  for (let i = 0; i < n; i++) oneHot[i * 10 + (i % 10)] = 1;
  return { latents, oneHot };
}

