#!/usr/bin/env python3
"""Golden fixtures for @ediy/backbones, made with PyTorch (Debian: python3-torch, and
python3-torchvision for the architecture check).

Writes packages/backbones/test/fixtures/:
  resnet50-imagenet-w4.safetensors     state dict (F16) of a ResNet-50, imagenet stem, base width 4
  resnet50-imagenet-w4.io.safetensors  input [2,3,48,40], layer4 map and pooled output (F32, NCHW)
  resnet18-small-w4.safetensors        state dict (BF16) of a ResNet-18, small stem, base width 4
  resnet18-small-w4.io.safetensors     input [2,3,20,20], layer4 map and pooled output (F32, NCHW)
  dtypes.safetensors                   the same numbers stored as F64, F32, F16, BF16 (rounded by
                                       torch) and I64, for the reader/writer tests

The ResNet is written out here with torchvision's module names (torchvision has no width
multiplier); at width 64 its state dict keys and shapes are checked against torchvision's
resnet18/resnet50 and, with the same weights, its output against torchvision's.
Weights are random, BN statistics random; the forward pass runs in eval mode on weights
already rounded to the stored dtype, so the stored weights reproduce the stored outputs.

The safetensors files are written by hand with the layout @ediy/backbones' writer uses
(compact JSON header in insertion order, space-padded to a multiple of 8), so a state dict
read and re-exported by it must give the same bytes.

Run: /usr/bin/python3 tools/make_resnet_fixture.py
"""
import json
import os
import struct
import sys

import torch
import torch.nn as nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'packages', 'backbones', 'test', 'fixtures')


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)  # v1.5: stride here
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """torchvision.models.resnet.ResNet without fc, with a base width and a small-image stem."""

    def __init__(self, block, layers, width=64, stem='imagenet'):
        super().__init__()
        self.inplanes = width
        if stem == 'imagenet':
            self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
        else:
            self.conv1 = nn.Conv2d(3, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1) if stem == 'imagenet' else nn.Identity()
        self.layer1 = self._make_layer(block, width, layers[0])
        self.layer2 = self._make_layer(block, width * 2, layers[1], 2)
        self.layer3 = self._make_layer(block, width * 4, layers[2], 2)
        self.layer4 = self._make_layer(block, width * 8, layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride, bias=False),
                nn.BatchNorm2d(planes * block.expansion),
            )
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return x, torch.flatten(self.avgpool(x), 1)


def randomise_bn(model, gen):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.weight.data = torch.rand(n, generator=gen) + 0.5
            m.bias.data = torch.randn(n, generator=gen) * 0.1
            m.running_mean = torch.randn(n, generator=gen) * 0.1
            m.running_var = torch.rand(n, generator=gen) + 0.5


DTYPE = {torch.float64: 'F64', torch.float32: 'F32', torch.float16: 'F16', torch.bfloat16: 'BF16', torch.int64: 'I64'}


def tensor_bytes(t):
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().astype('<i2').tobytes()
    return t.numpy().astype(t.numpy().dtype.newbyteorder('<')).tobytes()


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        b = tensor_bytes(t)
        header[name] = {'dtype': DTYPE[t.dtype], 'shape': list(t.shape), 'data_offsets': [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(',', ':')).encode('utf-8')
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    print(f'wrote {path} ({os.path.getsize(path)} bytes)')


def check_against_torchvision():
    try:
        import torchvision.models as tvm
    except ImportError:
        print('torchvision not installed: architecture check skipped', file=sys.stderr)
        return
    torch.manual_seed(0)
    for block, layers, ref in [(BasicBlock, [2, 2, 2, 2], tvm.resnet18()), (Bottleneck, [3, 4, 6, 3], tvm.resnet50())]:
        ours = ResNet(block, layers)
        ref_sd = {k: v for k, v in ref.state_dict().items() if not k.startswith('fc.')}
        ours_sd = ours.state_dict()
        assert list(ref_sd.keys()) == list(ours_sd.keys()), 'state dict keys differ from torchvision'
        assert all(ref_sd[k].shape == ours_sd[k].shape for k in ref_sd), 'state dict shapes differ from torchvision'
        randomise_bn(ref, torch.Generator().manual_seed(1))
        ours.load_state_dict({k: v for k, v in ref.state_dict().items() if not k.startswith('fc.')})
        ref.eval()
        ours.eval()
        x = torch.randn(1, 3, 64, 64)
        with torch.no_grad():
            ref.fc = nn.Identity()
            a = ref(x)
            b = ours(x)[1]
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-6), 'forward differs from torchvision'
    print('architecture matches torchvision resnet18/resnet50 (keys, shapes, forward)')


def make(name, block, layers, width, stem, dtype, input_shape, seed):
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = ResNet(block, layers, width, stem)
    randomise_bn(model, gen)
    # Round every parameter and buffer to the stored dtype, so the stored weights are exact.
    state = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    model.load_state_dict({k: v.to(torch.float32) if v.is_floating_point() else v for k, v in state.items()})
    model.eval()
    x = torch.randn(*input_shape, generator=gen)
    with torch.no_grad():
        fmap, pooled = model(x)
    write_safetensors(os.path.join(OUT, f'{name}.safetensors'), state)
    write_safetensors(os.path.join(OUT, f'{name}.io.safetensors'), {'input': x, 'layer4': fmap, 'pooled': pooled})


def make_dtypes():
    values = torch.tensor(
        [0.0, -0.0, 1.0, -2.5, 0.1, 1 / 3, 65504.0, 65520.0, 1e6, -1e6, 6.1e-5, 5.96e-8, 2.98e-8, 3.0e-8, 1e-9,
         1.00048828125, 1.00146484375, 1.0 + 2 ** -8, 1.0 + 3 * 2 ** -8, 3.3895314e38, float('inf'), float('-inf')],
        dtype=torch.float64,
    )
    f32 = values.to(torch.float32)
    tensors = {
        'f64': values.reshape(2, 11),
        'f32': f32.reshape(2, 11),
        'f16': f32.to(torch.float16).reshape(2, 11),
        'bf16': f32.to(torch.bfloat16).reshape(2, 11),
        # What torch's rounding gave, exactly, for the reader tests.
        'f16_as_f64': f32.to(torch.float16).to(torch.float64).reshape(2, 11),
        'bf16_as_f64': f32.to(torch.bfloat16).to(torch.float64).reshape(2, 11),
        'i64': torch.tensor([0, 1, -1, 2 ** 53 + 1, -(2 ** 62)], dtype=torch.int64),
        'scalar': torch.tensor(7, dtype=torch.int64),
    }
    write_safetensors(os.path.join(OUT, 'dtypes.safetensors'), tensors)


if __name__ == '__main__':
    os.makedirs(OUT, exist_ok=True)
    check_against_torchvision()
    make('resnet50-imagenet-w4', Bottleneck, [3, 4, 6, 3], 4, 'imagenet', torch.float16, (2, 3, 48, 40), 50)
    make('resnet18-small-w4', BasicBlock, [2, 2, 2, 2], 4, 'small', torch.bfloat16, (2, 3, 20, 20), 18)
    make_dtypes()
