/**
 * The losses bundled for the browser, run in headless Chromium (Debian's `chromium`,
 * driven by playwright-core) on tfjs-backend-cpu, give the values Node gives.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { bundleForBrowser, describeNodeImports } from '../../../tools/test-utils/browser-bundle.js';
import { ediyCase, type EdiyCaseResult } from './browser/ediy-case.js';

const CHROMIUM = process.env.EDIY_CHROMIUM ?? '/usr/bin/chromium';
const skip = existsSync(CHROMIUM)
  ? undefined
  : `browser test skipped: no Chromium at ${CHROMIUM} (apt-get install chromium, or set EDIY_CHROMIUM)`;
if (skip) console.warn(skip);

let browser: Awaited<ReturnType<typeof chromium.launch>> | undefined;

beforeAll(async () => {
  if (skip) return;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless=new', '--no-sandbox'],
  });
});
afterAll(async () => {
  await browser?.close();
});

it.skipIf(skip !== undefined)(
  'computes the E-DIY loss and its gradient in Chromium as in Node',
  async () => {
    const entry = fileURLToPath(new URL('./browser/page-entry.ts', import.meta.url));
    const bundle = await bundleForBrowser(entry);
    expect(describeNodeImports(bundle)).toBe('');
    expect(bundle.errors).toEqual([]);

    const page = await browser!.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.addScriptTag({ content: bundle.code ?? '', type: 'module' });
    await page.waitForFunction(() => 'ediyCase' in globalThis);
    const inBrowser = await page.evaluate(
      (seed) =>
        (
          globalThis as unknown as {
            ediyCase: (
              s: number,
            ) => Promise<EdiyCaseResult & { initBackend: string; nativeError: string }>;
          }
        ).ediyCase(seed),
      3,
    );
    expect(errors).toEqual([]);
    expect(await page.evaluate(() => typeof (globalThis as { process?: unknown }).process)).toBe(
      'undefined',
    );

    await initBackend({ prefer: 'cpu' });
    const inNode = ediyCase(3);

    expect(inBrowser.initBackend).toBe('cpu');
    expect(inBrowser.nativeError).toBe(
      "backend 'native' failed to initialise: it runs in Node only (this is a browser)",
    );
    expect(inBrowser.backend).toBe('cpu');
    expect(inBrowser.leaked).toBe(0);
    expect(inNode.leaked).toBe(0);
    expect(inNode.total).toBeGreaterThan(0);
    for (const key of ['total', 'rDem', 'rIem', 'byol'] as const) {
      expect(Math.abs(inBrowser[key] - inNode[key])).toBeLessThanOrEqual(
        1e-6 * Math.max(1, Math.abs(inNode[key])),
      );
    }
    expect(inBrowser.grad).toHaveLength(inNode.grad.length);
    const gradDiff = Math.max(...inNode.grad.map((g, i) => Math.abs(g - inBrowser.grad[i]!)));
    expect(gradDiff).toBeLessThanOrEqual(1e-6);
    console.log(
      `E-DIY loss: node ${inNode.total}, chromium ${inBrowser.total}; max gradient difference ${gradDiff}`,
    );
  },
);
