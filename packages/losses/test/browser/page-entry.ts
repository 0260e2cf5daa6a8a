/**
 * The browser page's script: tfjs-core's gradients and the cpu backend registered the
 * way a web application registers them, then {@link ediyCase} exposed to the test.
 */
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-cpu';
import { initBackend } from '@ediy/backend';
import { ediyCase } from './ediy-case.js';

(globalThis as Record<string, unknown>).ediyCase = async (seed: number) => {
  // a Node-only backend asked for by name says so
  const nativeError = await initBackend({ prefer: 'native' }).then(
    () => 'no error',
    (err: Error) => err.message,
  );
  const info = await initBackend({ prefer: 'cpu' });
  return { ...ediyCase(seed), initBackend: info.name, nativeError };
};
