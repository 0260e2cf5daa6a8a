import { describe, expect, it } from 'vitest';
import {
  ADD_RELU_KERNEL as NATIVE_ADD_RELU,
  BATCH_NORM_KERNELS as NATIVE_NAMES,
} from '@ediy/backend-native';
import { ADD_RELU_KERNEL, BATCH_NORM_KERNELS } from '@ediy/backend';

describe('kernel names', () => {
  it('are spelt as @ediy/backend-native registers them', () => {
    expect(BATCH_NORM_KERNELS).toEqual(NATIVE_NAMES);
    expect(ADD_RELU_KERNEL).toBe(NATIVE_ADD_RELU);
  });
});
