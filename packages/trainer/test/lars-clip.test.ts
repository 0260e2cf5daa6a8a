import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { parseExperiment, pretrain } from '@ediy/trainer';
import { BYOL_ROW, smoke, tempDir } from './helpers.js';
import { pipelineTestBackend } from '../../../tools/test-utils/backend.js';

const BACKEND = await pipelineTestBackend();

beforeAll(async () => {
  await initBackend({ prefer: BACKEND });
});

describe('optim.larsClip', () => {
  it('reaches LARS: the same first loss, another update with the clipped trust ratio', async () => {
    const base = smoke(BYOL_ROW, 2);
    const clipped = parseExperiment({ ...base, optim: { ...base.optim, larsClip: true } });
    const run = async (config: typeof base) =>
      (await pretrain(config, { runDir: tempDir('clip'), progress: null })).records.map(
        (r) => r.loss,
      );
    const [plain, clip] = [await run(base), await run(clipped)];
    expect(clip[0]).toBe(plain[0]);
    expect(clip[1]).not.toBe(plain[1]);
    // false is BYOL's LARS: the very run without the field.
    const off = await run(parseExperiment({ ...base, optim: { ...base.optim, larsClip: false } }));
    expect(off).toEqual(plain);
  });

  it('is a boolean', () => {
    const base = smoke(BYOL_ROW, 2);
    expect(() => parseExperiment({ ...base, optim: { ...base.optim, larsClip: 'yes' } })).toThrow(
      'config.optim.larsClip must be true or false, got "yes"',
    );
  });
});
