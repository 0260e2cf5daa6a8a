/**
 * Messages between {@link StreamingImageLoader} and its decode threads.
 * @internal
 */
import type { CropBox } from './crop.js';

/** A request to a decode thread: the images of one chunk of a batch. */
export interface DecodeRequest {
  /** Request id, echoed in the response. */
  id: number;
  /** Output side in pixels. */
  size: number;
  /** Output channels. */
  channels: 1 | 3;
  /** One entry per image. */
  tasks: { path: string; crop: CropBox; flip: boolean }[];
}

/** A decode thread's answer: `tasks.length * size * size * channels` floats, and one error (or null) per image. */
export interface DecodeResponse {
  /** The request's id. */
  id: number;
  /** Float32 pixels in [0, 1], NHWC. */
  buffer: ArrayBuffer;
  /** Why each image could not be read, or null. */
  errors: (string | null)[];
}
