#!/usr/bin/env python3
"""Short-run BYOL / E-DIY recipes on Fashion-MNIST in PyTorch: train the `mini` architecture
with a given recipe, then evaluate the frozen backbone. The independent reference of
docs/results/recipe.md (Debian's python3-torch; never a runtime dependency of ediy).

    /usr/bin/python3 tools/reference/recipe.py train --data /usr/share/datasets/fashion-mnist \\
        --steps 400 --base-lr 1.0 --eta 0.02 --clip --weight-decay 1e-5 --tau0 0.99 \\
        --warmup-frac 0.01 --seed 0 --out runs/recipe/solo-s0
    /usr/bin/python3 tools/reference/recipe.py floor --data /usr/share/datasets/fashion-mnist --seed 0
    /usr/bin/python3 tools/reference/recipe.py eval --data ... --weights backbone.safetensors
    # a learning curve: one schedule, the online backbone evaluated along the way
    # (<out>/curve.jsonl, <out>/at-<step>/backbone.safetensors; docs/results/curve.md)
    /usr/bin/python3 tools/reference/recipe.py train --steps 1500 --eval-at 0,150,300,600,1000,1500 \
        --bn running --memory 10000 --init runs/recipe2/ediy-init-s0.safetensors [recipe flags] --out DIR

The networks, the losses, the schedules and BYOL's LARS are tools/torch/ediy_train.py's (the
same ResNet with torchvision's names, projector, predictor, EMA target); `--clip` adds
solo-learn's LARS learning-rate clipping (solo/utils/lars.py, `clip_lars_lr`): the trust
ratio r becomes min(r / lr, 1), so a layer's step is lr * min(r / lr, 1) = min(r, lr) times
its (weight-decayed) gradient. The views are ediy's (`byolViewParams(32, {scaleBlurSigma:
true})`) as far as they act on Fashion-MNIST's gray images: random resized crop (scale
[--crop-min, 1], BYOL's 0.08 by default, ratio [3/4, 4/3]) of the 28 px image to 32 px, flip 0.5, brightness and contrast
jitter 0.4 in a random order with p 0.8 (saturation, hue and grayscale leave gray pixels
as they are), blur p 1.0 / 0.1 with sigma [0.1, 2] x 32/224 and a 3-tap kernel, solarize
p 0 / 0.2, ImageNet normalisation. The random streams are PyTorch's, so a run is not
`ediy pretrain`'s run with the same seed.

Evaluation (the protocol of issue 17): the pooled layer4 features of the online backbone
on the 28 px images (ImageNet-normalised, as `ediy eval` feeds them); kNN (cosine, k = 20,
votes exp(cos / 0.07)) with the whole training split (60k; --memory N: a fixed random N of
it, which also trains the probe) as memory, scored on the whole
test split (10k); a linear probe (multinomial logistic regression, L-BFGS, on features
standardised with the training split's mean and deviation) trained on the training split,
scored on the test split. Each accuracy comes with a 95% bootstrap interval over the test
images. BatchNorm: `running` uses the network's moving statistics (for an untrained network
its initial 0 / 1); `estimated` re-estimates them as plain means over 64 batches of 128
training images (PyTorch's momentum=None) before extracting.

Prints one JSON line per evaluation and writes <out>/result.json.
"""
import argparse
import gzip
import importlib.util
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location('ediy_train', HERE.parent / 'torch' / 'ediy_train.py')
et = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(et)

MEAN = torch.tensor(et.IMAGENET_MEAN).view(1, 3, 1, 1)
STD = torch.tensor(et.IMAGENET_STD).view(1, 3, 1, 1)


# ---------------------------------------------------------------------------- data


def read_idx(path):
    with gzip.open(path, 'rb') if str(path).endswith('.gz') else open(path, 'rb') as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], 'big') for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_fashion(folder):
    """(train images [60000,1,28,28] in [0,1], train labels, test images, test labels)."""
    folder = Path(folder)
    out = []
    for split in ('train', 't10k'):
        x = read_idx(folder / f'{split}-images-idx3-ubyte.gz')
        y = read_idx(folder / f'{split}-labels-idx1-ubyte.gz')
        out += [torch.from_numpy(x.astype(np.float32) / 255).unsqueeze(1), torch.from_numpy(y.astype(np.int64))]
    return out


# ---------------------------------------------------------------------------- views


def views(x, size, second, gen, crop_min=0.08):
    """One BYOL view of a batch of gray images x [B,1,H,W] in [0,1] -> [B,3,size,size];
    the crop's area is a uniform share in [crop_min, 1] of the image's."""
    b, _, h, w = x.shape
    u = lambda *shape: torch.rand(shape, generator=gen)  # noqa: E731
    # random resized crop (torchvision's sampling, 10 tries then the whole image)
    area = h * w
    scale = crop_min + (1 - crop_min) * u(b, 10)
    logr = math.log(3 / 4) + (math.log(4 / 3) - math.log(3 / 4)) * u(b, 10)
    cw = torch.round(torch.sqrt(area * scale * torch.exp(logr)))
    ch = torch.round(torch.sqrt(area * scale / torch.exp(logr)))
    ok = (cw > 0) & (cw <= w) & (ch > 0) & (ch <= h)
    first = torch.where(ok.any(1), ok.float().argmax(1), torch.zeros(b, dtype=torch.long))
    cw = torch.where(ok.any(1), cw[torch.arange(b), first], torch.full((b,), float(w)))
    ch = torch.where(ok.any(1), ch[torch.arange(b), first], torch.full((b,), float(h)))
    top = torch.floor(u(b) * (h - ch + 1))
    left = torch.floor(u(b) * (w - cw + 1))
    # affine grid over the crop box (align_corners=False coordinates)
    theta = torch.zeros(b, 2, 3)
    flip = torch.where(u(b) < 0.5, -1.0, 1.0)
    theta[:, 0, 0] = cw / w * flip
    theta[:, 0, 2] = (2 * left + cw) / w - 1
    theta[:, 1, 1] = ch / h
    theta[:, 1, 2] = (2 * top + ch) / h - 1
    grid = F.affine_grid(theta, (b, 1, size, size), align_corners=False)
    v = F.grid_sample(x, grid, mode='bilinear', padding_mode='border', align_corners=False)
    # brightness / contrast, random order, p 0.8
    jit = u(b) < 0.8
    bright = 0.6 + 0.8 * u(b)
    contr = 0.6 + 0.8 * u(b)
    order = u(b) < 0.5
    def _b(t):
        return (t * bright.view(b, 1, 1, 1)).clamp(0, 1)
    def _c(t):
        m = t.mean((1, 2, 3), keepdim=True)
        return ((t - m) * contr.view(b, 1, 1, 1) + m).clamp(0, 1)
    bc, cb = _c(_b(v)), _b(_c(v))
    v = torch.where(jit.view(b, 1, 1, 1), torch.where(order.view(b, 1, 1, 1), bc, cb), v)
    # blur: sigma in [0.1, 2] * size / 224, kernel max(3, odd(0.1 size))
    pblur = 0.1 if second else 1.0
    k = max(3, int(round(0.1 * size)) | 1)
    sigma = (0.1 + 1.9 * u(b)) * size / 224
    t = torch.arange(k, dtype=torch.float32) - k // 2
    g = torch.exp(-(t.view(1, k) ** 2) / (2 * sigma.view(b, 1) ** 2))
    g = g / g.sum(1, keepdim=True)
    blur = u(b) < pblur
    vb = v.view(1, b, size, size)
    vb = F.conv2d(F.pad(vb, (k // 2, k // 2, 0, 0), mode='reflect'), g.view(b, 1, 1, k), groups=b)
    vb = F.conv2d(F.pad(vb, (0, 0, k // 2, k // 2), mode='reflect'), g.view(b, 1, k, 1), groups=b)
    v = torch.where(blur.view(b, 1, 1, 1), vb.view(b, 1, size, size), v)
    # solarize
    psol = 0.2 if second else 0.0
    sol = (u(b) < psol).view(b, 1, 1, 1)
    v = torch.where(sol & (v >= 0.5), 1 - v, v)
    return (v.expand(-1, 3, -1, -1) - MEAN) / STD


# ---------------------------------------------------------------------------- optimiser


@torch.no_grad()
def lars_step(params, state, lr, momentum, weight_decay, eta, clip, zero_lr='trust'):
    """BYOL's LARS (ediy's @ediy/optim): for weights of rank >= 2, u = g + wd w and
    r = eta ||w|| / ||u|| (1 when a norm is 0); with `clip`, r = min(r / lr, 1) (solo-learn's
    clip_lars_lr) where lr > 0; at lr = 0, r stays the unclipped trust ratio (@ediy/optim's rule),
    or is 1 with zero_lr='one' (solo-learn's min(r / 0, 1), and @ediy/optim before it took r);
    v = m v + r u; w -= lr v. Rank-1 parameters: v = m v + g."""
    for p in params:
        if p.grad is None:
            continue
        u = p.grad
        if p.ndim > 1:
            u = u + weight_decay * p
            wn, un = p.norm(), u.norm()
            ratio = torch.where((wn > 0) & (un > 0), eta * wn / un, torch.ones_like(wn))
            if clip and lr > 0:
                ratio = torch.clamp(ratio / lr, max=1.0)
            elif clip and zero_lr == 'one':
                ratio = torch.ones_like(ratio)
            u = ratio * u
        v = state.get(p)
        v = u.clone() if v is None else v.mul_(momentum).add_(u)
        state[p] = v
        p.sub_(lr * v)


# ---------------------------------------------------------------------------- evaluation


@torch.no_grad()
def features(backbone, x, batch=500):
    backbone.eval()
    out = []
    for i in range(0, x.shape[0], batch):
        xb = (x[i:i + batch].expand(-1, 3, -1, -1) - MEAN) / STD
        out.append(backbone(xb)[1])
    return torch.cat(out)


@torch.no_grad()
def estimate_bn(backbone, x, gen, batches=64, batch=128):
    """Replaces every BatchNorm's moving statistics with plain means over `batches`
    random training batches (momentum=None), as 'statistics estimated on the data'."""
    bns = [m for m in backbone.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [(m.momentum,) for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    backbone.train()
    for _ in range(batches):
        idx = torch.randint(0, x.shape[0], (batch,), generator=gen)
        backbone((x[idx].expand(-1, 3, -1, -1) - MEAN) / STD)
    for m, (mom,) in zip(bns, saved):
        m.momentum = mom
    backbone.eval()


def knn_predict(train_f, train_y, test_f, k=20, t=0.07, classes=10, batch=500):
    train_f = F.normalize(train_f, dim=1)
    test_f = F.normalize(test_f, dim=1)
    preds = []
    for i in range(0, test_f.shape[0], batch):
        sim = test_f[i:i + batch] @ train_f.T
        s, idx = sim.topk(k, dim=1)
        w = torch.exp((s - 1) / t)
        votes = torch.zeros(sim.shape[0], classes).scatter_add_(1, train_y[idx], w)
        preds.append(votes.argmax(1))
    return torch.cat(preds)


def linear_predict(train_f, train_y, test_f, classes=10, l2=1e-4, iters=200):
    mean, std = train_f.mean(0), train_f.std(0).clamp_min(1e-6)
    a, b = (train_f - mean) / std, (test_f - mean) / std
    lin = nn.Linear(a.shape[1], classes).double()
    a, b = a.double(), b.double()
    opt = torch.optim.LBFGS(lin.parameters(), lr=1, max_iter=iters, history_size=20, line_search_fn='strong_wolfe')

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(lin(a), train_y) + l2 * lin.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return lin(b).argmax(1)


def accuracy_ci(correct, seed=0, reps=1000):
    """Top-1 and its 95% bootstrap interval over the test images."""
    c = correct.double()
    n = c.shape[0]
    g = torch.Generator().manual_seed(seed)
    boots = c[torch.randint(0, n, (reps, n), generator=g)].mean(1)
    lo, hi = torch.quantile(boots, torch.tensor([0.025, 0.975], dtype=torch.float64))
    return {'top1': float(c.mean()), 'ci95': [float(lo), float(hi)]}


def evaluate(backbone, data, bn, seed, memory=None):
    xtr, ytr, xte, yte = data
    if memory and memory < xtr.shape[0]:
        keep = torch.randperm(xtr.shape[0], generator=torch.Generator().manual_seed(12345))[:memory]
        xtr, ytr = xtr[keep], ytr[keep]
    t0 = time.process_time()
    if bn == 'estimated':
        estimate_bn(backbone, xtr, torch.Generator().manual_seed(seed + 7))
    ftr, fte = features(backbone, xtr), features(backbone, xte)
    knn = knn_predict(ftr, ytr, fte)
    lin = linear_predict(ftr, ytr, fte)
    return {
        'bn': bn,
        'knn': accuracy_ci(knn == yte, seed),
        'linear': accuracy_ci(lin == yte, seed),
        'memory': int(xtr.shape[0]),
        'evalCpuSec': time.process_time() - t0,
    }


# ---------------------------------------------------------------------------- training


def parse_eval_at(text, steps):
    """--eval-at's steps (a comma-separated list of integers in [0, steps]), sorted; [] for none."""
    if not text:
        return []
    out = []
    for part in text.split(','):
        try:
            v = int(part)
        except ValueError:
            raise SystemExit(f'recipe: --eval-at must be comma-separated step counts, got {part!r} in {text!r}')
        if not 0 <= v <= steps:
            raise SystemExit(f'recipe: --eval-at step {v} is outside [0, --steps {steps}]')
        out.append(v)
    return sorted(set(out))


def config_for(a):
    """An ediy ExperimentConfig-shaped dict of the run (what ediy_train's modules read)."""
    region = []
    if a.method == 'ediy':
        region = [
            {'loss': 'r-dem', 'weight': 1.0, 'matcher': 'teacher'},
            {'loss': 'r-iem', 'weight': 1.0, 'matcher': 'teacher'},
        ]
    return {
        'name': 'recipe',
        'seed': a.seed,
        'method': {'byolWeight': 1.0, 'regionLosses': region, 'localPredictor': True},
        'scale': {
            'backbone': {'depth': 18, 'stem': 'small', 'widthMultiplier': a.width},
            'projector': {'hidden': a.hidden, 'out': a.proj_out},
            'imageSize': 32,
            'batchSize': a.batch,
            'accumulate': 1,
            'epochs': 1,
        },
    }


def train(a, data):
    config = config_for(a)
    torch.manual_seed(a.seed)
    online = et.Online(config)
    if a.init:
        # Another implementation's initial weights (tools/torch/ts-step.mjs writes ediy's
        # online network under these names): the same start, PyTorch's views and step.
        state = et.read_safetensors(a.init)
        for prefix, module in (('online.backbone.', online.backbone), ('online.projector.', online.projector), ('online.predictor.', online.predictor)):
            et._load_prefixed(module, state, prefix, a.init)
    target = et.Target(online)
    teacher = None
    if a.method == 'ediy':
        if not a.teacher:
            raise SystemExit('recipe: --method ediy needs --teacher <backbone.safetensors>')
        teacher = et.load_backbone(config, a.teacher).eval()
        for p in teacher.parameters():
            p.requires_grad_(False)
    params = [p for n, p in online.named_parameters() if config['method']['regionLosses'] or not n.startswith('local_')]
    xtr = data[0]
    n = xtr.shape[0]
    gen = torch.Generator().manual_seed(a.seed * 7919 + 1)
    warmup = round(a.warmup_frac * a.steps)
    state, order, at = {}, torch.randperm(n, generator=gen), 0
    log, losses, started, cpu0 = [], [], time.perf_counter(), time.process_time()
    eval_at = parse_eval_at(a.eval_at, a.steps)
    curve, eval_cpu, eval_wall = [], 0.0, 0.0

    def point(done):
        # The online backbone after `done` updates: its weights under <out>/at-<done>/ and its
        # evaluation (the --bn conventions, a copy of the network, no training state touched)
        # as a line of <out>/curve.jsonl, with the training's own CPU time and wall so far.
        nonlocal eval_cpu, eval_wall
        w0, c0 = time.perf_counter(), time.process_time()
        import copy
        net = copy.deepcopy(online.backbone)
        sub = Path(a.out) / f'at-{done}'
        sub.mkdir(parents=True, exist_ok=True)
        et.write_safetensors(sub / 'backbone.safetensors', et.backbone_state(net), {'format': 'pt', 'source': 'tools/reference/recipe.py'})
        evals = [evaluate(copy.deepcopy(net), data, bn, a.seed, a.memory) for bn in ([] if a.bn == 'none' else a.bn.split(','))]
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        row = {
            'step': done,
            'trainCpuSec': time.process_time() - cpu0 - eval_cpu - cpu,
            'trainWallSec': time.perf_counter() - started - eval_wall - wall,
            'evalCpuSec': cpu,
            'evalWallSec': wall,
            'loadavg': list(os.getloadavg()),
            'loss25': sum(losses[-25:]) / len(losses[-25:]) if losses else None,
            'evals': evals,
        }
        eval_cpu, eval_wall = eval_cpu + cpu, eval_wall + wall
        curve.append(row)
        with open(Path(a.out) / 'curve.jsonl', 'a') as f:
            f.write(json.dumps(row) + '\n')
        print(f'recipe: point {done}: ' + json.dumps(row), file=sys.stderr, flush=True)

    if eval_at and 0 in eval_at:
        point(0)
    for step in range(a.stop_at or a.steps):
        lr = et.warmup_cosine_lr(a.base_lr, a.batch, warmup, a.steps, step)
        tau = et.ema_tau(a.tau0, a.steps, step)
        if at + a.batch > n:
            order, at = torch.randperm(n, generator=gen), 0
        x = xtr[order[at:at + a.batch]]
        at += a.batch
        x1, x2 = views(x, 32, False, gen, a.crop_min), views(x, 32, True, gen, a.crop_min)
        online.train()
        target.train()
        for p in params:
            p.grad = None
        loss, terms = et.step_loss(config, online, target, teacher, x1, x2)
        loss.backward()
        lars_step(params, state, lr, a.momentum, a.weight_decay, a.eta, a.clip, a.zero_lr)
        et.ema_update(online, target, tau)
        losses.append(float(loss))
        if (step + 1) % 25 == 0 or step == 0:
            window = losses[-25:]
            log.append({'step': step + 1, 'loss': float(loss), 'loss25': sum(window) / len(window), 'lr': lr, 'tau': tau})
            print(f'recipe: step {step + 1}/{a.steps} loss {float(loss):.4f} (25-step mean {sum(losses[-25:]) / len(losses[-25:]):.4f}) lr {lr:.4f} tau {tau:.4f} '
                  f'{time.perf_counter() - started:.0f}s', file=sys.stderr, flush=True)
        if eval_at and step + 1 in eval_at:
            point(step + 1)
    return online, {
        'trainWallSec': time.perf_counter() - started - eval_wall,
        'trainCpuSec': time.process_time() - cpu0 - eval_cpu,
        'curve': curve,
        'log': log,
        'losses': losses,
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('mode', choices=['train', 'floor', 'eval'])
    ap.add_argument('--data', default='/usr/share/datasets/fashion-mnist')
    ap.add_argument('--out', help='output folder (train): result.json, backbone.safetensors')
    ap.add_argument('--weights', help='eval: a torchvision safetensors backbone (ediy export --format torchvision)')
    ap.add_argument('--method', choices=['byol', 'ediy'], default='byol')
    ap.add_argument('--teacher', help='ediy: the frozen teacher backbone (safetensors)')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--steps', type=int, default=400)
    ap.add_argument('--stop-at', type=int, help='train: stop after this many steps of the --steps schedule (a cheap look at the start of a run)')
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--width', type=float, default=0.25)
    ap.add_argument('--hidden', type=int, default=512)
    ap.add_argument('--proj-out', type=int, default=128)
    ap.add_argument('--base-lr', type=float, default=0.2, help='LR at batch 256 (peak = base x batch / 256)')
    ap.add_argument('--momentum', type=float, default=0.9)
    ap.add_argument('--weight-decay', type=float, default=1.5e-6)
    ap.add_argument('--eta', type=float, default=1e-3)
    ap.add_argument('--clip', action='store_true', help="solo-learn's LARS LR clipping")
    ap.add_argument('--zero-lr', choices=['trust', 'one'], default='trust', help="--clip's factor at lr = 0: the unclipped trust ratio (@ediy/optim), or 1 (solo-learn's limit)")
    ap.add_argument('--tau0', type=float, default=0.996)
    ap.add_argument('--warmup-frac', type=float, default=10 / 300, help='warm-up steps as a fraction of the steps')
    ap.add_argument('--crop-min', type=float, default=0.08, help="the random resized crop's smallest area share (BYOL's 0.08)")
    ap.add_argument('--init', help='train: start from these online weights (safetensors with online.backbone.*, online.projector.*, online.predictor.*, as tools/torch/ts-step.mjs writes) instead of PyTorch\'s initialisation')
    ap.add_argument('--bn', default='running,estimated', help='BatchNorm conventions to evaluate (none: no evaluation)')
    ap.add_argument('--memory', type=int, default=60000, help='training images that are the kNN memory and train the probe (a fixed random subset)')
    ap.add_argument('--eval-at', help='train: evaluate the online backbone after these steps (comma-separated, 0 = the initial weights) with the --bn conventions, keep each point\'s backbone in <out>/at-<step>/ and its scores in <out>/curve.jsonl (needs --out)')
    ap.add_argument('--threads', type=int, default=1)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    if a.eval_at and not (a.mode == 'train' and a.out):
        raise SystemExit('recipe: --eval-at needs train mode and --out')
    data = load_fashion(a.data)
    result = {'mode': a.mode, 'args': vars(a)}
    config = config_for(a)
    if a.mode == 'train':
        backbone, info = train(a, data)
        backbone = backbone.backbone
        result.update(info)
    elif a.mode == 'floor':
        torch.manual_seed(a.seed)
        backbone = et.Online(config).backbone
    else:
        backbone = et.load_backbone(config, a.weights)
    result['evals'] = []
    # with --eval-at, the curve's points are the evaluations (the last one is the run's end
    # when --eval-at lists --steps)
    for bn in [] if a.bn == 'none' or a.eval_at else a.bn.split(','):
        import copy
        net = copy.deepcopy(backbone)
        r = evaluate(net, data, bn, a.seed, a.memory)
        result['evals'].append(r)
        print(json.dumps({'mode': a.mode, 'seed': a.seed, **r}), flush=True)
    if a.out:
        out = Path(a.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / 'result.json').write_text(json.dumps(result, indent=1) + '\n')
        if a.mode == 'train':
            et.write_safetensors(out / 'backbone.safetensors', et.backbone_state(backbone), {'format': 'pt', 'source': 'tools/reference/recipe.py'})
    return 0


if __name__ == '__main__':
    sys.exit(main())
