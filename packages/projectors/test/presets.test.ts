import { describe, expect, it } from 'vitest';
import { BYOL_PREDICTOR, BYOL_PROJECTOR, scaleSpecs } from '@ediy/projectors';

describe('BYOL presets', () => {
  it("are BYOL's heads: Linear 4096 - BN - ReLU - Linear 256 (no bias)", () => {
    expect(BYOL_PROJECTOR).toEqual([
      { units: 4096, norm: 'bn', act: 'relu', bias: true },
      { units: 256, norm: 'none', act: 'none', bias: false },
    ]);
    expect(BYOL_PREDICTOR).toEqual(BYOL_PROJECTOR);
  });

  it('cannot be modified', () => {
    expect(Object.isFrozen(BYOL_PROJECTOR)).toBe(true);
    expect(Object.isFrozen(BYOL_PROJECTOR[0])).toBe(true);
    expect(() => {
      (BYOL_PROJECTOR[0] as { units: number }).units = 1;
    }).toThrow(TypeError);
  });
});

describe('scaleSpecs', () => {
  it('resizes hidden layers and the last layer, keeping the rest', () => {
    expect(scaleSpecs(BYOL_PROJECTOR, { hidden: 512, out: 128 })).toEqual([
      { units: 512, norm: 'bn', act: 'relu', bias: true },
      { units: 128, norm: 'none', act: 'none', bias: false },
    ]);
    expect(
      scaleSpecs([{ units: 9 }, { units: 9, act: 'relu' }, { units: 9 }], {
        hidden: 4,
        out: 2,
      }).map((s) => s.units),
    ).toEqual([4, 4, 2]);
    expect(BYOL_PROJECTOR[0]?.units).toBe(4096);
  });

  it('rejects bad sizes and specs, naming them', () => {
    expect(() => scaleSpecs(BYOL_PROJECTOR, { hidden: 0, out: 8 })).toThrow(
      /scaleSpecs hidden must be an integer >= 1, got 0/,
    );
    expect(() => scaleSpecs(BYOL_PROJECTOR, { hidden: 8, out: 1.5 })).toThrow(
      /scaleSpecs out must be an integer >= 1, got 1.5/,
    );
    expect(() => scaleSpecs([{ units: 4, norm: 'gn' as never }], { hidden: 8, out: 8 })).toThrow(
      /scaleSpecs: specs\[0\]\.norm must be 'bn' or 'none', got "gn"/,
    );
  });
});
