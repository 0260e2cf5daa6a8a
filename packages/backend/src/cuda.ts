/**
 * What tfjs-node-gpu needs from the machine: the CUDA 11 libraries libtensorflow dlopens
 * and an NVIDIA driver. Node only (it reads directories and runs `ldconfig`).
 */
import { existsSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

/** The CUDA 11.2 / cuDNN 8.1 libraries libtensorflow 2.9.1 (tfjs-node-gpu 4.x) dlopens. */
export const CUDA11_LIBRARIES = [
  'libcudart.so.11.0',
  'libcublas.so.11',
  'libcublasLt.so.11',
  'libcufft.so.10',
  'libcurand.so.10',
  'libcusolver.so.11',
  'libcusparse.so.11',
  'libcudnn.so.8',
] as const;

/**
 * Looks for the CUDA 11 libraries tfjs-node-gpu needs, in LD_LIBRARY_PATH and the
 * dynamic linker cache. tfjs-node-gpu does not fail without them: libtensorflow logs a
 * warning and runs every op on the CPU, so this check is how ediy tells the two apart.
 * @returns the libraries that could not be found (empty when a GPU run is possible).
 */
export function missingCudaLibraries(env: NodeJS.ProcessEnv = process.env): string[] {
  const found = new Set<string>();
  for (const dir of (env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean)) {
    try {
      for (const f of readdirSync(dir)) found.add(f);
    } catch {
      // unreadable directory: nothing found there
    }
  }
  try {
    const cache = execFileSync('ldconfig', ['-p'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    for (const line of cache.split('\n')) {
      const lib = line.trim().split(' ')[0];
      if (lib) found.add(lib);
    }
  } catch {
    // no ldconfig: rely on LD_LIBRARY_PATH alone
  }
  return CUDA11_LIBRARIES.filter((lib) => !found.has(lib));
}

/** Whether an NVIDIA device node exists (a driver is loaded). */
export function hasNvidiaDevice(): boolean {
  return existsSync('/dev/nvidia0') || existsSync('/dev/nvidiactl');
}
