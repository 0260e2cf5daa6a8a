/**
 * Times `ediy reproduce <table> --preset <preset>` (default table1, smoke) into a
 * temporary folder and prints the wall time and each run's training and evaluation time.
 *
 *   npm run bench -w packages/cli                 # table1 smoke
 *   npm run bench -w packages/cli -- table2 mini
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '@ediy/backend';
import {
  readRunEval,
  reproduce,
  REPRODUCIBLE_TABLES,
  type ReproducibleTable,
} from '../src/index.js';
import { PRESET_NAMES, type PresetName } from '@ediy/trainer';

const table = (process.argv[2] ?? 'table1') as ReproducibleTable;
const preset = (process.argv[3] ?? 'smoke') as PresetName;
if (!REPRODUCIBLE_TABLES.includes(table))
  throw new Error(`table must be one of ${REPRODUCIBLE_TABLES.join(', ')}, got ${table}`);
if (!PRESET_NAMES.includes(preset))
  throw new Error(`preset must be one of ${PRESET_NAMES.join(', ')}, got ${preset}`);

const info = await initBackend({ prefer: 'auto' });
const out = mkdtempSync(join(tmpdir(), 'ediy-bench-'));
try {
  const t0 = performance.now();
  const { results } = await reproduce({ table, preset, out, progress: null, backend: info.name });
  const wall = (performance.now() - t0) / 1000;
  console.log(
    `reproduce ${table} --preset ${preset} on ${info.name} (${info.device}): ${wall.toFixed(1)} s wall`,
  );
  for (const row of results.rows) {
    for (const run of row.runs) {
      const rec = readRunEval(join(run.runDir, 'eval.json'));
      console.log(
        `  ${row.id.padEnd(20)} seed ${run.seed}: ${run.steps} steps, train ${rec.trainSeconds.toFixed(1)} s, eval ${rec.evalSeconds.toFixed(1)} s`,
      );
    }
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}
