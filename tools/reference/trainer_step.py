#!/usr/bin/env python3
"""Golden values of one E-DIY training step, computed with PyTorch independently of the
TypeScript code: packages/trainer/test/fixtures/step-golden.json.

    /usr/bin/python3 tools/reference/trainer_step.py > packages/trainer/test/fixtures/step-golden.json

The step (DESIGN.md "The method, pinned down"): a ResNet-18 with the small stem at width
1/64 (torchvision's layer names), BYOL's projector and predictor (Linear-BN-ReLU-Linear,
no bias in the last Linear) at 8 hidden / 4 output units, the local projector and
predictor as the same layers in 1x1 convolutions, the target (backbone and both
projectors) and a teacher of the same architecture. Two fixed views of four 16 px images
(view 1 normalised with ImageNet's statistics, view 2 not), BatchNorm with batch
statistics in the online and target networks and moving statistics (0 and 1) in the
teacher. Eq. 3 with unit weights: BYOL (each view's prediction against the other view's
target projection), R-DEM with the teacher's most dissimilar region within each view,
R-IEM with the teacher's most similar region of the other view. Then LARS (BYOL's: weight
decay and trust ratio except for 1-D parameters, momentum, learning rate) and the EMA
target = tau * target + (1 - tau) * online'.

Every input tensor is drawn from a counter-based integer hash that the test reproduces
exactly (no stored inputs): value i of tensor `key` is u = fmix32((i + 1) * 0x9E3779B1 ^
fnv1a(key)) >> 8, divided by 2^24, mapped to the tensor's range, in TensorFlow's layout.
"""
import json
import math
import sys

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)  # the reference in double precision

LR, TAU, MOMENTUM, WEIGHT_DECAY, ETA = 0.3, 0.9, 0.9, 0.01, 0.5
BATCH, SIZE, BASE, HIDDEN, OUT, EPS = 4, 16, 1, 8, 4, 1e-5
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def fmix32(h):
    h &= 0xFFFFFFFF
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & 0xFFFFFFFF
    h ^= h >> 16
    return h


def fnv1a(text):
    h = 0x811C9DC5
    for b in text.encode("utf-8"):
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def uniform(key, shape):
    """Values in [0, 1) of tensor `key`, row-major in `shape` (TensorFlow's layout)."""
    seed = fnv1a(key)
    n = math.prod(shape)
    u = [(fmix32((((i + 1) * 0x9E3779B1) & 0xFFFFFFFF) ^ seed) >> 8) / 16777216 for i in range(n)]
    return torch.tensor(u).reshape(shape)


def value(key, name, shape):
    """A weight as the test draws it, in TensorFlow's layout, rounded to float32."""
    u = uniform(key, shape)
    if name.endswith("/gamma"):
        v = 1 + 0.2 * (2 * u - 1)
    elif name.endswith("/beta") or name.endswith("/bias"):
        v = 0.1 * (2 * u - 1)
    else:  # kernels: He-uniform over the fan-in (every axis but the last)
        v = (2 * u - 1) * math.sqrt(6 / math.prod(shape[:-1]))
    return v.float().double()


def resnet_specs():
    """(name, TF shape) of the ResNet-18 small-stem weights, and its blocks."""
    specs = [("conv1/kernel", [3, 3, 3, BASE])] + bn_specs("bn1", BASE)
    blocks = []
    cin = BASE
    for stage in range(4):
        width = BASE * 2**stage
        for i in range(2):
            stride = 2 if stage > 0 and i == 0 else 1
            p = f"layer{stage + 1}.{i}"
            specs += [(f"{p}.conv1/kernel", [3, 3, cin, width])] + bn_specs(f"{p}.bn1", width)
            specs += [(f"{p}.conv2/kernel", [3, 3, width, width])] + bn_specs(f"{p}.bn2", width)
            down = stride != 1 or cin != width
            if down:
                specs += [(f"{p}.downsample.0/kernel", [1, 1, cin, width])]
                specs += bn_specs(f"{p}.downsample.1", width)
            blocks.append((p, stride, down))
            cin = width
    return specs, blocks, cin


def bn_specs(name, c):
    return [(f"{name}/gamma", [c]), (f"{name}/beta", [c])]


def head_specs(cin, kind):
    """BYOL's head at HIDDEN/OUT: Linear(bias)-BN-ReLU-Linear(no bias); kind 'dense' or 'conv'."""
    k = (lambda i, o: [i, o]) if kind == "dense" else (lambda i, o: [1, 1, i, o])
    return [
        (f"0_{kind}/kernel", k(cin, HIDDEN)),
        (f"0_{kind}/bias", [HIDDEN]),
        ("0_bn/gamma", [HIDDEN]),
        ("0_bn/beta", [HIDDEN]),
        (f"1_{kind}/kernel", k(HIDDEN, OUT)),
    ]


RESNET, BLOCKS, CHANNELS = resnet_specs()
MODELS = {
    "online.backbone": RESNET,
    "online.projector": head_specs(CHANNELS, "dense"),
    "online.predictor": head_specs(OUT, "dense"),
    "online.localProjector": head_specs(CHANNELS, "conv"),
    "online.localPredictor": head_specs(OUT, "conv"),
    "target.backbone": RESNET,
    "target.projector": head_specs(CHANNELS, "dense"),
    "target.localProjector": head_specs(CHANNELS, "conv"),
    "teacher": RESNET,
}


def to_torch(name, t):
    """TF layout -> PyTorch layout (conv HWIO -> OIHW, dense [in,out] -> [out,in])."""
    if t.dim() == 4:
        return t.permute(3, 2, 0, 1).contiguous()
    if t.dim() == 2:
        return t.t().contiguous()
    return t


def to_tf(t):
    if t.dim() == 4:
        return t.permute(2, 3, 1, 0).contiguous()
    if t.dim() == 2:
        return t.t().contiguous()
    return t


def batch_norm(x, w, name, training):
    c = w[f"{name}/gamma"].shape[0]
    if training:
        return F.batch_norm(x, None, None, w[f"{name}/gamma"], w[f"{name}/beta"], True, 0.0, EPS)
    return F.batch_norm(x, torch.zeros(c), torch.ones(c), w[f"{name}/gamma"], w[f"{name}/beta"], False, 0.0, EPS)


def backbone(x, w, training):
    """x NCHW -> (layer4 map NCHW, pooled [B,C])."""
    y = F.relu(batch_norm(F.conv2d(x, w["conv1/kernel"], padding=1), w, "bn1", training))
    for p, stride, down in BLOCKS:
        z = F.conv2d(y, w[f"{p}.conv1/kernel"], stride=stride, padding=1)
        z = F.relu(batch_norm(z, w, f"{p}.bn1", training))
        z = batch_norm(F.conv2d(z, w[f"{p}.conv2/kernel"], padding=1), w, f"{p}.bn2", training)
        s = y
        if down:
            s = batch_norm(F.conv2d(y, w[f"{p}.downsample.0/kernel"], stride=stride), w, f"{p}.downsample.1", training)
        y = F.relu(z + s)
    return y, y.mean(dim=(2, 3))


def head(x, w, kind):
    """Training-mode head on [B,D] (dense) or NCHW (conv)."""
    if kind == "dense":
        h = F.linear(x, w["0_dense/kernel"], w["0_dense/bias"])
        h = F.relu(batch_norm(h, w, "0_bn", True))
        return F.linear(h, w["1_dense/kernel"])
    h = F.conv2d(x, w["0_conv/kernel"], w["0_conv/bias"])
    h = F.relu(batch_norm(h, w, "0_bn", True))
    return F.conv2d(h, w["1_conv/kernel"])


def regions(m):
    """NCHW -> [B, H*W, C], regions in row-major (h, w) order."""
    b, c, h, w = m.shape
    return m.permute(0, 2, 3, 1).reshape(b, h * w, c)


def unit(x):
    return x / torch.clamp(x.square().sum(-1, keepdim=True).sqrt(), min=1e-12)


def cos(a, b):
    return (unit(a) * unit(b)).sum(-1)


def pairwise(a, b):
    return unit(a) @ unit(b).transpose(1, 2)


def gather(f, idx):
    return torch.stack([f[i, idx[i]] for i in range(f.shape[0])])


def checked(scores, pick):
    """argmin/argmax along the last axis, refusing near-ties (the two sides might break them apart)."""
    s = scores if pick == "max" else -scores
    top = torch.topk(s, 2, dim=-1).values
    gap = (top[..., 0] - top[..., 1]).min().item()
    if gap < 1e-4:
        sys.exit(f"a near-tie ({gap}) in the teacher's pairs: choose other inputs")
    return s.argmax(-1)


def main():
    w = {}
    for key, specs in MODELS.items():
        w[key] = {n: to_torch(n, value(f"{key} {n}", n, s)) for n, s in specs}
    x = uniform("images", [BATCH, SIZE, SIZE, 3]).float().double().permute(0, 3, 1, 2)
    views = [(x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1), x]

    online = {k: {n: t.clone().requires_grad_(True) for n, t in v.items()} for k, v in w.items() if k.startswith("online.")}
    with torch.no_grad():
        teacher = [regions(backbone(v, w["teacher"], False)[0]) for v in views]
        tgt = []
        for v in views:
            m, g = backbone(v, w["target.backbone"], True)
            tgt.append((head(g, w["target.projector"], "dense"), regions(head(m, w["target.localProjector"], "conv"))))
        n = teacher[0].shape[1]
        within = [checked(pairwise(t, t) + 3 * torch.eye(n), "min") for t in teacher]
        across = [checked(pairwise(teacher[0], teacher[1]), "max"), checked(pairwise(teacher[1], teacher[0]), "max")]
    side = []
    for v in views:
        m, g = backbone(v, online["online.backbone"], True)
        z = head(g, online["online.projector"], "dense")
        l = head(m, online["online.localProjector"], "conv")
        side.append(
            {
                "p": head(z, online["online.predictor"], "dense"),
                "l": regions(l),
                "q": regions(head(l, online["online.localPredictor"], "conv")),
            }
        )
    byol = (2 - 2 * cos(side[0]["p"], tgt[1][0]).mean()) + (2 - 2 * cos(side[1]["p"], tgt[0][0]).mean())
    r_dem = sum(cos(side[v]["l"], gather(side[v]["l"], within[v])).mean() for v in range(2))
    r_iem = 2 - cos(side[0]["q"], gather(tgt[1][1], across[0])).mean() - cos(side[1]["q"], gather(tgt[0][1], across[1])).mean()
    (byol + r_dem + r_iem).backward()

    updated = {}
    with torch.no_grad():
        for key, params in online.items():
            updated[key] = {}
            for name, p in params.items():
                u = p.grad
                if p.dim() > 1:
                    u = u + WEIGHT_DECAY * p
                    wn, un = p.norm(), u.norm()
                    u = (ETA * wn / un if wn > 0 and un > 0 else 1.0) * u
                velocity = u  # m * 0 + u at the first step
                updated[key][name] = p - LR * velocity
        for key in ["backbone", "projector", "localProjector"]:
            updated[f"target.{key}"] = {
                name: TAU * t + (1 - TAU) * updated[f"online.{key}"][name] for name, t in w[f"target.{key}"].items()
            }
    out = {
        "about": "tools/reference/trainer_step.py: one E-DIY step in PyTorch (float64); inputs drawn by the hash the test reproduces",
        "settings": {"lr": LR, "tau": TAU, "momentum": MOMENTUM, "weightDecay": WEIGHT_DECAY, "eta": ETA, "batch": BATCH, "size": SIZE, "widthMultiplier": BASE / 64, "hidden": HIDDEN, "out": OUT},
        "terms": {"byol": byol.item(), "r-dem": r_dem.item(), "r-iem": r_iem.item()},
        "weights": {
            key: {name: [float(f"{v:.7g}") for v in to_tf(t).flatten().tolist()] for name, t in params.items()}
            for key, params in updated.items()
        },
    }
    json.dump(out, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
