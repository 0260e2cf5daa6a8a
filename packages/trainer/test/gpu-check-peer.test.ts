/**
 * The PyTorch peer of the benchmarked step (tools/bench/torch_step.py) and its part of
 * the GPU check (tools/gpu-check-peer.ts): the CPU path still gives what the trainer's
 * benchmark reads, `--device cuda` refuses clearly without CUDA, and the check's rows
 * and table from given probe results (with CUDA, without, without torch).
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { runTorchStep, TORCH_STEP } from '../bench/torch.js';
import {
  formatTable,
  imagesPerSecondOf,
  parsePeerOutput,
  parseTorchProbe,
  peerArgs,
  peerRow,
  TORCH_PROBE,
  torchPython,
  type PeerScale,
} from '../../../tools/gpu-check-peer.js';

const PYTHON = torchPython();
const probe = spawnSync(PYTHON, ['-c', TORCH_PROBE], { encoding: 'utf8', timeout: 120_000 });
const found = parseTorchProbe({ ok: probe.status === 0, out: probe.stdout ?? '' }, PYTHON);
const noTorch = found.kind === 'missing' ? found.reason : undefined;

function script(args: string[]) {
  return spawnSync(PYTHON, [TORCH_STEP, ...args], { encoding: 'utf8', timeout: 300_000 });
}

describe.skipIf(noTorch !== undefined)(`torch_step.py (${noTorch ?? PYTHON})`, () => {
  it('--device cpu (the default) prints what the benchmark reads', () => {
    const r = runTorchStep({ width: 4, batch: 4, size: 16, steps: 2, threads: 1 });
    if (typeof r === 'string') throw new Error(r);
    expect(r.threads).toBe(1);
    expect(r.torch).toMatch(/^\d+\.\d+/);
    expect(r.stepsMs).toHaveLength(2);
    expect(r.msPerStep).toBeCloseTo((r.stepsMs[0]! + r.stepsMs[1]!) / 2, 6);
    expect(r.imagesPerSecond).toBeCloseTo(4000 / r.msPerStep, 6);
    expect(r.cpuSecondsPerStep).toBeGreaterThan(0);
  });

  it.skipIf(found.kind === 'cuda')('--device cuda without CUDA exits 2 and says why', () => {
    const r = script(['--device', 'cuda', '--width', '4', '--batch', '2', '--size', '16']);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(
      /--device cuda needs a CUDA device, but torch\.cuda\.is_available\(\) is False \(torch \S+, built (without CUDA|with CUDA \S+)\)/,
    );
  });

  it('the check probe reads this machine as it is', () => {
    expect(found.kind).not.toBe('missing');
    if (found.kind === 'no-cuda') {
      expect(found.reason).toContain('torch.cuda.is_available() is False');
      const row = peerRow('backbone step, mini', found);
      expect(row.result).toBe(`absent: ${found.reason}`);
    }
  });

  it("the check's arguments run the script at both scales and both steps (here on the CPU)", () => {
    const scales: PeerScale[] = [
      { step: 'backbone', depth: 18, width: 4, size: 16, batch: 2, steps: 1 },
      // the 224 px scale's network (ResNet-50, 7x7 stem, max-pool), at a size the CPU can afford
      { step: 'backbone', depth: 50, width: 4, size: 128, batch: 1, steps: 1 },
      { step: 'edi', depth: 18, width: 4, size: 16, batch: 2, steps: 1 },
    ];
    for (const scale of scales) {
      const args = peerArgs(TORCH_STEP, scale).slice(1);
      expect(args.slice(0, 2)).toEqual(['--device', 'cuda']);
      args[1] = 'cpu';
      const r = script(args);
      expect(r.stderr).toBe('');
      const parsed = parsePeerOutput(r.stdout);
      expect(parsed).toMatchObject({ device: 'cpu', torch: expect.any(String) });
      expect(JSON.parse(r.stdout)).toMatchObject({ step: scale.step });
      expect(parsed!.imagesPerSecond).toBeCloseTo((scale.batch * 1000) / parsed!.msPerStep, 6);
    }
  }, 300_000);
});

describe('the GPU check rows of the PyTorch peer', () => {
  const cuda = { kind: 'cuda', torch: '2.5.1', device: 'NVIDIA L4' } as const;

  it('reads the probe: CUDA, no CUDA (and why), no torch', () => {
    const line = (o: object) => ({ ok: true, out: `noise\nTORCH ${JSON.stringify(o)}\n` });
    expect(
      parseTorchProbe(
        line({ torch: '2.5.1', cuda: true, build: '12.4', device: 'NVIDIA L4' }),
        'py',
      ),
    ).toEqual(cuda);
    expect(
      parseTorchProbe(line({ torch: '2.5.1', cuda: false, build: '12.4', device: null }), 'py'),
    ).toEqual({
      kind: 'no-cuda',
      torch: '2.5.1',
      reason:
        'torch.cuda.is_available() is False (torch 2.5.1 built with CUDA 12.4: no usable CUDA device or driver)',
    });
    expect(
      parseTorchProbe(line({ torch: '1.13.0', cuda: false, build: null, device: null }), 'py'),
    ).toMatchObject({
      reason: 'torch.cuda.is_available() is False (torch 1.13.0 built without CUDA)',
    });
    const missing = parseTorchProbe(
      { ok: false, out: "ModuleNotFoundError: No module named 'torch'\n" },
      '/opt/py',
    );
    expect(missing.kind).toBe('missing');
    expect(missing).toMatchObject({
      reason: expect.stringContaining(
        "PyTorch not importable by /opt/py (ModuleNotFoundError: No module named 'torch')",
      ),
    });
  });

  it('finds the python: $EDIY_TORCH_PYTHON, else /usr/bin/python3, else python3', () => {
    expect(torchPython({ EDIY_TORCH_PYTHON: '/v/bin/python' }, () => true)).toBe('/v/bin/python');
    expect(torchPython({}, (p) => p === '/usr/bin/python3')).toBe('/usr/bin/python3');
    expect(torchPython({}, () => false)).toBe('python3');
  });

  it('passes each scale to torch_step.py, the ImageNet stem from 128 px, and rejects a bad one', () => {
    const paper: PeerScale = {
      step: 'backbone',
      depth: 50,
      width: 64,
      size: 224,
      batch: 32,
      steps: 3,
    };
    expect(peerArgs('s.py', paper)).toEqual(
      's.py --device cuda --step backbone --depth 50 --stem imagenet --width 64 --size 224 --batch 32 --steps 3 --json'.split(
        ' ',
      ),
    );
    expect(peerArgs('s.py', { ...paper, depth: 18, size: 32, width: 16 })).toContain('small');
    expect(() => peerArgs('s.py', { ...paper, batch: 0 })).toThrow(
      'peer scale batch must be a positive integer, got 0',
    );
  });

  it("puts the peer's images/s beside ours, with the ratio, or says why it is absent or failed", () => {
    const out = JSON.stringify({
      torch: '2.5.1',
      device: 'NVIDIA L4',
      msPerStep: 40,
      imagesPerSecond: 1600,
    });
    const row = peerRow('backbone step, mini', cuda, { ok: true, out: `${out}\n`, seconds: 7 }, [
      ['webgpu', '400 images/s (160 ms/step, 3 timed, 0 tensors leaked)'],
      ['wasm', '1.60e+1 images/s (4000 ms/step)'],
      ['broken', 'failed: timed out'],
    ]);
    expect(row).toEqual({
      check: 'backbone step, mini, PyTorch CUDA',
      result:
        '1.60e+3 images/s (40 ms/step, torch 2.5.1 on NVIDIA L4); webgpu/PyTorch 0.250, wasm/PyTorch 0.0100',
      seconds: 7,
    });
    const noCuda = { kind: 'no-cuda', torch: '1.13', reason: 'no device here' } as const;
    expect(peerRow('E-DIY step', noCuda).result).toBe('absent: no device here');
    const failed = peerRow('E-DIY step', cuda, {
      ok: false,
      out: 'Traceback\n  File "x"\nRuntimeError: CUDA out of memory\n',
      seconds: 2,
    });
    expect(failed.result).toBe('failed: RuntimeError: CUDA out of memory');
    expect(imagesPerSecondOf('ediy=true: 26800 ms/step, 0.3 images/s (per step')).toBe(0.3);
  });

  it('prints one Markdown table with aligned checks', () => {
    const text = formatTable(
      [
        { check: 'adapter', result: 'swiftshader' },
        { check: 'a longer check', result: '3 images/s', seconds: 12.4 },
      ],
      'ediy GPU check (1 s)',
    );
    expect(text.split('\n')).toEqual([
      '',
      'ediy GPU check (1 s)',
      '',
      '| check          | result | s |',
      '| -------------- | --- | ---: |',
      '| adapter        | swiftshader |  |',
      '| a longer check | 3 images/s | 12 |',
    ]);
  });
});
