/**
 * The decode thread of {@link StreamingImageLoader}: reads each requested file with sharp,
 * applies its EXIF orientation, cuts the given box, resizes it to the output side, flips
 * it when asked, and sends the pixels back as floats in [0, 1] (the buffer is
 * transferred, not copied). Requests are handled one at a time, in the order received.
 * @internal
 */
import { parentPort } from 'node:worker_threads';
import sharp from 'sharp';
import type { DecodeRequest, DecodeResponse } from './decode-protocol.js';

sharp.concurrency(1);
sharp.cache(false);

async function decodeOne(
  request: DecodeRequest,
  k: number,
  out: Float32Array,
): Promise<string | null> {
  const task = request.tasks[k] as DecodeRequest['tasks'][number];
  const { size, channels } = request;
  try {
    let img = sharp(task.path).autoOrient().extract(task.crop).resize(size, size, { fit: 'fill' });
    if (task.flip) img = img.flop();
    img = img.removeAlpha().toColourspace(channels === 3 ? 'srgb' : 'b-w');
    const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
    const n = size * size * channels;
    if (info.channels !== channels || data.length !== n) {
      throw new Error(
        `decoded ${info.width}x${info.height}x${info.channels}, expected ${size}x${size}x${channels}`,
      );
    }
    const base = k * n;
    for (let p = 0; p < n; p++) out[base + p] = (data[p] as number) / 255;
    return null;
  } catch (err) {
    return (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').trim();
  }
}

async function handle(request: DecodeRequest): Promise<void> {
  const n = request.size * request.size * request.channels;
  const out = new Float32Array(request.tasks.length * n);
  const errors: (string | null)[] = [];
  for (let k = 0; k < request.tasks.length; k++) errors.push(await decodeOne(request, k, out));
  const response: DecodeResponse = { id: request.id, buffer: out.buffer, errors };
  parentPort?.postMessage(response, [out.buffer]);
}

let chain: Promise<void> = Promise.resolve();
parentPort?.on('message', (request: DecodeRequest) => {
  chain = chain.then(() => handle(request));
});
