#!/usr/bin/env python3
"""E-DIY pre-training in PyTorch, data-parallel over processes with torch.distributed.

The companion of the `ediy` command for one run past one GPU or one machine. It reads the
experiment config JSON that `ediy` writes into a run folder (`<run>/config.json`, or a job's
`config` in `<out>/plan.json` of `ediy reproduce --plan`), trains the same method (docs/paper-notes.md: BYOL's global branch; the local projector and predictor as 1x1
convolutions; R-DEM and R-IEM with region pairs chosen by a frozen teacher; LARS with BYOL's
warm-up + cosine learning rate; the target as an EMA with BYOL's cosine momentum) with
DistributedDataParallel and BatchNorm over the global batch (SyncBatchNorm on GPUs; on CPU,
where PyTorch 1.13's SyncBatchNorm does not run, the same sums through torch.distributed.nn's
all_reduce), so BatchNorm sees what one process would see, and writes the online backbone as a torchvision ResNet state dict in safetensors,
which `ediy import-weights` turns into a TF.js model for `ediy eval`-style evaluation,
saliency maps and the viewer.

Run under torchrun (gloo on CPU, NCCL on GPUs):

  node tools/torch/write-images.mjs run/config.json images.safetensors
  ediy export teacher-run --format torchvision --out teacher.safetensors   # for teacher-guided rows
  torchrun --nproc_per_node 2 tools/torch/ediy_train.py --config run/config.json \\
      --images images.safetensors --teacher-weights teacher.safetensors --out torch-run
  ediy import-weights torch-run/backbone.safetensors --out models/torch-run

What is not the TypeScript trainer's: the weights start from PyTorch's initialisation, not
@ediy/backbones' seeded one, and the views come from this file's augmentation (the same BYOL
recipe: crop, flip, colour jitter, grayscale, blur, solarize, ImageNet normalisation) drawn
from PyTorch's random streams, so a run is not the same run as `ediy pretrain` with the same
seed; the step itself (the networks, the losses, LARS, the schedules and the EMA) is.
Writes to --out: backbone.safetensors, log.jsonl (one line per step), config.json, done.json.

  node tools/torch/ts-step.mjs run/config.json ts-step.safetensors
  python3 tools/torch/ediy_train.py --config run/config.json --check-step ts-step.safetensors

checks the step against the TypeScript trainer's on the same weights and views (loss, terms,
the gradient of every online weight) and exits 1 when they differ.
"""
import argparse
import copy
import importlib.util
import json
import math
import os
import struct
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent


def _load_export_checker():
    """tools/check_torchvision_export.py: its safetensors reader and architecture inference."""
    path = HERE.parent / 'check_torchvision_export.py'
    spec = importlib.util.spec_from_file_location('check_torchvision_export', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_checker = _load_export_checker()
read_safetensors = _checker.read_safetensors

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
KNOWN_LOSSES = ('r-dem', 'r-iem')
KNOWN_MATCHERS = ('teacher',)


class ConfigError(ValueError):
    pass


# ---------------------------------------------------------------------------- safetensors


def write_safetensors(path, tensors, metadata=None):
    """Writes {name: torch.Tensor} (float32 as F32, int64 as I64) in the safetensors format."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header['__metadata__'] = {str(k): str(v) for k, v in metadata.items()}
    for name, t in tensors.items():
        t = t.detach().cpu().contiguous()
        if t.dtype == torch.float32:
            dtype, raw = 'F32', t.numpy().astype('<f4').tobytes()
        elif t.dtype == torch.int64:
            dtype, raw = 'I64', t.numpy().astype('<i8').tobytes()
        else:
            raise TypeError(f'tensor {name!r} has dtype {t.dtype}; expected float32 or int64')
        header[name] = {'dtype': dtype, 'shape': list(t.shape), 'data_offsets': [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    head = json.dumps(header, separators=(',', ':')).encode('utf-8')
    head += b' ' * ((8 - len(head) % 8) % 8)
    tmp = f'{path}.{os.getpid()}.tmp'
    with open(tmp, 'wb') as f:
        f.write(struct.pack('<Q', len(head)))
        f.write(head)
        for raw in blobs:
            f.write(raw)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------- config


def load_config(path):
    """The ExperimentConfig in `path`: a run's config.json, or {config: ...} (a plan job)."""
    with open(path) as f:
        raw = json.load(f)
    config = raw.get('config', raw) if isinstance(raw, dict) else raw
    check_config(config, path)
    return config


def check_config(config, source):
    def bad(field, expected, got):
        raise ConfigError(f'{source}: {field} must be {expected}, got {json.dumps(got)}')

    if not isinstance(config, dict):
        bad('the config', 'an object (ediy ExperimentConfig)', config)
    for key in ('name', 'seed', 'method', 'scale', 'optim'):
        if key not in config:
            bad(key, 'present (is this a config.json that ediy wrote?)', None)
    scale, method = config['scale'], config['method']
    bb = scale.get('backbone', {})
    if bb.get('depth') not in (18, 34, 50):
        bad('scale.backbone.depth', '18, 34 or 50', bb.get('depth'))
    if bb.get('stem') not in ('imagenet', 'small'):
        bad('scale.backbone.stem', "'imagenet' or 'small'", bb.get('stem'))
    for i, term in enumerate(method.get('regionLosses', [])):
        if term.get('loss') not in KNOWN_LOSSES:
            bad(f'method.regionLosses[{i}].loss', f'one of {", ".join(KNOWN_LOSSES)} here', term.get('loss'))
        if term.get('matcher') not in KNOWN_MATCHERS:
            bad(f'method.regionLosses[{i}].matcher', f'one of {", ".join(KNOWN_MATCHERS)} here', term.get('matcher'))
    for key in ('batchSize', 'accumulate', 'epochs', 'imageSize'):
        if not isinstance(scale.get(key), int) or scale[key] < 1:
            bad(f'scale.{key}', 'a positive integer', scale.get(key))
    if not isinstance(config['optim'].get('larsClip', False), bool):
        bad('optim.larsClip', 'true or false', config['optim']['larsClip'])
    augment = config.get('augment') or {}
    for part in ('both', 'view1', 'view2'):
        for key, value in (augment.get(part) or {}).items():
            if key not in AUGMENT_FIELDS or (key == 'blur' and set(value) - {'prob'}):
                bad(f'augment.{part}.{key}', f'one of {", ".join(AUGMENT_FIELDS)} (blur: prob only) here', value)
    if augment.get('scaleBlurSigma') is False:
        bad('augment.scaleBlurSigma', 'left out here (sigmas are those of BYOL at any size)', False)


# The `augment` fields this file's views follow (the rest of ediy's are refused, not ignored).
AUGMENT_FIELDS = ('cropScale', 'cropRatio', 'flipProb', 'grayscaleProb', 'solarizeProb', 'blur')


def needs_teacher(config):
    return any(t['matcher'] == 'teacher' for t in config['method']['regionLosses'])


# ---------------------------------------------------------------------------- networks


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin, width, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, width, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.downsample = None
        if stride != 1 or cin != width:
            self.downsample = nn.Sequential(nn.Conv2d(cin, width, 1, stride, bias=False), nn.BatchNorm2d(width))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (x if self.downsample is None else self.downsample(x)))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin, width, stride):
        super().__init__()
        out = width * 4
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.downsample = None
        if stride != 1 or cin != out:
            self.downsample = nn.Sequential(nn.Conv2d(cin, out, 1, stride, bias=False), nn.BatchNorm2d(out))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


class ResNet(nn.Module):
    """torchvision's ResNet layout and parameter names (conv1, bn1, layer1..4; no fc), with
    @ediy/backbones' options: the small-image stem (3x3/1 conv, no max-pool) and a width
    multiplier (round(64 x m) channels at the stem). Returns (layer4 map, pooled vector)."""

    def __init__(self, depth, stem, width_multiplier):
        super().__init__()
        base = int(round(64 * width_multiplier))
        if base < 1:
            raise ConfigError(f'widthMultiplier {width_multiplier} gives {base} stem channels; expected >= 1')
        block = Bottleneck if depth == 50 else BasicBlock
        layers = [2, 2, 2, 2] if depth == 18 else [3, 4, 6, 3]
        if stem == 'imagenet':
            self.conv1 = nn.Conv2d(3, base, 7, 2, 3, bias=False)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
        else:
            self.conv1 = nn.Conv2d(3, base, 3, 1, 1, bias=False)
            self.maxpool = nn.Identity()
        self.bn1 = nn.BatchNorm2d(base)
        cin = base
        for s, n in enumerate(layers):
            blocks = []
            for i in range(n):
                blocks.append(block(cin, base * 2**s, 2 if (i == 0 and s > 0) else 1))
                cin = base * 2**s * block.expansion
            setattr(self, f'layer{s + 1}', nn.Sequential(*blocks))
        self.channels = cin

    def forward(self, x):
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        m = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return m, m.mean((2, 3))


def head(cin, hidden, out, local):
    """BYOL's projector/predictor (Linear-BN-ReLU-Linear, the last without bias), or the same
    layers as 1x1 convolutions for the local branch."""
    if local:
        return nn.Sequential(nn.Conv2d(cin, hidden, 1), nn.BatchNorm2d(hidden), nn.ReLU(), nn.Conv2d(hidden, out, 1, bias=False))
    return nn.Sequential(nn.Linear(cin, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, out, bias=False))


class Online(nn.Module):
    """The online network f; one forward pass over both views, so DDP sees one call."""

    def __init__(self, config):
        super().__init__()
        scale, method = config['scale'], config['method']
        bb = scale['backbone']
        self.backbone = ResNet(bb['depth'], bb['stem'], bb['widthMultiplier'])
        c, h, o = self.backbone.channels, scale['projector']['hidden'], scale['projector']['out']
        self.projector = head(c, h, o, False)
        self.predictor = head(o, h, o, False)
        self.regions = len(method['regionLosses']) > 0
        self.local_projector = head(c, h, o, True)
        self.local_predictor = head(o, h, o, True) if method['localPredictor'] else None

    def forward(self, x1, x2):
        out = {}
        maps, zs, ps, ls, qs = [], [], [], [], []
        for x in (x1, x2):
            m, g = self.backbone(x)
            z = self.projector(g)
            maps.append(m)
            zs.append(z)
            ps.append(self.predictor(z))
            if self.regions:
                l = self.local_projector(m)
                ls.append(l)
                qs.append(self.local_predictor(l) if self.local_predictor is not None else l)
        out.update(maps=maps, z=zs, p=ps, local=ls, local_pred=qs)
        return out


class Target(nn.Module):
    """The target g: EMA copies of the online backbone and both projectors."""

    def __init__(self, online):
        super().__init__()
        self.backbone = copy.deepcopy(online.backbone)
        self.projector = copy.deepcopy(online.projector)
        self.local_projector = copy.deepcopy(online.local_projector)
        for p in self.parameters():
            p.requires_grad_(False)


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm over the batch of every process, as SyncBatchNorm, on CPU too (PyTorch 1.13's
    SyncBatchNorm is CUDA-only): the sums go through the autograd-aware all_reduce of
    torch.distributed.nn, so the gradient is the one-process gradient of the global batch.
    Keeps BatchNorm's parameter and buffer names, so the state dict is torchvision's."""

    def _check_input_dim(self, x):
        if x.dim() not in (2, 4):
            raise ValueError(f'expected a 2-D or 4-D input, got {x.dim()}-D')

    def forward(self, x):
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce

        dims = [0] + list(range(2, x.dim()))
        shape = [1, -1] + [1] * (x.dim() - 2)
        count = x.numel() // x.shape[1] * dist.get_world_size()
        mean = all_reduce(x.sum(dims)) / count
        d = x - mean.view(shape)
        var = all_reduce((d * d).sum(dims)) / count
        with torch.no_grad():
            m = self.momentum
            self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
            self.running_var.mul_(1 - m).add_(var.detach() * count / max(1, count - 1), alpha=m)
            self.num_batches_tracked.add_(1)
        y = d * torch.rsqrt(var + self.eps).view(shape)
        return y * self.weight.view(shape) + self.bias.view(shape)


def global_batchnorm(module, cuda):
    """Every BatchNorm of `module` made global over the processes: SyncBatchNorm on CUDA,
    GlobalBatchNorm on CPU."""
    if cuda:
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    for name, child in list(module.named_children()):
        if isinstance(child, (nn.BatchNorm1d, nn.BatchNorm2d)):
            bn = GlobalBatchNorm(child.num_features, child.eps, child.momentum, child.affine, child.track_running_stats)
            bn.load_state_dict(child.state_dict())
            setattr(module, name, bn)
        else:
            global_batchnorm(child, cuda)
    return module


def ema_pairs(online, target):
    return [(online.backbone, target.backbone), (online.projector, target.projector), (online.local_projector, target.local_projector)]


def load_backbone(config, path):
    """A ResNet of the config's architecture with a torchvision state dict's weights (fc ignored)."""
    state = read_safetensors(path)
    depth, stem, width = _checker.infer_arch(state, path)
    bb = config['scale']['backbone']
    net = ResNet(bb['depth'], bb['stem'], bb['widthMultiplier'])
    want = (bb['depth'], bb['stem'], int(round(64 * bb['widthMultiplier'])))
    if (depth, stem, width) != want:
        raise ConfigError(f'{path} holds a resnet{depth} ({stem} stem, width {width}); the config needs resnet{want[0]} ({want[1]} stem, width {want[2]})')
    sd = {k: torch.from_numpy(np.array(v)) for k, v in state.items() if not k.startswith('fc.')}
    missing, unexpected = net.load_state_dict(sd, strict=False)
    missing = [k for k in missing if not k.endswith('num_batches_tracked')]
    if missing or unexpected:
        raise ConfigError(f'{path}: missing {missing}, unexpected {unexpected}')
    return net


def backbone_state(backbone):
    """The torchvision state dict of a backbone (the global BatchNorms keep BatchNorm's keys)."""
    return {k: v for k, v in backbone.state_dict().items()}


# ---------------------------------------------------------------------------- views


def view_params(size, second, augment=None):
    """BYOL's two views (Grill et al. 2020, Table 6): blur p 1.0 / 0.1, solarize p 0 / 0.2;
    then the config's `augment.both` and `augment.view1` / `view2` changes, as ediy's
    viewParamsOf (crop scale and ratio, flip, grayscale, solarize and blur probabilities)."""
    params = {
        'size': size,
        'scale': (0.08, 1.0),
        'ratio': (3 / 4, 4 / 3),
        'flip': 0.5,
        'jitter': (0.8, 0.4, 0.4, 0.2),
        'gray': 0.2,
        'blur': 0.1 if second else 1.0,
        'solarize': 0.2 if second else 0.0,
    }
    names = {'cropScale': 'scale', 'cropRatio': 'ratio', 'flipProb': 'flip', 'grayscaleProb': 'gray', 'solarizeProb': 'solarize'}
    for part in ('both', 'view2' if second else 'view1'):
        for key, value in ((augment or {}).get(part) or {}).items():
            if key == 'blur':
                params['blur'] = value.get('prob', params['blur'])
            else:
                params[names[key]] = tuple(value) if isinstance(value, list) else value
    return params


def image_stream(seed, micro_step, position, view):
    """The random stream of one image's view."""
    return torch.Generator().manual_seed(((seed * 1_000_003 + micro_step) * 65_537 + position) * 2 + view)


def _u(gen, lo=0.0, hi=1.0):
    return lo + (hi - lo) * float(torch.rand((), generator=gen))


def augment(images, params, gens):
    """One view of a batch: images [B,H,W,3] in [0,1] -> normalised [B,3,S,S], image i drawn
    from the random stream gens[i]."""
    b, h, w, _ = images.shape
    x = images.permute(0, 3, 1, 2)
    size = params['size']
    out = []
    for i in range(b):
        gen = gens[i]
        area = h * w
        for _ in range(10):
            target = area * _u(gen, *params['scale'])
            ratio = math.exp(_u(gen, math.log(params['ratio'][0]), math.log(params['ratio'][1])))
            cw, ch = int(round(math.sqrt(target * ratio))), int(round(math.sqrt(target / ratio)))
            if 0 < cw <= w and 0 < ch <= h:
                break
        else:
            cw, ch = w, h
        top = int(torch.randint(0, h - ch + 1, (), generator=gen))
        left = int(torch.randint(0, w - cw + 1, (), generator=gen))
        v = F.interpolate(x[i:i + 1, :, top:top + ch, left:left + cw], size=(size, size), mode='bilinear', align_corners=False)[0]
        if _u(gen) < params['flip']:
            v = v.flip(2)
        prob, br, co, sa = params['jitter']
        if _u(gen) < prob:
            v = (v * _u(gen, max(0.0, 1 - br), 1 + br)).clamp(0, 1)
            mean = v.mean()
            v = ((v - mean) * _u(gen, max(0.0, 1 - co), 1 + co) + mean).clamp(0, 1)
            gray = (0.299 * v[0] + 0.587 * v[1] + 0.114 * v[2]).unsqueeze(0)
            v = ((v - gray) * _u(gen, max(0.0, 1 - sa), 1 + sa) + gray).clamp(0, 1)
        if _u(gen) < params['gray']:
            v = (0.299 * v[0] + 0.587 * v[1] + 0.114 * v[2]).unsqueeze(0).expand(3, -1, -1).clone()
        if _u(gen) < params['blur']:
            sigma = _u(gen, 0.1, 2.0)
            k = max(3, int(round(0.1 * size)) | 1)
            t = torch.arange(k, dtype=torch.float32) - k // 2
            g = torch.exp(-(t**2) / (2 * sigma**2))
            g = g / g.sum()
            v = F.conv2d(F.pad(v.unsqueeze(1), (k // 2, k // 2, 0, 0), mode='reflect'), g.view(1, 1, 1, k))
            v = F.conv2d(F.pad(v, (0, 0, k // 2, k // 2), mode='reflect'), g.view(1, 1, k, 1)).squeeze(1)
        if _u(gen) < params['solarize']:
            v = torch.where(v < 0.5, v, 1 - v)
        out.append(v)
    v = torch.stack(out)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (v - mean) / std


# ---------------------------------------------------------------------------- losses (Eq. 2-7)


def regions(m):
    """[B,C,H,W] -> unit vectors [B,N,C]."""
    return F.normalize(m.flatten(2).transpose(1, 2), dim=-1)


def gather(x, idx):
    """x [B,N,C], idx [B,M] -> [B,M,C]."""
    return torch.gather(x, 1, idx.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


def byol_loss(p, z):
    """Eq. 2: (2 - 2cos(p1, z2)) + (2 - 2cos(p2, z1)), batch means, targets without gradient."""
    return sum(2 - 2 * F.cosine_similarity(p[v], z[1 - v].detach(), dim=-1).mean() for v in (0, 1))


def teacher_matches(t):
    """Eq. 4 and 6 on the teacher's maps: per view the most different region of the same view
    (the region itself excluded) and the most similar region of the other view."""
    tr = [regions(m) for m in t]
    within, across = [], []
    for v in (0, 1):
        sim = tr[v] @ tr[v].transpose(1, 2)
        n = sim.shape[1]
        sim = sim.masked_fill(torch.eye(n, dtype=torch.bool, device=sim.device), float('inf'))
        within.append(sim.argmin(-1))
        across.append((tr[v] @ tr[1 - v].transpose(1, 2)).argmax(-1))
    return within, across


def r_dem(local, within, reading='per-view'):
    """Eq. 5: cos(l_v, l_v[most different]) averaged over regions, summed over the views."""
    l = [regions(m) for m in local]
    term = [(l[v] * gather(l[v], within[v])).sum(-1).mean() for v in (0, 1)]
    return 2 * term[0] if reading == 'first-view-twice' else term[0] + term[1]


def r_iem(pred, target_local, across):
    """Eq. 7: 2 - cos(q_1, t_2[match]) - cos(q_2, t_1[match]), targets without gradient."""
    q = [regions(m) for m in pred]
    t = [regions(m.detach()) for m in target_local]
    return 2 - sum((q[v] * gather(t[1 - v], across[v])).sum(-1).mean() for v in (0, 1))


# ---------------------------------------------------------------------------- optimisation


def warmup_cosine_lr(base_lr, batch, warmup, total, step):
    peak = base_lr * batch / 256
    if step < warmup:
        return peak * step / warmup
    return peak * (1 + math.cos(math.pi * (step - warmup) / (total - warmup))) / 2


def ema_tau(tau0, total, step):
    return 1 - (1 - tau0) * (math.cos(math.pi * step / total) + 1) / 2


@torch.no_grad()
def lars_step(params, state, lr, optim):
    """LARS (BYOL's): weight decay and the trust ratio r for weights of rank >= 2 only. With
    `optim.larsClip`, solo-learn's clipping as @ediy/optim: r becomes min(r / lr, 1) where
    lr > 0; at lr = 0 it stays r."""
    for p in params:
        if p.grad is None:
            continue
        u = p.grad
        if p.ndim > 1:
            u = u + optim['weightDecay'] * p
            wn, un = p.norm(), u.norm()
            ratio = torch.where((wn > 0) & (un > 0), optim['eta'] * wn / un, torch.ones_like(wn))
            if optim.get('larsClip') and lr > 0:
                ratio = torch.clamp(ratio / lr, max=1.0)
            u = ratio * u
        v = state.get(p)
        v = u.clone() if v is None else v.mul_(optim['momentum']).add_(u)
        state[p] = v
        p.sub_(lr * v)


@torch.no_grad()
def ema_update(online, target, tau):
    for o, t in ema_pairs(online, target):
        for po, pt in zip(o.parameters(), t.parameters()):
            pt.mul_(tau).add_(po, alpha=1 - tau)
        for bo, bt in zip(o.buffers(), t.buffers()):
            if bt.dtype.is_floating_point:
                bt.mul_(tau).add_(bo, alpha=1 - tau)
            else:
                bt.copy_(bo)


# ---------------------------------------------------------------------------- the step


def step_loss(config, online, target, teacher, x1, x2):
    """Eq. 3 on two views: the weighted loss and each term (before weighting)."""
    method = config['method']
    with torch.no_grad():
        tm, tg = zip(*(target.backbone(x) for x in (x1, x2)))
        tz = [target.projector(g) for g in tg]
        tl = [target.local_projector(m) for m in tm] if method['regionLosses'] else []
        matches = teacher_matches([teacher(x)[0] for x in (x1, x2)]) if teacher is not None else None
    out = online(x1, x2)
    terms, total = {}, 0
    if method['byolWeight'] > 0:
        terms['byol'] = byol_loss(out['p'], tz)
        total = total + method['byolWeight'] * terms['byol']
    for term in method['regionLosses']:
        within, across = matches
        name = term['loss']
        k = 2
        while name in terms:
            name, k = f"{term['loss']}#{k}", k + 1
        if term['loss'] == 'r-dem':
            value = r_dem(out['local'], within, (term.get('options') or {}).get('reading', 'per-view'))
        else:
            value = r_iem(out['local_pred'], tl, across)
        terms[name] = value
        total = total + term['weight'] * value
    return total, terms


def read_metadata(path):
    """The `__metadata__` of a safetensors file ({} when absent)."""
    with open(path, 'rb') as f:
        (n,) = struct.unpack('<Q', f.read(8))
        return json.loads(f.read(n).decode('utf-8')).get('__metadata__', {})


def _load_prefixed(module, state, prefix, path):
    sd = {k[len(prefix):]: torch.from_numpy(np.array(v)) for k, v in state.items() if k.startswith(prefix)}
    missing, unexpected = module.load_state_dict(sd, strict=False)
    missing = [k for k in missing if not k.endswith('num_batches_tracked')]
    if missing or unexpected:
        raise ConfigError(f'{path}: {prefix}* has missing {missing[:5]}, unexpected {unexpected[:5]}')


def check_step(config, path, tol, grad_tol):
    """Runs Eq. 3 on the views and weights tools/torch/ts-step.mjs wrote (the TypeScript
    trainer's micro-step) and compares the loss, each term and the gradient of every online
    weight with the TypeScript values.
    Returns (ok, report)."""
    state = read_safetensors(path)
    meta = read_metadata(path)
    online = Online(config)
    target = Target(online)
    _load_prefixed(online, state, 'online.', path)
    _load_prefixed(target, state, 'target.', path)
    teacher = None
    if needs_teacher(config):
        bb = config['scale']['backbone']
        teacher = ResNet(bb['depth'], bb['stem'], bb['widthMultiplier'])
        _load_prefixed(teacher, state, 'teacher.', path)
        teacher.eval()
    x1, x2 = (torch.from_numpy(np.array(state[k])) for k in ('x1', 'x2'))
    loss, terms = step_loss(config, online, target, teacher, x1, x2)
    loss.backward()
    ours = {'loss': float(loss), **{k: float(v) for k, v in terms.items()}}
    theirs = {'loss': float(meta['loss']), **json.loads(meta['terms'])}
    diff = {k: abs(ours[k] - theirs[k]) for k in theirs}
    ok = set(ours) == set(theirs) and all(d <= tol * max(1.0, abs(theirs[k])) for k, d in diff.items())
    # Gradients: per tensor, max |torch - ts| relative to max |ts| of that tensor, with a floor
    # of 1e-3 of the largest gradient of all (a bias before BatchNorm has a gradient that is
    # zero up to rounding, whose relative error means nothing).
    pairs = []
    for name, p in online.named_parameters():
        key = f'grad.online.{name}'
        if key in state:
            pairs.append((name, p.grad if p.grad is not None else torch.zeros_like(p), torch.from_numpy(np.array(state[key]))))
    floor = 1e-3 * max((float(ts.abs().max()) for _, _, ts in pairs), default=0.0)
    grads, worst = len(pairs), (0.0, None)
    for name, ours_g, ts in pairs:
        rel = float((ours_g - ts).abs().max()) / max(float(ts.abs().max()), floor, 1e-30)
        if rel > worst[0]:
            worst = (rel, name)
    ok = ok and grads > 0 and worst[0] <= grad_tol
    return ok, {
        'torch': ours,
        'ts': theirs,
        'absDiff': diff,
        'tolerance': tol,
        'gradients': grads,
        'worstGradientRelDiff': worst[0],
        'worstGradient': worst[1],
        'gradientTolerance': grad_tol,
        'tsBackend': meta.get('backend'),
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--config', required=True, help="an ExperimentConfig JSON (a run's config.json, or a plan job)")
    ap.add_argument('--images', help='training images: safetensors with `images` [N,H,W,3] in [0,1] (tools/torch/write-images.mjs)')
    ap.add_argument('--teacher-weights', help='torchvision safetensors of the frozen teacher (ediy export <run> --format torchvision)')
    ap.add_argument('--out', help='output folder (required to train)')
    ap.add_argument('--backend', choices=['auto', 'gloo', 'nccl'], default='auto', help='process group backend (auto: nccl with CUDA, else gloo)')
    ap.add_argument('--max-steps', type=int, help="cap on optimiser steps (default: the config's)")
    ap.add_argument('--threads', type=int, default=0, help='CPU threads per process (default: cores / processes)')
    ap.add_argument('--check-step', metavar='FILE', help='no training: compare one step with the TypeScript step in FILE (tools/torch/ts-step.mjs)')
    ap.add_argument('--tolerance', type=float, default=1e-4, help='--check-step: largest loss difference allowed, relative to max(1, |value|)')
    ap.add_argument('--gradient-tolerance', type=float, default=1e-3, help='--check-step: largest gradient difference allowed, relative to the largest |gradient| of each tensor')
    a = ap.parse_args(argv)

    config = load_config(a.config)
    if a.check_step:
        torch.set_num_threads(a.threads or 1)
        ok, report = check_step(config, a.check_step, a.tolerance, a.gradient_tolerance)
        print(json.dumps(report))
        if not ok:
            print(f'ediy-torch: the PyTorch step differs from the TypeScript step: {json.dumps(report)}', file=sys.stderr)
        return 0 if ok else 1
    if not a.images or not a.out:
        ap.error('--images and --out are required to train')
    scale, optim, method = config['scale'], config['optim'], config['method']
    cuda = torch.cuda.is_available()
    backend = a.backend if a.backend != 'auto' else ('nccl' if cuda else 'gloo')
    distributed = 'WORLD_SIZE' in os.environ
    if distributed:
        dist.init_process_group(backend)
        rank, world = dist.get_rank(), dist.get_world_size()
    else:
        rank, world = 0, 1
    local_rank = int(os.environ.get('LOCAL_RANK', 0))
    device = torch.device('cuda', local_rank) if backend == 'nccl' else torch.device('cpu')
    if device.type == 'cuda':
        torch.cuda.set_device(device)
    torch.set_num_threads(a.threads or max(1, (os.cpu_count() or 1) // world))
    batch = scale['batchSize']
    if batch % world:
        raise ConfigError(f'scale.batchSize {batch} must be a multiple of the {world} processes')
    per_rank = batch // world

    images_file = read_safetensors(a.images)
    if 'images' not in images_file:
        raise ConfigError(f'{a.images} has no `images` tensor; write it with tools/torch/write-images.mjs')
    images = torch.from_numpy(np.array(images_file['images'], dtype=np.float32))
    if images.ndim != 4 or images.shape[3] != 3:
        raise ConfigError(f'{a.images}: images must be [N,H,W,3], got {list(images.shape)}')

    torch.manual_seed(config['seed'])  # the same initial weights on every process
    online = Online(config)
    teacher = None
    if needs_teacher(config):
        if not a.teacher_weights:
            raise ConfigError(f"{config['name']} pairs regions with a teacher: pass --teacher-weights (ediy export <teacher run> --format torchvision --out teacher.safetensors)")
        teacher = load_backbone(config, a.teacher_weights).to(device).eval()
        for p in teacher.parameters():
            p.requires_grad_(False)
    if distributed:
        online = global_batchnorm(online, device.type == 'cuda')
    online = online.to(device)
    target = Target(online).to(device)
    model = nn.parallel.DistributedDataParallel(online, device_ids=[local_rank] if device.type == 'cuda' else None, find_unused_parameters=not method['regionLosses']) if distributed else online
    # The local heads do not enter a BYOL row's loss: leave them out of the optimiser.
    params = [p for n, p in online.named_parameters() if method['regionLosses'] or not n.startswith('local_')]

    n = images.shape[0]
    effective = batch * scale['accumulate']
    steps_per_epoch = n // effective
    if steps_per_epoch < 1:
        raise ConfigError(f'{n} images do not fill one step of {effective}')
    total = scale['epochs'] * steps_per_epoch
    if scale.get('maxSteps'):
        total = min(total, scale['maxSteps'])
    if a.max_steps:
        total = min(total, a.max_steps)
    # runSchedule in @ediy/trainer: the warm-up is a share of the run's real steps, fewer than them.
    share = optim['warmupFraction'] if 'warmupFraction' in optim else optim['warmupEpochs'] / scale['epochs']
    warmup = min(total - 1, round(share * total))
    views = (view_params(scale['imageSize'], False, config.get('augment')), view_params(scale['imageSize'], True, config.get('augment')))
    out_dir = Path(a.out)
    if rank == 0:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / 'config.json').write_text(json.dumps(config, indent=2) + '\n')
        log = open(out_dir / 'log.jsonl', 'w')
    state = {}
    order = None
    started = time.perf_counter()
    for step in range(total):
        t0 = time.perf_counter()
        lr = warmup_cosine_lr(optim['baseLr'], effective, warmup, total, step)
        tau = ema_tau(optim['tau0'], total, step)
        for p in params:
            p.grad = None
        logged = {}
        for micro in range(scale['accumulate']):
            k = step * scale['accumulate'] + micro
            epoch, at = divmod(k * batch, steps_per_epoch * effective)
            if at == 0 or order is None:
                order = torch.randperm(n, generator=torch.Generator().manual_seed(config['seed'] * 100003 + epoch))
            idx = order[at + rank * per_rank: at + (rank + 1) * per_rank]
            x = images[idx]
            # Each image's views come from a stream of (seed, micro-step, place in the global
            # batch, view): the same views however many processes share the batch.
            x1, x2 = (
                augment(x, params_v, [image_stream(config['seed'], k, rank * per_rank + j, v) for j in range(per_rank)]).to(device)
                for v, params_v in enumerate(views)
            )
            sync = micro == scale['accumulate'] - 1 or not distributed
            ctx = model.no_sync() if not sync else _null()
            with ctx:
                loss, terms = step_loss(config, model, target, teacher, x1, x2)
                (loss / scale['accumulate']).backward()
            for name, value in [('loss', loss), *terms.items()]:
                logged[name] = logged.get(name, 0.0) + float(value.detach()) / scale['accumulate']
        lars_step(params, state, lr, optim)
        ema_update(online, target, tau)
        if distributed:
            # Each process logs the mean over processes of its micro-batch's values.
            vals = torch.tensor([logged[k] for k in sorted(logged)], dtype=torch.float64)
            dist.all_reduce(vals)
            logged = {k: float(v) / world for k, v in zip(sorted(logged), vals)}
        dt = time.perf_counter() - t0
        if rank == 0:
            record = {
                'step': step + 1,
                'loss': logged.pop('loss'),
                'terms': logged,
                'lr': lr,
                'tau': tau,
                'imagesPerSec': effective / dt,
                'elapsedSec': time.perf_counter() - started,
                'processes': world,
                'backend': backend,
            }
            log.write(json.dumps(record) + '\n')
            log.flush()
            print(f"ediy-torch: step {step + 1}/{total} loss {record['loss']:.4f} ({record['imagesPerSec']:.1f} images/s, {world} x {backend})", file=sys.stderr, flush=True)
    if rank == 0:
        log.close()
        write_safetensors(out_dir / 'backbone.safetensors', backbone_state(online.backbone), {'format': 'pt', 'source': 'tools/torch/ediy_train.py', 'config': config['name']})
        (out_dir / 'done.json').write_text(json.dumps({'steps': total, 'processes': world, 'backend': backend, 'seconds': time.perf_counter() - started}) + '\n')
    if distributed:
        dist.barrier()
        dist.destroy_process_group()
    return 0


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


if __name__ == '__main__':
    try:
        sys.exit(main())
    except (ConfigError, _checker.CheckError) as err:
        print(f'ediy-torch: error: {err}', file=sys.stderr)
        sys.exit(2)
