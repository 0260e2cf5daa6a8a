"""PyTorch's speed on the convolutions of ediy's benchmarked step, for the kernel table
of packages/backend-native/bench/kernels.ts.

Usage: python3 tools/bench/torch_kernels.py SHAPES_JSON [--threads 1] [--runs 5]
SHAPES_JSON is a list of {"name", "x": [N, H, W, C], "filter": [kh, kw, Cin, Cout],
"stride", "pad"} (NHWC / HWIO as tfjs has them). Prints one JSON line: for each shape the
median CPU milliseconds (time.process_time) of the forward convolution, the input gradient and the filter
gradient (aten.convolution_backward with one output each), channels-last tensors.
"""
import argparse
import json
import statistics
import time

import torch


def timed(fn, runs):
    """Median CPU milliseconds of the process (every thread) per call: steadier than wall
    time on a shared machine, and what a per-CPU-second comparison wants."""
    fn()
    out = []
    for _ in range(runs):
        t = time.process_time()
        fn()
        out.append((time.process_time() - t) * 1000)
    return statistics.median(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('shapes')
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--runs', type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    results = []
    for s in json.loads(a.shapes):
        n, h, w, c = s['x']
        kh, kw, ci, co = s['filter']
        stride, pad = s['stride'], s['pad']
        x = torch.randn(n, c, h, w).to(memory_format=torch.channels_last)
        k = torch.randn(co, ci, kh, kw).to(memory_format=torch.channels_last)
        y = torch.nn.functional.conv2d(x, k, stride=stride, padding=pad)
        dy = torch.randn_like(y).to(memory_format=torch.channels_last)

        def fwd():
            torch.nn.functional.conv2d(x, k, stride=stride, padding=pad)

        def bwd(mask):
            return lambda: torch.ops.aten.convolution_backward(
                dy, x, k, None, [stride, stride], [pad, pad], [1, 1], False, [0, 0], 1, mask)

        results.append({
            'name': s['name'],
            'fwdMs': timed(fwd, a.runs),
            'dxMs': timed(bwd([True, False, False]), a.runs),
            'dwMs': timed(bwd([False, True, False]), a.runs),
        })
    print(json.dumps({'torch': torch.__version__, 'threads': torch.get_num_threads(), 'results': results}))


if __name__ == '__main__':
    main()
