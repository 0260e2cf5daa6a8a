/**
 * `--backend`: initialise the tfjs backend the user asked for and say what it got.
 */
import { initBackend, type BackendInfo, type BackendPreference } from '@ediy/backend';
import { println, type CliIO } from './io.js';

/**
 * One line describing a backend: `wasm (@tensorflow/tfjs-backend-wasm) on cpu`, or
 * `native (wasm + oneDNN 2.6.3 (2 threads, avx2)) on cpu`.
 */
export function describeBackend(info: BackendInfo): string {
  return `${info.name} (${info.engine ?? info.package}) on ${info.device}`;
}

/**
 * Initialises the backend and prints what it really got, with any warning (fallbacks
 * taken, GPU libraries missing), on standard error.
 */
export async function setupBackend(prefer: BackendPreference, io: CliIO): Promise<BackendInfo> {
  const info = await initBackend({ prefer });
  println(io.stderr, `ediy: backend ${describeBackend(info)}`);
  for (const w of info.warnings) println(io.stderr, `ediy: note: ${w}`);
  return info;
}
