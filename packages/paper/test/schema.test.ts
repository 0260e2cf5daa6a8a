import { describe, expect, it } from 'vitest';
import { PRESET_NAMES, parseLayer, resolveExperiment } from '@ediy/trainer';
import { allRows } from '../src/index.js';

describe('every row', () => {
  it('fits the experiment schema and resolves at every preset, its method untouched', () => {
    for (const [id, row] of Object.entries(allRows())) {
      expect(parseLayer(row, id)).toEqual(row);
      for (const preset of PRESET_NAMES) {
        const config = resolveExperiment(row, {
          preset,
          ...(row.method.regionLosses.some((t) => t.matcher === 'teacher')
            ? { teacher: { run: 'runs/teacher' } }
            : {}),
        });
        expect(config.name).toBe(row.name);
        expect(config.method).toEqual(row.method);
      }
    }
  });
});
