#!/usr/bin/env python3
"""Golden values of LARS with solo-learn's learning-rate clipping, computed with PyTorch
independently of the TypeScript code: packages/optim/test/fixtures/lars-clip-golden.json.

    /usr/bin/python3 tools/reference/lars_clip.py > packages/optim/test/fixtures/lars-clip-golden.json

The optimiser is written here as solo-learn's `solo/utils/lars.py` (from PyTorch Lightning
Bolts) writes its step, in double precision, with the three differences @ediy/optim documents:
the trust ratio's denominator is BYOL's ||g + wd * w|| (solo-learn: ||g|| + wd * ||w|| + eps),
and parameters of rank 1 are excluded from weight decay and adaptation (solo-learn's
`exclude_bias_n_norm_lars`, whose excluded parameters also get no weight decay there), and at
lr = 0 the factor is the unclipped r (solo-learn divides by the zero learning rate: 1).
For a parameter p with gradient g at learning rate lr:

    if p.ndim > 1:
        if ||p|| != 0 and ||g + wd p|| != 0:
            lars_lr = eta * ||p|| / ||g + wd p||
            if clip and lr > 0: lars_lr = min(lars_lr / lr, 1)   # lr = 0: r, unclipped
        else: lars_lr = 1                                         # solo-learn: d_p = g
        d_p = (g + wd p) * lars_lr
    else: d_p = g
    buf = d_p (first step) or momentum * buf + d_p
    p  -= lr * buf

Four steps on a [3,4] kernel, a [2,2,3,2] conv kernel (TF layout) and a [4] bias, with
learning rates chosen so that the clipping binds on some steps (r > lr: the step is lr * d_p)
and not on others (r < lr: the step is r * d_p), plus a step at lr = 0. Inputs are drawn from
a seeded generator and written into the fixture with the expected weights after each step.
"""
import json
import sys

import torch

torch.set_default_dtype(torch.float64)

MOMENTUM, WEIGHT_DECAY, ETA = 0.9, 0.05, 0.02
LRS = [0.0, 0.004, 0.5, 0.0008]


def lars_step(params, grads, bufs, lr, clip, ratios):
    for name, p in params.items():
        g = grads[name]
        d_p = g
        if p.ndim > 1:
            u = g + WEIGHT_DECAY * p
            p_norm, u_norm = p.norm(), u.norm()
            if p_norm != 0 and u_norm != 0:
                lars_lr = float(ETA * p_norm / u_norm)
                raw = lars_lr
                if clip:
                    # at lr = 0 nothing to clip to: BYOL's r (solo-learn's inf -> 1 would
                    # leave the raw gradient in the buffer for the next step)
                    lars_lr = min(lars_lr / lr, 1.0) if lr > 0 else lars_lr
                ratios.append({'param': name, 'lr': lr, 'trust': raw, 'factor': lars_lr, 'binds': bool(clip and raw >= lr)})
                d_p = u * lars_lr
            else:
                d_p = u  # solo-learn: the gradient as it is (a zero norm)
        if name not in bufs:
            bufs[name] = d_p.clone()
        else:
            bufs[name] = MOMENTUM * bufs[name] + d_p
        p -= lr * bufs[name]


def main():
    gen = torch.Generator().manual_seed(17)
    shapes = {'clip/dense/kernel': [3, 4], 'clip/conv/kernel': [2, 2, 3, 2], 'clip/dense/bias': [4]}
    init = {k: torch.randn(s, generator=gen) for k, s in shapes.items()}
    grads = [{k: 0.5 * torch.randn(s, generator=gen) for k, s in shapes.items()} for _ in LRS]
    out = {
        'source': 'tools/reference/lars_clip.py',
        'hyper': {'momentum': MOMENTUM, 'weightDecay': WEIGHT_DECAY, 'eta': ETA},
        'learningRates': LRS,
        'shapes': shapes,
        'initial': {k: v.flatten().tolist() for k, v in init.items()},
        'grads': [{k: v.flatten().tolist() for k, v in g.items()} for g in grads],
    }
    for clip in (True, False):
        params = {k: v.clone() for k, v in init.items()}
        bufs, steps, ratios = {}, [], []
        for lr, g in zip(LRS, grads):
            lars_step(params, g, bufs, lr, clip, ratios)
            steps.append({k: v.flatten().tolist() for k, v in params.items()})
        out['clip' if clip else 'noclip'] = {'weights': steps, 'ratios': ratios}
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write('\n')


if __name__ == '__main__':
    main()
