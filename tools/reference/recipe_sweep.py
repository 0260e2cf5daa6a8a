#!/usr/bin/env python3
"""The recipe sweep of docs/results/recipe.md: runs tools/reference/recipe.py over a list of
named configurations (one thread each, under `nice -n 10`, `--jobs` at a time), skipping
those whose result.json exists, then prints the table.

    /usr/bin/python3 tools/reference/recipe_sweep.py --out runs/recipe --jobs 2 [NAME ...]
    /usr/bin/python3 tools/reference/recipe_sweep.py --out runs/recipe --table

A configuration is a name and recipe.py's flags; NAME@sK runs it with seed K (default 0).
"""
import argparse
import json
import math
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RECIPE = HERE / 'recipe.py'

# solo-learn's CIFAR BYOL recipe at batch 64: LARS eta 0.02 with LR clipping, LR 1.0 at
# batch 256 (0.25 here), weight decay 1e-5, tau0 0.99, warm-up 1% of the steps.
SOLO = ['--base-lr', '1.0', '--eta', '0.02', '--clip', '--weight-decay', '1e-5', '--tau0', '0.99', '--warmup-frac', '0.01']


def solo(**change):
    """SOLO with some flags replaced (`clip=False` drops --clip)."""
    flags, out, i = dict(), [], 0
    while i < len(SOLO):
        if SOLO[i] == '--clip':
            flags['clip'] = True
            i += 1
        else:
            flags[SOLO[i][2:].replace('-', '_')] = SOLO[i + 1]
            i += 2
    flags.update({k: v for k, v in change.items()})
    for k, v in flags.items():
        if k == 'clip':
            if v:
                out.append('--clip')
        else:
            out += [f"--{k.replace('_', '-')}", str(v)]
    return out


CONFIGS = {
    # today's mini recipe (BYOL's 1000-epoch settings), warm-up at the paper's share 10/300
    'mini': ['--base-lr', '0.2', '--eta', '1e-3', '--weight-decay', '1.5e-6', '--tau0', '0.996', '--warmup-frac', '0.0333'],
    'solo': SOLO,
    'solo-noclip': solo(clip=False),
    'solo-tau996': solo(tau0=0.996),
    'solo-tau97': solo(tau0=0.97),
    'solo-lr0.5': solo(base_lr=0.5),
    'solo-lr2': solo(base_lr=2.0),
    'solo-wd1e-6': solo(weight_decay=1e-6),
    'solo-wd1e-4': solo(weight_decay=1e-4),
    'solo-warm10': solo(warmup_frac=0.1),
    'solo-eta0.005': solo(eta=0.005),
    'solo-eta0.05': solo(eta=0.05),
    'solo-crop0.2': solo(crop_min=0.2),
    'solo-crop0.25': solo(crop_min=0.25),
    'solo-crop0.35': solo(crop_min=0.35),
    'solo-tau98': solo(tau0=0.98),
    'solo-width0.5': solo(width=0.5),
    'noclip-lr4': solo(clip=False, base_lr=4.0),
    'noclip-eta0.1': solo(clip=False, eta=0.1),
}


def parse(name):
    base, _, seed = name.partition('@s')
    if base not in CONFIGS:
        raise SystemExit(f'recipe_sweep: unknown configuration {base!r}; known: {", ".join(CONFIGS)}')
    return base, int(seed or 0)


def command(name, out, steps, memory, extra, nice=10):
    base, seed = parse(name)
    return ['nice', '-n', str(nice), '/usr/bin/python3', str(RECIPE), 'train', '--steps', str(steps), '--memory', str(memory),
            '--seed', str(seed), '--out', str(out / name), *CONFIGS[base], *extra]


def run(names, out, jobs, steps, memory, extra, nice=10):
    todo = [n for n in names if not (out / n / 'result.json').exists()]
    running = []
    while todo or running:
        while todo and len(running) < jobs:
            name = todo.pop(0)
            (out / name).mkdir(parents=True, exist_ok=True)
            log = open(out / name / 'train.log', 'w')
            running.append((name, subprocess.Popen(command(name, out, steps, memory, extra, nice), stdout=log, stderr=log)))
            print(f'recipe_sweep: started {name}', flush=True)
        name, proc = running[0]
        for n, p in running:
            if p.poll() is not None:
                name, proc = n, p
                break
        proc.wait()
        running.remove((name, proc))
        print(f'recipe_sweep: {name} exited {proc.returncode}', flush=True)


def ci95(values):
    """Mean and the half-width of Student's 95% interval (None for one value)."""
    m = statistics.fmean(values)
    if len(values) < 2:
        return m, None
    t = {2: 12.706, 3: 4.303, 4: 3.182, 5: 2.776}.get(len(values), 1.96)
    return m, t * statistics.stdev(values) / math.sqrt(len(values))


def table(out):
    rows = {}
    for f in sorted(out.glob('*/result.json')):
        r = json.loads(f.read_text())
        base = f.parent.name.partition('@s')[0]
        rows.setdefault(base, []).append(r)
    print('| configuration | seeds | bn | kNN top-1 | linear top-1 | train CPU-s |')
    print('| --- | --- | --- | --- | --- | --- |')
    for base, rs in rows.items():
        for bn in ('running', 'estimated'):
            ev = [e for r in rs for e in r['evals'] if e['bn'] == bn]
            if not ev:
                continue
            cells = []
            for key in ('knn', 'linear'):
                vals = [e[key]['top1'] * 100 for e in ev]
                m, h = ci95(vals)
                if h is None:
                    lo, hi = ev[0][key]['ci95']
                    cells.append(f'{m:.1f} [{lo * 100:.1f}, {hi * 100:.1f}]')
                else:
                    cells.append(f'{m:.1f} ± {h:.1f} ({", ".join(f"{v:.1f}" for v in vals)})')
            cpu = statistics.fmean(r.get('trainCpuSec', 0) for r in rs)
            seeds = ','.join(str(r['args']['seed']) for r in rs)
            print(f'| {base} | {seeds} | {bn} | {cells[0]} | {cells[1]} | {cpu:.0f} |')


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('names', nargs='*')
    ap.add_argument('--out', default='runs/recipe')
    ap.add_argument('--jobs', type=int, default=2)
    ap.add_argument('--steps', type=int, default=300)
    ap.add_argument('--memory', type=int, default=10000)
    ap.add_argument('--table', action='store_true')
    ap.add_argument('--nice', type=int, default=10, help='niceness of the runs (0: normal priority)')
    ap.add_argument('--extra', default='', help='further recipe.py flags, e.g. "--bn running"')
    a = ap.parse_args(argv)
    out = Path(a.out)
    if a.names:
        for n in a.names:
            parse(n)
        run(a.names, out, a.jobs, a.steps, a.memory, a.extra.split(), a.nice)
    if a.table or not a.names:
        table(out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
