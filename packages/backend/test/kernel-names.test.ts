import { describe, expect, it } from 'vitest';
import { BATCH_NORM_KERNELS as NATIVE_NAMES } from '@ediy/backend-native';
import { BATCH_NORM_KERNELS } from '@ediy/backend';

describe('kernel names', () => {
  it('are spelt as @ediy/backend-native registers them', () => {
    expect(BATCH_NORM_KERNELS).toEqual(NATIVE_NAMES);
  });
});
