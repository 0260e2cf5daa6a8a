import { describe, expect, it } from 'vitest';
import { emaTau, warmupCosineLr } from '@ediy/optim';

describe('warmupCosineLr', () => {
  const cfg = { baseLr: 0.2, batchSize: 512, warmupSteps: 2, totalSteps: 6 };

  it('matches values worked out by hand', () => {
    // peak = 0.2 * 512 / 256 = 0.4
    const expected = [
      0, // step 0: 0.4 * 0/2
      0.2, // step 1: 0.4 * 1/2
      0.4, // step 2: cosine at progress 0 -> 0.4
      0.3414214, // step 3: progress 1/4 -> 0.4 * (1 + cos(pi/4)) / 2 = 0.2 * 1.7071068
      0.2, // step 4: progress 1/2 -> 0.4 * (1 + 0) / 2
      0.0585786, // step 5: progress 3/4 -> 0.2 * (1 - 0.7071068)
      0, // step 6: progress 1 -> 0.4 * (1 - 1) / 2
    ];
    expected.forEach((lr, step) => expect(warmupCosineLr(cfg, step)).toBeCloseTo(lr, 6));
  });

  it('scales to 3.2 at BYOL batch 4096 and starts at the peak without warm-up', () => {
    expect(
      warmupCosineLr({ baseLr: 0.2, batchSize: 4096, warmupSteps: 0, totalSteps: 10 }, 0),
    ).toBeCloseTo(3.2, 10);
  });

  it('rises during warm-up and falls after it', () => {
    const c = { baseLr: 0.2, batchSize: 256, warmupSteps: 10, totalSteps: 100 };
    const lrs = Array.from({ length: 101 }, (_, k) => warmupCosineLr(c, k));
    for (let k = 1; k <= 10; k++) expect(lrs[k]).toBeGreaterThan(lrs[k - 1] as number);
    for (let k = 11; k <= 100; k++) expect(lrs[k]).toBeLessThan(lrs[k - 1] as number);
    expect(Math.max(...lrs)).toBeCloseTo(0.2, 12);
    expect(lrs[100]).toBeCloseTo(0, 12);
  });

  it('rejects bad inputs, naming the value', () => {
    expect(() => warmupCosineLr({ ...cfg, baseLr: -1 }, 0)).toThrow(
      /baseLr must be a number in \[0, Infinity\], got -1/,
    );
    expect(() => warmupCosineLr({ ...cfg, batchSize: 0 }, 0)).toThrow(
      /batchSize must be an integer >= 1, got 0/,
    );
    expect(() => warmupCosineLr({ ...cfg, warmupSteps: 7 }, 0)).toThrow(
      /warmupSteps must be < totalSteps \(6\), got 7/,
    );
    expect(() => warmupCosineLr({ ...cfg, warmupSteps: 6 }, 0)).toThrow(
      /warmupSteps must be < totalSteps/,
    );
    expect(() => warmupCosineLr({ ...cfg, totalSteps: 0 }, 0)).toThrow(
      /totalSteps must be an integer >= 1, got 0/,
    );
    expect(() => warmupCosineLr(cfg, 7)).toThrow(
      /step must be an integer in \[0, 6\] \(totalSteps\), got 7/,
    );
    expect(() => warmupCosineLr(cfg, -1)).toThrow(/got -1/);
    expect(() => warmupCosineLr(cfg, 1.5)).toThrow(/got 1.5/);
    expect(() => warmupCosineLr(cfg, NaN)).toThrow(/got NaN/);
  });
});

describe('emaTau', () => {
  it('matches values worked out by hand', () => {
    const expected = [
      0.996, // k=0: 1 - 0.004 * (1 + 1)/2
      0.9965858, // k=1: 1 - 0.004 * (0.7071068 + 1)/2 = 1 - 0.0034142
      0.998, // k=2: 1 - 0.004 * (0 + 1)/2
      0.9994142, // k=3: 1 - 0.004 * (1 - 0.7071068)/2 = 1 - 0.0005858
      1, // k=4: 1 - 0.004 * (-1 + 1)/2
    ];
    expected.forEach((tau, k) =>
      expect(emaTau({ tau0: 0.996, totalSteps: 4 }, k)).toBeCloseTo(tau, 7),
    );
  });

  it('defaults tau0 to BYOL 0.996 and rises monotonically to 1', () => {
    expect(emaTau({ totalSteps: 50 }, 0)).toBeCloseTo(0.996, 12);
    const taus = Array.from({ length: 51 }, (_, k) => emaTau({ totalSteps: 50 }, k));
    for (let k = 1; k <= 50; k++) expect(taus[k]).toBeGreaterThan(taus[k - 1] as number);
    expect(taus[50]).toBe(1);
  });

  it('rejects bad inputs, naming the value', () => {
    expect(() => emaTau({ tau0: 1.2, totalSteps: 4 }, 0)).toThrow(
      /tau0 must be a number in \[0, 1\], got 1.2/,
    );
    expect(() => emaTau({ totalSteps: 0 }, 0)).toThrow(/totalSteps must be an integer >= 1, got 0/);
    expect(() => emaTau({ totalSteps: 4 }, 5)).toThrow(
      /emaTau step must be an integer in \[0, 4\] \(totalSteps\), got 5/,
    );
  });
});
