import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main } from '@ediy/cli';
import { captureIO } from './helpers.js';

const MODULE = fileURLToPath(new URL('./fixtures/list-module.ts', import.meta.url));

describe('ediy list --config', () => {
  it("lists a config module's own region losses and matchers, marked as its", async () => {
    const plain = captureIO();
    expect(await main(['list', 'losses'], plain)).toBe(0);
    expect(plain.out()).not.toContain('list-fixture-loss');

    const io = captureIO();
    expect(await main(['list', '--config', MODULE], io), io.err()).toBe(0);
    const out = io.out();
    expect(out).toMatch(
      new RegExp(`Region losses .*:\\n  r-dem, .*list-fixture-loss \\(from ${MODULE}\\)`),
    );
    expect(out).toMatch(
      new RegExp(
        `Matchers .*:\\n  teacher, random, geometric.*list-fixture-matcher \\(from ${MODULE}\\)`,
      ),
    );
    // built-in names are not marked
    expect(out).not.toMatch(/r-dem \(from/);
    expect(out).toMatch(/^Rows/);
  });

  it('names a missing config file', async () => {
    const io = captureIO();
    expect(await main(['list', '--config', 'no/such/module.ts'], io)).toBe(2);
    expect(io.err()).toMatch(/config file "no\/such\/module.ts" does not exist/);
  });
});
