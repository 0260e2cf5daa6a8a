"""The PyTorch peer of ediy's benchmarked E-DIY training step, for speed comparisons.

The same step as packages/trainer/bench/setup.ts: ResNet-18 with the small-image stem
(3x3 conv, no max-pool) at a given width, global projector/predictor and local (1x1
conv) projector/predictor with hidden 4*C and output C/2 for C = 8*width, a frozen
teacher, an EMA target; two views; BYOL (Eq. 2) + teacher-guided R-DEM (Eqs. 4-5) +
R-IEM (Eqs. 6-7); an SGD-with-momentum update (LARS costs the same order: a few
element-wise passes over the weights) and the EMA update.

`--step backbone` times the backbone training step of tools/gpu-check.ts instead: the
ResNet forward in training mode, mean(map ** 2) + mean(pooled), backward, plain SGD.
`--depth 50 --stem imagenet` builds ResNet-50 (torchvision v1.5 bottlenecks, 7x7 stem and
max-pool) in place of the small-image ResNet-18, for the 224 px scale.

`--device cuda` puts the networks, the data and the step on the GPU and times each step
between torch.cuda.synchronize() calls; without a CUDA device it exits with status 2 and
says why, and never falls back to the CPU.

Usage: python3 tools/bench/torch_step.py [--width 32] [--batch 64] [--size 32] [--steps 3]
                                         [--threads N] [--channels-last] [--json]
                                         [--device cpu|cuda] [--step edi|backbone]
                                         [--depth 18|50] [--stem small|imagenet]
Prints ms/step, images/s and CPU-seconds per step (time.process_time over the steps,
which counts every thread of the process).
"""
import argparse
import copy
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def head(c_in, hidden, c_out, local):
    """Linear (or 1x1 conv) -> BatchNorm -> ReLU -> Linear (or 1x1 conv), no final bias."""
    if local:
        return nn.Sequential(nn.Conv2d(c_in, hidden, 1), nn.BatchNorm2d(hidden), nn.ReLU(),
                             nn.Conv2d(hidden, c_out, 1, bias=False))
    return nn.Sequential(nn.Linear(c_in, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
                         nn.Linear(hidden, c_out, bias=False))


class BasicBlock(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.down = None
        if stride != 1 or c_in != c_out:
            self.down = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.down is None else self.down(x)))


class Bottleneck(nn.Module):
    """torchvision v1.5: the stride is on the 3x3 conv; the output has 4 * width channels."""

    def __init__(self, c_in, width, stride):
        super().__init__()
        c_out = 4 * width
        self.convs = nn.Sequential(
            nn.Conv2d(c_in, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, c_out, 1, bias=False), nn.BatchNorm2d(c_out))
        self.down = None
        if stride != 1 or c_in != c_out:
            self.down = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        return F.relu(self.convs(x) + (x if self.down is None else self.down(x)))


class ResNet(nn.Module):
    """Returns the layer4 map. ResNet-18 (basic blocks) or ResNet-50 (bottlenecks), with the
    small-image stem (3x3 conv, no max-pool) or the ImageNet one (7x7 stride-2 conv, max-pool)."""

    def __init__(self, width, depth=18, stem='small'):
        super().__init__()
        if stem == 'imagenet':
            self.stem = nn.Sequential(nn.Conv2d(3, width, 7, 2, 3, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
                                      nn.MaxPool2d(3, 2, 1))
        else:
            self.stem = nn.Sequential(nn.Conv2d(3, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        counts = {18: [2, 2, 2, 2], 50: [3, 4, 6, 3]}[depth]
        blocks, c_in = [], width
        for k, (c, n) in enumerate(zip([width, 2 * width, 4 * width, 8 * width], counts)):
            for i in range(n):
                stride = 2 if k > 0 and i == 0 else 1
                if depth == 50:
                    blocks.append(Bottleneck(c_in, c, stride))
                    c_in = 4 * c
                else:
                    blocks.append(BasicBlock(c_in, c, stride))
                    c_in = c
        self.blocks = nn.Sequential(*blocks)
        self.channels = c_in

    def forward(self, x):
        return self.blocks(self.stem(x))


def SmallResNet18(width):
    """The benchmarked backbone: ResNet-18 with the small-image stem."""
    return ResNet(width, 18, 'small')


def regions(m):
    """[B, C, H, W] -> unit vectors [B, C, N]."""
    return F.normalize(m.flatten(2), dim=1)


def partners(vectors, index):
    """vectors [B, C, N], index [B, N] -> vectors[b, :, index[b, n]]."""
    return torch.gather(vectors, 2, index.unsqueeze(1).expand(-1, vectors.shape[1], -1))


def build(width, depth=18, stem='small'):
    backbone = ResNet(width, depth, stem)
    c = backbone.channels
    online = nn.ModuleDict({
        'backbone': backbone,
        'proj': head(c, 4 * c, c // 2, False),
        'pred': head(c // 2, 4 * c, c // 2, False),
        'lproj': head(c, 4 * c, c // 2, True),
        'lpred': head(c // 2, 4 * c, c // 2, True),
    })
    target = copy.deepcopy(nn.ModuleDict({k: online[k] for k in ('backbone', 'proj', 'lproj')}))
    teacher = ResNet(width, depth, stem).eval()
    for p in list(target.parameters()) + list(teacher.parameters()):
        p.requires_grad_(False)
    return online, target, teacher


def step(online, target, teacher, opt, x1, x2, tau=0.996):
    views = (x1, x2)
    with torch.no_grad():
        t_maps = [regions(teacher(x)) for x in views]
        g_maps = [target['backbone'](x) for x in views]
        g_glob = [F.normalize(target['proj'](m.mean((2, 3))), dim=1) for m in g_maps]
        g_loc = [regions(target['lproj'](m)) for m in g_maps]
    maps = [online['backbone'](x) for x in views]
    p_glob = [F.normalize(online['pred'](online['proj'](m.mean((2, 3)))), dim=1) for m in maps]
    l_proj = [online['lproj'](m) for m in maps]
    l_loc = [regions(z) for z in l_proj]
    l_pred = [regions(online['lpred'](z)) for z in l_proj]
    # Eq. 2: each view's prediction against the other view's target projection.
    loss = 4 - 2 * (p_glob[0] * g_glob[1]).sum(1).mean() - 2 * (p_glob[1] * g_glob[0]).sum(1).mean()
    for v in (0, 1):
        w = 1 - v
        # Eqs. 4-5: push each region from the teacher's most different region of the same view.
        far = torch.einsum('bcn,bcm->bnm', t_maps[v], t_maps[v]).argmin(-1)
        loss = loss + (l_loc[v] * partners(l_loc[v], far)).sum(1).mean()
        # Eqs. 6-7: pull each region to the teacher's most similar region of the other view.
        near = torch.einsum('bcn,bcm->bnm', t_maps[v], t_maps[w]).argmax(-1)
        loss = loss + 1 - (l_pred[v] * partners(g_loc[w], near)).sum(1).mean()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    with torch.no_grad():
        for name in ('backbone', 'proj', 'lproj'):
            for po, pt in zip(online[name].parameters(), target[name].parameters()):
                pt.mul_(tau).add_(po, alpha=1 - tau)
    return float(loss)


def backbone_step(backbone, opt, x):
    """tools/gpu-check.ts's backbone step: forward in training mode, a loss on the map and
    on its global average, backward, SGD."""
    m = backbone(x)
    loss = m.square().mean() + m.mean((2, 3)).mean()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return float(loss)


def cuda_refusal():
    """Why --device cuda cannot run here, or None when it can."""
    if torch.cuda.is_available():
        return None
    built = f'built with CUDA {torch.version.cuda}' if torch.version.cuda else 'built without CUDA'
    return (f'torch_step.py: --device cuda needs a CUDA device, but torch.cuda.is_available() is False '
            f'(torch {torch.__version__}, {built}); run with --device cpu or on a machine with an NVIDIA GPU')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--width', type=int, default=32)
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--size', type=int, default=32)
    ap.add_argument('--steps', type=int, default=3)
    ap.add_argument('--threads', type=int, default=0)
    ap.add_argument('--channels-last', action='store_true')
    ap.add_argument('--json', action='store_true')
    ap.add_argument('--device', choices=['cpu', 'cuda'], default='cpu')
    ap.add_argument('--step', choices=['edi', 'backbone'], default='edi')
    ap.add_argument('--depth', type=int, choices=[18, 50], default=18)
    ap.add_argument('--stem', choices=['small', 'imagenet'], default='small')
    a = ap.parse_args()
    if a.device == 'cuda':
        refusal = cuda_refusal()
        if refusal:
            print(refusal, file=sys.stderr)
            sys.exit(2)
    device = torch.device(a.device)
    cuda = a.device == 'cuda'

    def sync():
        if cuda:
            torch.cuda.synchronize()

    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    fmt = torch.channels_last if a.channels_last else torch.contiguous_format
    # networks first, then the views (the order the benchmark has always drawn them in)
    if a.step == 'backbone':
        backbone = ResNet(a.width, a.depth, a.stem).to(device, memory_format=fmt).train()
        opt = torch.optim.SGD(backbone.parameters(), lr=0.01)
    else:
        online, target, teacher = build(a.width, a.depth, a.stem)
        for m in (online, target, teacher):
            m.to(device, memory_format=fmt)
        opt = torch.optim.SGD(online.parameters(), lr=0.1, momentum=0.9)
    x1 = torch.rand(a.batch, 3, a.size, a.size).to(device, memory_format=fmt)
    x2 = torch.rand(a.batch, 3, a.size, a.size).to(device, memory_format=fmt)

    def run():
        if a.step == 'backbone':
            return backbone_step(backbone, opt, x1)
        return step(online, target, teacher, opt, x1, x2)
    run()  # warm-up (on CUDA also cuDNN's algorithm choice and the allocator's pool)
    sync()
    times = []
    cpu0 = time.process_time()
    for _ in range(a.steps):
        t = time.perf_counter()
        run()
        sync()
        times.append(time.perf_counter() - t)
    cpu = (time.process_time() - cpu0) / a.steps
    wall = sum(times) / len(times)
    out = {
        'torch': torch.__version__,
        'threads': torch.get_num_threads(),
        'device': torch.cuda.get_device_name(device) if cuda else 'cpu',
        'step': a.step,
        'msPerStep': wall * 1000,
        'imagesPerSecond': a.batch / wall,
        'cpuSecondsPerStep': cpu,
        'stepsMs': [t * 1000 for t in times],
    }
    if a.json:
        print(json.dumps(out))
    else:
        print(f"torch {out['torch']} on {out['device']} threads={out['threads']} step={a.step} "
              f"depth={a.depth} width={a.width} batch={a.batch} size={a.size}: "
              f"{out['msPerStep']:.0f} ms/step, {out['imagesPerSecond']:.1f} images/s, "
              f"{cpu:.2f} CPU-s/step")


if __name__ == '__main__':
    main()
