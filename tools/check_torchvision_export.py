#!/usr/bin/env python3
"""Checks a torchvision state dict exported by @ediy/backbones against torchvision itself.

For each exported `.safetensors` file (exportBackbone(..., {format: 'torchvision'}) or
writeSafetensors(exportTorchvisionWeights(...))):

1. reads it by hand (safetensors: 8-byte little-endian header length, JSON header, raw
   little-endian data; F64/F32/F16/BF16/I64), without the `safetensors` package;
2. reads the architecture off the keys (conv1.weight [w, 3, k, k]: base width w, stem 7x7
   "imagenet" or 3x3 "small"; blocks per stage and conv3: ResNet-18/34/50);
3. builds the torchvision model: at base width 64 with the imagenet stem, the stock
   `torchvision.models.resnet18/34/50()`; otherwise torchvision's own `ResNet` class and
   `BasicBlock`/`Bottleneck` with the stem and the four stages rebuilt at the file's width
   (torchvision has no width multiplier), so the forward pass is still torchvision's code;
4. loads it with `load_state_dict(sd, strict=False)` and requires that only `fc.weight` and
   `fc.bias` are missing and nothing is unexpected;
5. with an `io` file (tensors `input` [B,3,H,W], `layer4` [B,C,h,w], `pooled` [B,C], F32,
   NCHW: the same input and our outputs), runs the model in eval mode and requires
   max|torch - ours| / max|torch| < rtol (default 1e-4) for the layer4 map and the pooled
   feature.

Usage (Debian's python3-torch and python3-torchvision):
  /usr/bin/python3 tools/check_torchvision_export.py --weights r50.safetensors [--io r50.io.safetensors] [--depth 50]
  /usr/bin/python3 tools/check_torchvision_export.py --jobs jobs.json
      jobs.json: [{"weights": "...", "io": "..." (optional), "depth": 50 (optional)}, ...]
  /usr/bin/python3 tools/check_torchvision_export.py --write-keys packages/backbones/test/fixtures/torchvision-keys.json
      writes the state-dict keys and shapes of torchvision's resnet18/34/50 (fc excluded), the
      fixture the tests compare full-width exports with when torch is not installed.
Prints one JSON line per file (with an "error" field when its check failed, also printed to
stderr); exits 1 when any check failed, 2 on bad usage.
"""
import argparse
import json
import struct
import sys

import numpy as np

DTYPES = {'F64': '<f8', 'F32': '<f4', 'F16': '<f2', 'BF16': '<u2', 'I64': '<i8'}


class CheckError(Exception):
    pass


def read_safetensors(path):
    """{name: numpy array} of a safetensors file (BF16 widened to float32)."""
    with open(path, 'rb') as f:
        raw = f.read()
    if len(raw) < 8:
        raise CheckError(f'{path}: {len(raw)} bytes; a safetensors file starts with an 8-byte header length')
    (n,) = struct.unpack('<Q', raw[:8])
    if 8 + n > len(raw):
        raise CheckError(f'{path}: header length {n} exceeds the file ({len(raw)} bytes)')
    try:
        header = json.loads(raw[8:8 + n].decode('utf-8'))
    except ValueError as err:
        raise CheckError(f'{path}: header is not JSON ({err})') from err
    data = memoryview(raw)[8 + n:]
    out = {}
    for name, spec in header.items():
        if name == '__metadata__':
            continue
        dtype = spec.get('dtype')
        if dtype not in DTYPES:
            raise CheckError(f'{path}: tensor {name!r} has dtype {dtype!r}; expected one of {", ".join(DTYPES)}')
        begin, end = spec['data_offsets']
        arr = np.frombuffer(data[begin:end], dtype=DTYPES[dtype]).reshape(spec['shape'])
        if dtype == 'BF16':
            arr = (arr.astype(np.uint32) << 16).view(np.float32)
        out[name] = arr
    return out


def infer_arch(state, path):
    """(depth, stem, width) from the keys, as @ediy/backbones' inferTorchvisionConfig."""
    if 'conv1.weight' not in state:
        raise CheckError(f'{path}: no conv1.weight; not a torchvision ResNet state dict')
    width, cin, kh, kw = state['conv1.weight'].shape
    if cin != 3 or kh != kw or kh not in (3, 7):
        raise CheckError(f'{path}: conv1.weight has shape {list(state["conv1.weight"].shape)}; expected [w, 3, 7, 7] or [w, 3, 3, 3]')
    blocks = []
    for s in range(1, 5):
        n = 0
        while f'layer{s}.{n}.conv1.weight' in state:
            n += 1
        blocks.append(n)
    bottleneck = 'layer1.0.conv3.weight' in state
    depth = {(False, (2, 2, 2, 2)): 18, (False, (3, 4, 6, 3)): 34, (True, (3, 4, 6, 3)): 50}.get((bottleneck, tuple(blocks)))
    if depth is None:
        raise CheckError(f'{path}: {"bottleneck" if bottleneck else "basic"} blocks {blocks}; expected ResNet-18, 34 or 50')
    return depth, ('imagenet' if kh == 7 else 'small'), int(width)


def build_model(depth, stem, width):
    import torch.nn as nn
    import torchvision.models as tvm
    from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

    if width == 64 and stem == 'imagenet':
        return getattr(tvm, f'resnet{depth}')(), True
    block = Bottleneck if depth == 50 else BasicBlock
    layers = [2, 2, 2, 2] if depth == 18 else [3, 4, 6, 3]
    m = ResNet(block, layers)
    m.inplanes = width
    if stem == 'imagenet':
        m.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
    else:
        m.conv1 = nn.Conv2d(3, width, kernel_size=3, stride=1, padding=1, bias=False)
        m.maxpool = nn.Identity()
    m.bn1 = m._norm_layer(width)
    m.layer1 = m._make_layer(block, width, layers[0])
    m.layer2 = m._make_layer(block, width * 2, layers[1], stride=2)
    m.layer3 = m._make_layer(block, width * 4, layers[2], stride=2)
    m.layer4 = m._make_layer(block, width * 8, layers[3], stride=2)
    m.fc = nn.Linear(width * 8 * block.expansion, 1000)
    return m, False


def rel_error(a, b):
    scale = float(np.abs(b).max())
    return float(np.abs(a - b).max()) / scale if scale > 0 else float(np.abs(a - b).max())


def check(weights, io=None, depth=None, rtol=1e-4):
    import torch

    state = read_safetensors(weights)
    got_depth, stem, width = infer_arch(state, weights)
    if depth is not None and int(depth) != got_depth:
        raise CheckError(f'{weights}: expected a ResNet-{depth}, the keys are a ResNet-{got_depth}')
    model, stock = build_model(got_depth, stem, width)
    sd = {k: torch.from_numpy(np.array(v)) for k, v in state.items()}
    try:
        result = model.load_state_dict(sd, strict=False)
    except RuntimeError as err:
        raise CheckError(f'{weights}: torchvision refused the state dict: {err}') from err
    if sorted(result.missing_keys) != ['fc.bias', 'fc.weight'] or result.unexpected_keys:
        raise CheckError(
            f'{weights}: load_state_dict(strict=False) left missing {result.missing_keys} and unexpected '
            f'{result.unexpected_keys}; expected only fc.weight and fc.bias missing'
        )
    report = {'weights': weights, 'depth': got_depth, 'stem': stem, 'width': width, 'stock_torchvision': stock,
              'keys': len(state), 'missing': sorted(result.missing_keys)}
    if io is not None:
        tensors = read_safetensors(io)
        for name in ('input', 'layer4', 'pooled'):
            if name not in tensors:
                raise CheckError(f'{io}: no tensor {name!r}; expected input, layer4 and pooled (NCHW)')
        feats = {}
        model.layer4.register_forward_hook(lambda _m, _i, out: feats.__setitem__('layer4', out))
        model.fc = torch.nn.Identity()
        model.eval()
        with torch.no_grad():
            pooled = model(torch.from_numpy(np.array(tensors['input'], dtype=np.float32))).numpy()
        fmap = feats['layer4'].numpy()
        for name, ours, theirs in (('layer4', tensors['layer4'], fmap), ('pooled', tensors['pooled'], pooled)):
            if tuple(ours.shape) != tuple(theirs.shape):
                raise CheckError(f'{io}: {name} has shape {list(ours.shape)}; torchvision gives {list(theirs.shape)}')
            err = rel_error(ours, theirs)
            report[f'{name}_rel_error'] = err
            if not err < rtol:
                raise CheckError(f'{weights}: {name} differs from torchvision by {err:.3g} relative (max); expected < {rtol}')
    return report


def write_keys(path):
    import torchvision.models as tvm

    out = {}
    for depth in (18, 34, 50):
        sd = getattr(tvm, f'resnet{depth}')().state_dict()
        out[f'resnet{depth}'] = [[k, list(v.shape)] for k, v in sd.items() if not k.startswith('fc.')]
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(out, f, separators=(',', ':'))
        f.write('\n')
    print(f'wrote {path}')


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--weights', help='exported torchvision state dict (.safetensors)')
    p.add_argument('--io', help='input and our outputs (.safetensors: input, layer4, pooled; NCHW)')
    p.add_argument('--depth', type=int, choices=(18, 34, 50), help='the expected depth')
    p.add_argument('--jobs', help='JSON list of {"weights", "io"?, "depth"?} to check in one run')
    p.add_argument('--rtol', type=float, default=1e-4, help='max relative error (default 1e-4)')
    p.add_argument('--write-keys', metavar='PATH', help="write torchvision's resnet18/34/50 keys and shapes as JSON")
    args = p.parse_args(argv)
    if args.write_keys is not None:
        write_keys(args.write_keys)
        return 0
    if (args.jobs is None) == (args.weights is None):
        p.error('give either --weights or --jobs')
    if args.jobs is not None:
        with open(args.jobs, encoding='utf-8') as f:
            jobs = json.load(f)
    else:
        jobs = [{'weights': args.weights, 'io': args.io, 'depth': args.depth}]
    failed = 0
    for job in jobs:
        try:
            print(json.dumps(check(job['weights'], job.get('io'), job.get('depth'), args.rtol)), flush=True)
        except CheckError as err:
            failed += 1
            print(json.dumps({'weights': job['weights'], 'error': str(err)}), flush=True)
            print(f'check_torchvision_export: {err}', file=sys.stderr)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
