#!/usr/bin/env python3
"""The learning curve of docs/results/curve.md: kNN and linear top-1 against the step of one
schedule, for runs whose `curve.jsonl` recipe-ediy.mjs / recipe.py `--eval-at` wrote, with the
untrained floor (the first run's step 0) as a dashed line and its interval as a band. Writes
the plot and prints the table of points in Markdown (Debian's python3-matplotlib):

    /usr/bin/python3 tools/reference/curve_plot.py --out docs/img/curve-byol-mini.png \\
        ediy=runs/curve/ediy-byol/curve.jsonl PyTorch=runs/curve/torch-byol/curve.jsonl

Each run is LABEL=PATH. `--bn` picks the BatchNorm convention of the points (default running).
"""
import argparse
import json
import sys

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402


def read_curve(path, bn):
    rows = []
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            ev = [e for e in r['evals'] if e['bn'] == bn]
            if not ev:
                raise SystemExit(f'curve_plot: {path} step {r["step"]} has no {bn!r} evaluation')
            rows.append({**r, 'eval': ev[0]})
    if not rows:
        raise SystemExit(f'curve_plot: {path} has no points')
    return rows


def pct(m):
    return 100 * m['top1'], 100 * m['ci95'][0], 100 * m['ci95'][1]


def cell(m):
    v, lo, hi = pct(m)
    return f'{v:.1f} [{lo:.1f}, {hi:.1f}]'


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('runs', nargs='+', help='LABEL=path/to/curve.jsonl')
    ap.add_argument('--out', required=True, help='the plot (PNG)')
    ap.add_argument('--bn', default='running')
    ap.add_argument('--title', default='BYOL, solo recipe, mini architecture, Fashion-MNIST, seed 0 (one run each)')
    a = ap.parse_args(argv)
    runs = []
    for spec in a.runs:
        if '=' not in spec:
            raise SystemExit(f'curve_plot: a run is LABEL=PATH, got {spec!r}')
        label, path = spec.split('=', 1)
        runs.append((label, read_curve(path, a.bn)))
    floor_row = next((r for r in runs[0][1] if r['step'] == 0), None)
    if floor_row is None:
        raise SystemExit(f'curve_plot: the first run ({runs[0][0]}) has no step 0 (the floor)')

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), dpi=120)
    styles = ['o-', 's--', '^-.', 'd:']
    for ax, probe, name in zip(axes, ('knn', 'linear'), ('kNN top-1 % (k = 20)', 'linear probe top-1 %')):
        fv, flo, fhi = pct(floor_row['eval'][probe])
        ax.axhspan(flo, fhi, color='0.85', zorder=0)
        ax.axhline(fv, color='0.3', linestyle='--', linewidth=1, label='untrained floor (95% CI band)')
        for k, (label, rows) in enumerate(runs):
            steps = [r['step'] for r in rows]
            vals = [pct(r['eval'][probe]) for r in rows]
            y = [v[0] for v in vals]
            err = [[v[0] - v[1] for v in vals], [v[2] - v[0] for v in vals]]
            shift = (k - (len(runs) - 1) / 2) * 12  # keep the error bars apart
            ax.errorbar([s + shift for s in steps], y, yerr=err, fmt=styles[k % len(styles)], capsize=3,
                        markersize=4, linewidth=1.2, label=label)
        ax.set_xlabel('optimiser step (batch 64, cosine schedule over the run)')
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, loc='lower right')
    fig.suptitle(a.title, fontsize=10)
    fig.tight_layout()
    fig.savefig(a.out)

    # the table, one row per step, every run's cells side by side
    steps = sorted({r['step'] for _, rows in runs for r in rows})
    head = ['step']
    for probe in ('kNN', 'linear'):
        head += [f'{label} {probe} % [95% CI]' for label, _ in runs]
    head += [f'{label} train CPU-s (a step)' for label, _ in runs]
    head += [f'{label} loss (25-step mean)' for label, _ in runs]
    head += ['load average (1 min)']
    print('| ' + ' | '.join(head) + ' |')
    print('|' + '|'.join(['---:'] + ['---'] * (len(head) - 1)) + '|')
    for s in steps:
        at = [next((r for r in rows if r['step'] == s), None) for _, rows in runs]
        cells = [str(s)]
        for probe in ('knn', 'linear'):
            cells += [cell(r['eval'][probe]) if r else '' for r in at]
        cells += [(f'{r["trainCpuSec"]:.0f} ({r["trainCpuSec"] / s:.2f})' if s else f'{r["trainCpuSec"]:.0f}') if r else '' for r in at]
        cells += [f'{r["loss25"]:.3f}' if r and r.get('loss25') is not None else '' for r in at]
        cells += [' / '.join(f'{r["loadavg"][0]:.1f}' for r in at if r)]
        print('| ' + ' | '.join(cells) + ' |')

    # what the points say against the floor and each other (intervals: bootstrap over test images)
    print()
    for probe in ('knn', 'linear'):
        fv, flo, fhi = pct(floor_row['eval'][probe])
        for label, rows in runs:
            above = [r['step'] for r in rows if r['step'] and pct(r['eval'][probe])[1] > fhi]
            below = [r['step'] for r in rows if r['step'] and pct(r['eval'][probe])[2] < flo]
            print(f'{probe} {label}: above the floor beyond the intervals at {above or "none"}; '
                  f'below it at {below or "none"}; gains '
                  + ', '.join(f'{r["step"]}: {pct(r["eval"][probe])[0] - fv:+.1f}' for r in rows if r['step']))
        if len(runs) >= 2:
            (la, ra), (lb, rb) = runs[0], runs[1]
            for s in steps:
                x = next((r for r in ra if r['step'] == s), None)
                y = next((r for r in rb if r['step'] == s), None)
                if x and y:
                    _, xlo, xhi = pct(x['eval'][probe])
                    _, ylo, yhi = pct(y['eval'][probe])
                    d = pct(x['eval'][probe])[0] - pct(y['eval'][probe])[0]
                    print(f'  {probe} step {s}: {la} - {lb} = {d:+.1f}, intervals '
                          + ('overlap' if xlo <= yhi and ylo <= xhi else 'DISJOINT'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
