#!/usr/bin/env python3
"""The random parameters of recipe.py's two BYOL views, drawn by recipe.py's own `views` (no
training): per image the crop box (from the affine grid `views` builds), the flip, whether the
crop fell back to the whole image, colour jitter applied, blur applied and its sigma, solarize applied. Prints one JSON
object {"view1": [...], "view2": [...]} of per-image records (box w, h, left, top in source
pixels); tools/reference/view-params.mjs runs it and compares it with ediy's draws, and
tools/reference/view-joint.mjs pairs view1[i] with view2[i] (independent draws, as in `train`) (docs/results/curve.md, "Views: ediy's against
PyTorch's").

    /usr/bin/python3 tools/reference/view_params.py --n 20000 --seed 0 > torch-views.json

The source image is Fashion-MNIST's 28 x 28, the view 32 px, the crop scale [--crop-min, 1]
(0.08 by default) as recipe.py's `train`. `views` is called unchanged; its uniform draws are
recorded by wrapping `torch.rand` in recipe.py's namespace, in the order `views` makes them:
crop scale [B,10], crop log-ratio [B,10], top, left, flip, jitter applied, brightness,
contrast, jitter order, blur sigma, blur applied, solarize.
"""

import argparse
import importlib.util
import json
import math
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location('recipe', HERE / 'recipe.py')
recipe = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(recipe)


class _Recorder:
    """recipe.py's `torch`, with `rand` recording what it returns."""

    def __init__(self):
        self.draws = []

    def __getattr__(self, name):
        return getattr(torch, name)

    def rand(self, *args, **kwargs):
        out = torch.rand(*args, **kwargs)
        self.draws.append(out.clone())
        return out


def draw(n, size, second, gen, crop_min, batch=1000):
    rec = _Recorder()
    thetas = []
    affine_grid = recipe.F.affine_grid

    def grid(theta, *args, **kwargs):
        thetas.append(theta.clone())
        return affine_grid(theta, *args, **kwargs)

    recipe.torch, recipe.F.affine_grid = rec, grid
    out = []
    try:
        h = w = 28
        for start in range(0, n, batch):
            b = min(batch, n - start)
            rec.draws.clear()
            thetas.clear()
            with torch.no_grad():
                recipe.views(torch.rand(b, 1, h, w, generator=gen), size, second, gen, crop_min)
            d = rec.draws
            if len(d) != 12 or len(thetas) != 1:
                sys.exit(f'views made {len(d)} uniform draws and {len(thetas)} grids, expected 12 and 1: recipe.py changed')
            scale, logr, theta = d[0], d[1], thetas[0]
            # the fallback: none of the 10 tries fits (recipe.py's own test)
            cw = torch.round(torch.sqrt(h * w * scale * torch.exp(logr)))
            ch = torch.round(torch.sqrt(h * w * scale / torch.exp(logr)))
            fits = ((cw > 0) & (cw <= w) & (ch > 0) & (ch <= h)).any(1)
            pblur, psol = (0.1, 0.2) if second else (1.0, 0.0)
            for i in range(b):
                bw = round(abs(theta[i, 0, 0].item()) * w)
                bh = round(theta[i, 1, 1].item() * h)
                out.append({
                    'w': bw,
                    'h': bh,
                    # the box's corner, from theta's translation (2 left + w) / W - 1
                    'left': round(((theta[i, 0, 2].item() + 1) * w - bw) / 2),
                    'top': round(((theta[i, 1, 2].item() + 1) * h - bh) / 2),
                    'flip': bool(theta[i, 0, 0].item() < 0),
                    'fallback': not bool(fits[i]),
                    'blur': (0.1 + 1.9 * d[9][i].item()) * size / 224 if d[10][i].item() < pblur else None,
                    'solarize': bool(d[11][i].item() < psol),
                    'jitter': bool(d[5][i].item() < 0.8),
                })
    finally:
        recipe.torch, recipe.F.affine_grid = torch, affine_grid
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--n', type=int, default=20000, help='images a view')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--size', type=int, default=32)
    p.add_argument('--crop-min', type=float, default=0.08)
    a = p.parse_args()
    gen = torch.Generator().manual_seed(a.seed)
    res = {f'view{k + 1}': draw(a.n, a.size, k == 1, gen, a.crop_min) for k in range(2)}
    json.dump(res, sys.stdout)


if __name__ == '__main__':
    main()
