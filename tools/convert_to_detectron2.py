#!/usr/bin/env python3
"""Converts a torchvision ResNet state dict in safetensors (as @ediy/backbones' exportBackbone
writes with format 'torchvision') into a Detectron2 checkpoint (.pkl).

Usage:
  python3 tools/convert_to_detectron2.py backbone.safetensors backbone.pkl

Needs only numpy and the standard library. The output is a pickle of
  {"model": {detectron2_name: float32 numpy array}, "__author__": "ediy", "matching_heuristics": True}
(the arrays pickled so that numpy 1 and numpy 2 both load them) with the names Detectron2's
ResNet uses, renamed as MoCo's convert-pretrain-to-detectron2.py does:
  conv1 -> stem.conv1, bn1 -> stem.conv1.norm, layerN -> res(N+1),
  bnK -> convK.norm, downsample.0 -> shortcut, downsample.1 -> shortcut.norm
e.g. layer1.0.bn1.running_var -> res2.0.conv1.norm.running_var. `num_batches_tracked` and
`fc.*` are dropped (Detectron2's norms and heads have no use for them). It prints the
Detectron2 settings the backbone needs: MODEL.RESNETS.DEPTH, STRIDE_IN_1X1 False for a
ResNet-50 (the stride is on the 3x3 conv, torchvision's v1.5 layout), and the channel counts
of a narrower ResNet-50.

The file is checked before anything is written: every key must be a torchvision ResNet key,
the architecture must be a ResNet-18, 34 or 50 with the 7x7 (imagenet) stem that Detectron2's
BasicStem has, every key of that architecture must be present with a float dtype
(F32, F16, BF16, F64) and the shape it implies. Errors name the keys and exit with status 1.
"""
import copyreg
import json
import os
import pickle
import re
import struct
import sys
import tempfile

import numpy as np

FLOAT_DTYPES = {'F64': '<f8', 'F32': '<f4', 'F16': '<f2', 'BF16': '<u2'}
BN = r'(weight|bias|running_mean|running_var|num_batches_tracked)'
RESNET_KEY = re.compile(
    r'^(conv1\.weight|bn1\.' + BN + r'|fc\.(weight|bias)'
    r'|layer[1-4]\.\d+\.(conv[1-3]\.weight|bn[1-3]\.' + BN + r'|downsample\.0\.weight|downsample\.1\.' + BN + r'))$'
)
ARCHS = {(False, (2, 2, 2, 2)): 18, (False, (3, 4, 6, 3)): 34, (True, (3, 4, 6, 3)): 50}


class ConvertError(Exception):
    pass


def listed(keys, n=8):
    keys = list(keys)
    head = ', '.join(keys[:n])
    return f'{head}, ... ({len(keys)} in all)' if len(keys) > n else head


def read_safetensors(path):
    """(header, data) of a safetensors file: 8-byte little-endian header length, JSON header,
    then the raw little-endian tensor bytes."""
    try:
        with open(path, 'rb') as f:
            raw = f.read()
    except OSError as err:
        raise ConvertError(f'cannot read {path}: {err.strerror}') from err
    if len(raw) < 8:
        raise ConvertError(f'{path}: {len(raw)} bytes; a safetensors file starts with an 8-byte header length')
    (n,) = struct.unpack('<Q', raw[:8])
    if 8 + n > len(raw):
        raise ConvertError(f'{path}: header length {n} exceeds the file ({len(raw)} bytes); not a safetensors file')
    try:
        header = json.loads(raw[8:8 + n].decode('utf-8'))
    except (UnicodeDecodeError, ValueError) as err:
        raise ConvertError(f'{path}: the header is not JSON ({err}); not a safetensors file') from err
    if not isinstance(header, dict):
        raise ConvertError(f'{path}: the header is not a JSON object; not a safetensors file')
    header.pop('__metadata__', None)
    data = memoryview(raw)[8 + n:]
    for name, spec in header.items():
        try:
            begin, end = spec['data_offsets']
            shape = [int(d) for d in spec['shape']]
            dtype = spec['dtype']
        except (TypeError, KeyError, ValueError) as err:
            raise ConvertError(f'{path}: tensor {name!r} has a malformed entry {spec!r}') from err
        if not (0 <= begin <= end <= len(data)):
            raise ConvertError(f'{path}: tensor {name!r} has data_offsets [{begin}, {end}] outside the {len(data)} data bytes')
    return header, data


def decode(name, spec, data, path):
    """The tensor `name` as a float32 array."""
    dtype, shape = spec['dtype'], [int(d) for d in spec['shape']]
    if dtype not in FLOAT_DTYPES:
        raise ConvertError(f'{path}: {name!r} has dtype {dtype}; expected a float dtype ({", ".join(FLOAT_DTYPES)})')
    begin, end = spec['data_offsets']
    count = int(np.prod(shape)) if shape else 1
    width = np.dtype(FLOAT_DTYPES[dtype]).itemsize
    if end - begin != count * width:
        raise ConvertError(f'{path}: {name!r} has {end - begin} bytes; {dtype} shape {shape} needs {count * width}')
    arr = np.frombuffer(data[begin:end], dtype=FLOAT_DTYPES[dtype])
    if dtype == 'BF16':
        arr = (arr.astype(np.uint32) << 16).view(np.float32)
    return arr.astype(np.float32).reshape(shape)


def expected_shapes(depth, width):
    """torchvision's resnet<depth>() keys (without fc, num_batches_tracked) and shapes at a base width."""
    bottleneck = depth == 50
    blocks = [2, 2, 2, 2] if depth == 18 else [3, 4, 6, 3]
    expansion = 4 if bottleneck else 1
    shapes = {'conv1.weight': [width, 3, 7, 7]}

    def bn(prefix, ch):
        for p in ('weight', 'bias', 'running_mean', 'running_var'):
            shapes[f'{prefix}.{p}'] = [ch]

    bn('bn1', width)
    inplanes = width
    for s in range(4):
        planes = width * 2 ** s
        out = planes * expansion
        for b in range(blocks[s]):
            p = f'layer{s + 1}.{b}'
            if bottleneck:
                convs = [(planes, inplanes, 1), (planes, planes, 3), (out, planes, 1)]
            else:
                convs = [(planes, inplanes, 3), (planes, planes, 3)]
            for k, (o, i, kk) in enumerate(convs, 1):
                shapes[f'{p}.conv{k}.weight'] = [o, i, kk, kk]
                bn(f'{p}.bn{k}', o)
            if b == 0 and (s > 0 or inplanes != out):
                shapes[f'{p}.downsample.0.weight'] = [out, inplanes, 1, 1]
                bn(f'{p}.downsample.1', out)
            inplanes = out
    return shapes


def detectron2_name(key):
    """MoCo's renaming of a torchvision ResNet key to Detectron2's."""
    k = key
    if 'layer' not in k:
        k = 'stem.' + k
    for t in (1, 2, 3, 4):
        k = k.replace(f'layer{t}', f'res{t + 1}')
    for t in (1, 2, 3):
        k = k.replace(f'bn{t}', f'conv{t}.norm')
    k = k.replace('downsample.0', 'shortcut')
    k = k.replace('downsample.1', 'shortcut.norm')
    return k


def convert(path):
    """({detectron2 name: float32 array}, depth, width) of an exported state dict."""
    header, data = read_safetensors(path)
    foreign = [k for k in header if not RESNET_KEY.match(k)]
    if foreign:
        raise ConvertError(
            f'{path} is not a torchvision ResNet state dict: keys {listed(foreign)} are not ResNet keys '
            f'(expected conv1.weight, bn1.*, layerS.B.convK.weight, layerS.B.bnK.*, layerS.B.downsample.{{0,1}}.*, fc.*)'
        )
    if 'conv1.weight' not in header:
        raise ConvertError(f'{path} is not a torchvision ResNet state dict: no conv1.weight ({len(header)} tensors)')
    conv1 = [int(d) for d in header['conv1.weight']['shape']]
    if len(conv1) != 4 or conv1[1] != 3 or conv1[2:] != [7, 7]:
        raise ConvertError(
            f'{path}: conv1.weight has shape {conv1}; Detectron2\'s ResNet stem is a 7x7 conv on 3 channels, '
            f'expected [width, 3, 7, 7] (export a backbone with the imagenet stem)'
        )
    width = conv1[0]
    blocks = []
    for s in range(1, 5):
        n = 0
        while f'layer{s}.{n}.conv1.weight' in header:
            n += 1
        blocks.append(n)
    bottleneck = 'layer1.0.conv3.weight' in header
    depth = ARCHS.get((bottleneck, tuple(blocks)))
    if depth is None:
        raise ConvertError(
            f'{path}: {"bottleneck" if bottleneck else "basic"} blocks {blocks} in layer1..layer4; '
            f'expected ResNet-18 (basic 2,2,2,2), ResNet-34 (basic 3,4,6,3) or ResNet-50 (bottleneck 3,4,6,3)'
        )
    want = expected_shapes(depth, width)
    missing = [k for k in want if k not in header]
    unexpected = [k for k in header if k not in want and not k.startswith('fc.') and not k.endswith('.num_batches_tracked')]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f'missing keys {listed(missing)}')
        if unexpected:
            parts.append(f'unexpected keys {listed(unexpected)}')
        raise ConvertError(f'{path} is not a complete ResNet-{depth} state dict: {"; ".join(parts)}')
    model = {}
    for key, shape in want.items():
        got = [int(d) for d in header[key]['shape']]
        if got != shape:
            raise ConvertError(f'{path}: {key!r} has shape {got}; a ResNet-{depth} of base width {width} needs {shape}')
        arr = decode(key, header[key], data, path)
        if not np.all(np.isfinite(arr)):
            raise ConvertError(f'{path}: {key!r} holds NaN or Infinity; expected finite values')
        model[detectron2_name(key)] = arr
    return model, depth, width


def _reduce_array(a):
    # numpy.ndarray(shape, '<f4', bytearray): the pickle names only numpy.ndarray, which every
    # numpy has; numpy's own pickles name numpy._core (numpy 2) or numpy.core (numpy 1), and
    # numpy 1 cannot load the former. The bytearray keeps the loaded array writable.
    return np.ndarray, (tuple(int(d) for d in a.shape), '<f4', bytearray(np.ascontiguousarray(a, dtype='<f4').tobytes()))


class _Pickler(pickle.Pickler):
    dispatch_table = copyreg.dispatch_table.copy()
    dispatch_table[np.ndarray] = _reduce_array


def write_atomic(path, obj):
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{os.path.basename(path)}.tmp-', dir=directory)
    try:
        with os.fdopen(fd, 'wb') as f:
            _Pickler(f, protocol=4).dump(obj)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def main(argv):
    if len(argv) != 2 or argv[0] in ('-h', '--help'):
        print('usage: convert_to_detectron2.py <input.safetensors> <output.pkl>', file=sys.stderr)
        return 0 if argv and argv[0] in ('-h', '--help') else 2
    src, dst = argv
    try:
        model, depth, width = convert(src)
    except ConvertError as err:
        print(f'convert_to_detectron2: {err}', file=sys.stderr)
        return 1
    write_atomic(dst, {'model': model, '__author__': 'ediy', 'matching_heuristics': True})
    print(f'wrote {dst}: ResNet-{depth}, base width {width}, {len(model)} tensors')
    settings = [f'MODEL.RESNETS.DEPTH {depth}']
    if depth == 50:
        # torchvision's (and @ediy/backbones') bottleneck strides in the 3x3 conv.
        settings.append('MODEL.RESNETS.STRIDE_IN_1X1 False')
    if depth == 50 and width != 64:
        settings += [f'MODEL.RESNETS.STEM_OUT_CHANNELS {width}', f'MODEL.RESNETS.WIDTH_PER_GROUP {width}',
                     f'MODEL.RESNETS.RES2_OUT_CHANNELS {width * 4}']
    elif depth == 50:
        settings += ['MODEL.RESNETS.RES2_OUT_CHANNELS 256']
    else:
        settings += ['MODEL.RESNETS.RES2_OUT_CHANNELS 64']
        if width != 64:
            print(f'note: Detectron2 builds ResNet-18/34 only at base width 64; this one has {width}', file=sys.stderr)
    print('Detectron2 settings: ' + ' '.join(settings))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
