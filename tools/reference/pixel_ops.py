#!/usr/bin/env python3
"""recipe.py's pixel ops fed ediy's drawn view parameters, compared with ediy's views stage by
stage (docs/results/curve.md, "Why ediy's kNN trails PyTorch's"). Reads what
tools/reference/pixel-ops.mjs wrote (the parameters, the source images as ediy's loader gave
them, ediy's views after each stage) and calls recipe.py's own `views` unchanged, its uniform
draws replaced by the ones that make exactly ediy's parameters: the crop's first try gives
ediy's box (area share and log aspect of its w x h, the offsets' uniforms at the box's corner),
flip, jitter applied, brightness, contrast, their order (brightness before contrast in ediy's
permutation), blur applied and sigma, solarize. `views` is called with second=True (blur p 0.1,
solarize p 0.2) so that every op can be turned on or off by its uniform, as each stage of
pixel-ops.mjs turns one more op on. Prints per view and stage the max and mean absolute
difference in [0, 1] pixel units (the normalised stage in normalised units) and the share of
pixels that differ by more than 1e-4.

    /usr/bin/python3 tools/reference/pixel_ops.py /tmp/pixel-ops
"""
import gzip
import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location('recipe', HERE / 'recipe.py')
recipe = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(recipe)


class _Feeder:
    """recipe.py's `torch`, with `rand` returning prepared uniforms in the order `views` draws."""

    def __init__(self, draws):
        self.draws = list(draws)

    def __getattr__(self, name):
        return getattr(torch, name)

    def rand(self, *shape, **kwargs):
        out = self.draws.pop(0)
        if len(shape) == 1 and isinstance(shape[0], (tuple, list, torch.Size)):
            shape = tuple(shape[0])
        if tuple(out.shape) != tuple(shape):
            sys.exit(f'pixel_ops: views drew {shape}, the prepared uniform is {tuple(out.shape)}: recipe.py changed')
        return out


def uniforms(draws, size=32, src=28):
    """The 12 uniform draws of recipe.views that give `draws` (ediy ImageDraws) with second=True."""
    b = len(draws)
    lo, hi = math.log(3 / 4), math.log(4 / 3)
    sc, lr, top, left, flip, jit, br, co, order, sig, blur, sol = ([] for _ in range(12))
    for d in draws:
        box = d['box']
        w, h = box['x1'] - box['x0'], box['y1'] - box['y0']
        sc.append([(w * h / (src * src) - 0.08) / 0.92] * 10)
        lr.append([(math.log(w / h) - lo) / (hi - lo)] * 10)
        top.append((box['y0'] + 0.5) / (src - h + 1))
        left.append((box['x0'] + 0.5) / (src - w + 1))
        flip.append(0.25 if d['flipped'] else 0.75)
        j = d['jitter']
        jit.append(0.4 if j['applied'] else 0.9)
        br.append((j['brightness'] - 0.6) / 0.8)
        co.append((j['contrast'] - 0.6) / 0.8)
        order.append(0.25 if j['order'].index('brightness') < j['order'].index('contrast') else 0.75)
        s = d['blurSigma']
        sig.append(0.5 if s is None else (s * 224 / size - 0.1) / 1.9)
        blur.append(0.95 if s is None else 0.05)
        sol.append(0.1 if d['solarize'] else 0.9)
    t = lambda v: torch.tensor(v, dtype=torch.float32)  # noqa: E731
    return [t(sc), t(lr)] + [t(v) for v in (top, left, flip, jit, br, co, order, sig, blur, sol)]


STAGE_EDITS = {
    'crop': lambda d: {**d, 'jitter': {**d['jitter'], 'applied': False}, 'grayscale': False, 'blurSigma': None, 'solarize': False},
    'jitter': lambda d: {**d, 'grayscale': False, 'blurSigma': None, 'solarize': False},
    'grayscale': lambda d: {**d, 'blurSigma': None, 'solarize': False},
    'blur': lambda d: {**d, 'solarize': False},
    'solarize': lambda d: d,
    'normalize': lambda d: d,
}


def main():
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else '/tmp/pixel-ops')
    meta = json.loads((folder / 'meta.json').read_text())
    n = meta['n']
    src = np.fromfile(folder / 'images.f32', dtype=np.float32).reshape(n, 28, 28, 3)
    # the loader's pixels against the IDX bytes / 255 (recipe.py's load_fashion)
    with gzip.open('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz', 'rb') as f:
        raw = np.frombuffer(f.read(), dtype=np.uint8, offset=16).reshape(-1, 28, 28)
    ref = raw[np.array(meta['indices'])].astype(np.float32) / 255
    print(f'source: ediy loader vs IDX/255: max {np.abs(src - ref[..., None]).max():.3g}; '
          f'channels differ by at most {max(np.abs(src[..., 1] - src[..., 0]).max(), np.abs(src[..., 2] - src[..., 0]).max()):.3g}')
    x = torch.from_numpy(ref).unsqueeze(1)
    mean, std = recipe.MEAN, recipe.STD
    rows = []
    for v, view in enumerate(meta['views']):
        prev = None
        for stage in meta['stages']:
            name = stage['name']
            draws = [STAGE_EDITS[name](d) for d in view['draws']]
            recipe.torch = _Feeder(uniforms(draws))
            try:
                with torch.no_grad():
                    out = recipe.views(x, 32, True, None, 0.08)
            finally:
                recipe.torch = torch
            if not stage['normalized']:
                out = out * std + mean
            ours = torch.from_numpy(np.fromfile(folder / f'view{v + 1}-{name}.f32', dtype=np.float32).reshape(n, 32, 32, 3)).permute(0, 3, 1, 2)
            diff = (ours - out).abs()
            per_image = diff.flatten(1).max(1).values
            worst = int(per_image.argmax())
            # what this stage's op changed in ediy's views (the op was active), in [0, 1] units
            unit = ours * std + mean if stage['normalized'] else ours
            changed = 0.0 if prev is None else float((unit - prev).abs().max())
            changed_images = 0 if prev is None else int(((unit - prev).abs().flatten(1).max(1).values > 1e-4).sum())
            prev = unit
            ch = max(float((ours[:, 1] - ours[:, 0]).abs().max()), float((ours[:, 2] - ours[:, 0]).abs().max()))
            rows.append((v + 1, name, float(diff.max()), float(diff.mean()), float((diff > 1e-4).float().mean()),
                         int((per_image > 1e-4).sum()), worst, ch, changed, changed_images))
            if per_image[worst] > 1e-4:
                d = view['draws'][worst]
                print(f'view {v + 1} {name}: worst image {worst} (max {float(per_image[worst]):.4g}): '
                      f'box {d["box"]} flip {d["flipped"]} jitter {d["jitter"]} blur {d["blurSigma"]} solarize {d["solarize"]}')
    print('| view | stage | max abs diff | mean abs diff | pixels > 1e-4 | images > 1e-4 | the stage changed ediy\'s views by (max; images) | ediy channels differ by |')
    print('| ---: | ----- | -----------: | ------------: | ------------: | ------------: | ----------------------------------------------: | ----------------------: |')
    for v, name, mx, mn, frac, imgs, _, ch, changed, changed_images in rows:
        print(f'| {v} | {name} | {mx:.3g} | {mn:.3g} | {100 * frac:.3f}% | {imgs} / {n} | {changed:.3g}; {changed_images} | {ch:.3g} |')


if __name__ == '__main__':
    main()
