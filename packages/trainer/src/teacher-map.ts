/**
 * The frozen teacher's layer4 map at a run's image size: the `teacher` matcher picks
 * regions of it, so a map of one cell (a torchvision ResNet's stride-32 map at 32 px)
 * is an error that says why and what would work, before any step.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';

/** `[rows, columns]` of a two-output model's first output for one `size x size` image. */
export function teacherMapSize(teacher: LayersModel, size: number): [number, number] {
  return tf.tidy(() => {
    const out = teacher.predict(tf.zeros([1, size, size, 3])) as tf.Tensor[] | tf.Tensor;
    const map = Array.isArray(out) ? (out[0] as tf.Tensor) : out;
    if (map.rank !== 4) {
      throw new Error(
        `teacher's first output must be a [batch, rows, columns, channels] map, got shape [${map.shape.join(', ')}]`,
      );
    }
    return [map.shape[1] as number, map.shape[2] as number];
  });
}

/**
 * Checks that `teacher` gives a map of at least 2 regions at `scale.imageSize`, as the
 * `teacher` matcher needs.
 * @param what - names the teacher in the error (its run or model directory).
 * @throws naming the map size at this image size, the teacher's output stride, the
 *   smallest image size that gives a 2x2 map, and the small-stem alternative.
 */
export function checkTeacherMap(teacher: LayersModel, imageSize: number, what: string): void {
  const [h, w] = teacherMapSize(teacher, imageSize);
  if (h * w >= 2) return;
  // The output stride, read from the map at a size where it has several cells.
  const probe = 256;
  const [ph] = teacherMapSize(teacher, probe);
  const stride = Math.round(probe / ph);
  throw new Error(
    `${what}: at scale.imageSize ${imageSize} the teacher's layer4 map is ${h}x${w}, one region, and the 'teacher' matcher needs at least 2 to pair regions. ` +
      `Its output stride is ${stride}${stride === 32 ? ' (the ImageNet stem of a torchvision ResNet)' : ''}: scale.imageSize ${stride + 1} or more gives a map of at least 2x2 (224: ${Math.ceil(224 / stride)}x${Math.ceil(224 / stride)}, the paper's); ` +
      `or use a teacher with the small stem (output stride 8: ${imageSize} px gives ${Math.ceil(imageSize / 8)}x${Math.ceil(imageSize / 8)}), e.g. a BYOL run of this toolkit with scale.backbone.stem 'small' (teacher: { run })`,
  );
}
