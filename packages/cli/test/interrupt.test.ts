import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { main } from '@ediy/cli';
import { EXIT_INTERRUPTED } from '../src/errors.js';
import { captureIO, tempDir } from './helpers.js';
import { pipelineTestBackend } from '../../../tools/test-utils/backend.js';

/** The native engine when built here (as in CI), else plain wasm. */
const BACKEND = await pipelineTestBackend();

beforeAll(async () => {
  await initBackend({ prefer: BACKEND });
});

describe('Ctrl-C', () => {
  it('stops a pretrain after the current step with exit code 130 and says how to resume', async () => {
    const out = join(tempDir('ediy-interrupt-'), 'runs');
    const io = captureIO();
    let sent = false;
    const stderr = {
      write: (text: string) => {
        io.stderr.write(text);
        // the first step's progress line: the run's SIGINT handler is installed by now
        if (!sent && /step 1\/4/.test(text)) {
          sent = true;
          process.emit('SIGINT');
        }
      },
    };
    const args = ['pretrain', 'table1/byol', '--preset', 'smoke', '--max-steps', '4'];
    const rest = ['--backend', BACKEND, '--out', out];
    const code = await main([...args, ...rest], { stdout: io.stdout, stderr });
    expect(sent).toBe(true);
    expect(code, io.err()).toBe(EXIT_INTERRUPTED);
    expect(EXIT_INTERRUPTED).toBe(130);
    expect(io.err()).toMatch(
      /ediy: stopped at step 1\/4 \(checkpoint .*step-00000001\); run the same command again to resume from step 1/,
    );
    expect(io.err()).not.toMatch(/ediy: error/);
  });
});
