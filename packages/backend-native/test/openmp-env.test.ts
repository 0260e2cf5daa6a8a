/**
 * OpenMP's wait policy: the addon's default (`OPENMP_WAIT_DEFAULTS`) is what libgomp uses
 * when the user set none of its wait variables, and a user's own `OMP_WAIT_POLICY` or
 * `GOMP_SPINCOUNT` wins. libgomp reads them once, when it loads with the addon, so each
 * case runs in a child process that loads the addon as the package does, with
 * `OMP_DISPLAY_ENV=VERBOSE` (libgomp then prints the values it took).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { OPENMP_WAIT_DEFAULTS, applyOpenMpWaitDefaults } from '../src/addon.js';
import { availability } from './helpers.js';

const describeNative = describe.skipIf(!availability.available);
const FIXTURE = fileURLToPath(new URL('./fixtures/openmp-env.ts', import.meta.url));
const PACKAGE = fileURLToPath(new URL('..', import.meta.url));

/** libgomp's values of OMP_WAIT_POLICY and GOMP_SPINCOUNT in a child with `env` added. */
function libgompValues(env: Record<string, string>): {
  policy: string;
  spin: string;
  set: string[];
  workSharing: boolean;
} {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env, OMP_DISPLAY_ENV: 'VERBOSE' };
  for (const k of ['OMP_WAIT_POLICY', 'GOMP_SPINCOUNT', 'EDIY_WORK_SHARING']) {
    if (!(k in env)) delete childEnv[k];
  }
  const run = spawnSync(process.execPath, ['--import', 'tsx', FIXTURE], {
    cwd: PACKAGE,
    env: childEnv,
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(run.status, run.stderr).toBe(0);
  const policy = /OMP_WAIT_POLICY = '(\w+)'/.exec(run.stderr)?.[1];
  const spin = /GOMP_SPINCOUNT = '(\d+)'/.exec(run.stderr)?.[1];
  if (policy === undefined || spin === undefined) {
    throw new Error(`libgomp printed no wait values:\n${run.stderr}`);
  }
  const { set, workSharing } = JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}') as {
    set: string[];
    workSharing: boolean;
  };
  return { policy, spin, set, workSharing };
}

describe('applyOpenMpWaitDefaults', () => {
  it('sets the defaults when neither variable is set', () => {
    const env: NodeJS.ProcessEnv = { PATH: '/bin' };
    expect(applyOpenMpWaitDefaults(env)).toEqual(OPENMP_WAIT_DEFAULTS);
    expect(env).toEqual({ PATH: '/bin', ...OPENMP_WAIT_DEFAULTS });
  });

  it("leaves both alone when the user set either (the user's value wins)", () => {
    for (const user of [
      { OMP_WAIT_POLICY: 'ACTIVE' },
      { OMP_WAIT_POLICY: 'passive' },
      { GOMP_SPINCOUNT: '5' },
      { GOMP_SPINCOUNT: '' },
    ]) {
      const env: NodeJS.ProcessEnv = { ...user };
      expect(applyOpenMpWaitDefaults(env)).toEqual({});
      expect(env).toEqual(user);
    }
  });
});

describeNative("libgomp's wait values with the addon loaded", () => {
  it('are the defaults when the user set none', () => {
    const got = libgompValues({});
    expect(got.set.sort()).toEqual(Object.keys(OPENMP_WAIT_DEFAULTS).sort());
    const spin =
      OPENMP_WAIT_DEFAULTS.GOMP_SPINCOUNT ??
      (OPENMP_WAIT_DEFAULTS.OMP_WAIT_POLICY === 'PASSIVE' ? '0' : undefined);
    expect(got.spin).toBe(spin);
    if (OPENMP_WAIT_DEFAULTS.OMP_WAIT_POLICY === 'ACTIVE') expect(got.policy).toBe('ACTIVE');
    // Threads that sleep between regions: the addon's own kernels share work instead.
    expect(got.workSharing).toBe(OPENMP_WAIT_DEFAULTS.OMP_WAIT_POLICY === 'PASSIVE');
  }, 90_000);

  it("are the user's OMP_WAIT_POLICY=ACTIVE (spinning for good)", () => {
    const got = libgompValues({ OMP_WAIT_POLICY: 'ACTIVE' });
    expect(got.set).toEqual([]);
    expect(got.policy).toBe('ACTIVE');
    expect(got.spin).toBe('30000000000');
    expect(got.workSharing).toBe(false);
  }, 90_000);

  it("are the user's GOMP_SPINCOUNT", () => {
    const got = libgompValues({ GOMP_SPINCOUNT: '77' });
    expect(got.set).toEqual([]);
    expect(got.spin).toBe('77');
    expect(got.workSharing).toBe(false);
  }, 90_000);

  it('leave the work sharing to EDIY_WORK_SHARING where it is set', () => {
    expect(libgompValues({ EDIY_WORK_SHARING: 'off' }).workSharing).toBe(false);
    expect(libgompValues({ EDIY_WORK_SHARING: 'ON', OMP_WAIT_POLICY: 'ACTIVE' }).workSharing).toBe(
      true,
    );
    expect(libgompValues({ OMP_WAIT_POLICY: 'passive' }).workSharing).toBe(true);
  }, 90_000);
});
