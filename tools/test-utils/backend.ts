/**
 * The CPU backend the pipeline tests train on: the native engine when its addon is built
 * here (CI builds it, so the trainer and the CLI are tested on it), else plain wasm.
 * Tests about wasm itself ask for `wasm` by name instead.
 */
import { nativeEngineStatus, type BackendName } from '@ediy/backend';

/** `native` when the oneDNN addon loads here, else `wasm`. */
export async function pipelineTestBackend(): Promise<Extract<BackendName, 'native' | 'wasm'>> {
  return (await nativeEngineStatus()).available ? 'native' : 'wasm';
}
