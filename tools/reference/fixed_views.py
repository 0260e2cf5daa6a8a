#!/usr/bin/env python3
"""k optimiser steps of PyTorch's BYOL step (tools/torch/ediy_train.py's networks and EMA,
tools/reference/recipe.py's LARS with solo-learn's clipping when the config's optim.larsClip)
on the fixed pair of views and from the weights that tools/torch/ts-step.mjs wrote: the
counterpart of tools/reference/fixed-views.mjs, which runs ediy's trainer on the same.

    /usr/bin/python3 tools/reference/fixed_views.py config.json ts-step.safetensors --steps 20

Prints {"losses": [...]} (the loss before each update). The learning rate and tau of step k
are the run's (warm-up share optim.warmupFraction of scale.maxSteps, cosine; BYOL's tau).
"""
import argparse
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


et = _load('ediy_train', HERE.parent / 'torch' / 'ediy_train.py')
recipe = _load('recipe', HERE / 'recipe.py')


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('config')
    ap.add_argument('step_file')
    ap.add_argument('--steps', type=int, default=20)
    ap.add_argument('--zero-lr', choices=['trust', 'one'], default='trust', help="clip's factor at lr = 0: the trust ratio r, or 1 (the limit of min(r / lr, 1), solo-learn's)")
    ap.add_argument('--print-updates', action='store_true', help="||w' - w|| / ||w|| of every online parameter at every step (stderr)")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    with open(a.config) as f:
        config = json.load(f)
    config = config.get('config', config)
    optim, scale = config['optim'], config['scale']
    state = et.read_safetensors(a.step_file)
    online = et.Online(config)
    target = et.Target(online)
    et._load_prefixed(online, state, 'online.', a.step_file)
    et._load_prefixed(target, state, 'target.', a.step_file)
    x1, x2 = (torch.from_numpy(np.array(state[k])) for k in ('x1', 'x2'))
    params = [p for n, p in online.named_parameters() if config['method']['regionLosses'] or not n.startswith('local_')]
    total = scale['maxSteps']
    warmup = min(total - 1, round(optim.get('warmupFraction', 0) * total))
    slots, losses = {}, []
    for step in range(a.steps):
        lr = et.warmup_cosine_lr(optim['baseLr'], scale['batchSize'], warmup, total, step)
        tau = et.ema_tau(optim['tau0'], total, step)
        online.train()
        target.train()
        for p in params:
            p.grad = None
        loss, _ = et.step_loss(config, online, target, None, x1, x2)
        loss.backward()
        before = [p.detach().clone() for p in params] if a.print_updates else []
        recipe.lars_step(params, slots, lr, optim['momentum'], optim['weightDecay'], optim['eta'], bool(optim.get('larsClip')), a.zero_lr)
        et.ema_update(online, target, tau)
        losses.append(float(loss))
        if a.print_updates:
            names = [n for n, p in online.named_parameters() if config['method']['regionLosses'] or not n.startswith('local_')]
            for n, p, b in zip(names, params, before):
                print(f'step {step} {n} {list(p.shape)} {float((p - b).norm() / b.norm().clamp_min(1e-30)):.3e}', file=sys.stderr)
    print(json.dumps({'losses': losses}))
    return 0


if __name__ == '__main__':
    sys.exit(main())
