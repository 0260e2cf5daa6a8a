#!/usr/bin/env python3
"""The tables of a results page (docs/results/table1-mini.md) from a reproduction's results.json.

    python3 tools/reference/table_report.py <results.json> [--torch <summary.json>] \
        [--pairs ediy:byol,byol-tg-rdem:byol] [--seeds 0,1,2]

Prints two Markdown tables: every row's metrics (kNN, linear, dense mIoU where every run has
it, region cosine, effective rank; the untrained row included, and the PyTorch reference rows
of tools/reference/table-torch.sh's summary.json when given) as the mean over
seeds, Student's t 95% interval over the seeds and each seed's value; then the paired
differences, seed by seed, of every trained row against the untrained row of the same seed and
of each `--pairs` a:b (a minus b), with the same interval. Accuracies are in percent (points),
the region cosine and the effective rank as measured. `--seeds` keeps only those seeds.

Written by hand (a page's formatting, some twenty lines of statistics): the interval is
scipy's Student's t quantile, the same as @ediy/eval's tInterval.
"""
import argparse
import json
import math

from scipy import stats

ALL_METRICS = [
    ('knnTop1', 'kNN top-1 %', 100.0, 1),
    ('linearTop1', 'linear top-1 %', 100.0, 1),
    ('denseMIoU', 'dense mIoU %', 100.0, 1),
    ('meanRegionCosine', 'region cosine ↓', 1.0, 3),
    ('effectiveRank', 'effective rank ↑', 1.0, 1),
]


def t_interval(values):
    """Mean and Student's t 95% interval (None for fewer than two values)."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, None
    s = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = stats.t.ppf(0.975, n - 1) * s / math.sqrt(n)
    return mean, (mean - half, mean + half)


def cell(values, digits, signed=False):
    """`mean [low, high] <br> (v0, v1, ...)`."""
    f = (lambda x: f'{x:+.{digits}f}') if signed else (lambda x: f'{x:.{digits}f}')
    mean, ci = t_interval(values)
    head = f(mean) + (f' [{f(ci[0])}, {f(ci[1])}]' if ci else '')
    return f'{head} <br> ({", ".join(f(v) for v in values)})'


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('results')
    ap.add_argument('--torch', help="tools/reference/table-torch.sh's summary.json")
    ap.add_argument('--pairs', default='', help='a:b row pairs, comma-separated (a minus b)')
    ap.add_argument('--seeds', default='', help='only these seeds, comma-separated')
    args = ap.parse_args()
    results = json.load(open(args.results))
    keep = {int(s) for s in args.seeds.split(',')} if args.seeds else None
    rows = {}  # id -> (label, {seed: metrics})
    for row in results['rows']:
        label = row['label']
        if row['id'] == 'untrained':
            label = '_untrained (the floor)_'
        rows[row['id']] = (label, {r['seed']: r['metrics'] for r in row['runs']})
    if args.torch:
        for run in json.load(open(args.torch))['runs']:
            rid = f"torch-{run['row']}"
            name = {'byol': 'BYOL', 'ediy': 'E-DIY'}.get(run['row'], run['row'])
            rows.setdefault(rid, (f'PyTorch reference: {name}', {}))[1][run['seed']] = run['metrics']
    for rid, (_, by_seed) in rows.items():
        for s in list(by_seed):
            if keep is not None and s not in keep:
                del by_seed[s]
    # The dense probe only where every run has it (data with masks: the pasted scenes).
    METRICS = [m for m in ALL_METRICS
               if all(r.get(m[0]) is not None for _, by_seed in rows.values() for r in by_seed.values())]

    def values(rid, key, scale, seeds=None):
        by_seed = rows[rid][1]
        return [by_seed[s][key] * scale for s in sorted(by_seed) if seeds is None or s in seeds]

    head = ['row', 'seeds'] + [m[1] for m in METRICS]
    print('| ' + ' | '.join(head) + ' |')
    print('| --- | ---: |' + ' ---: |' * len(METRICS))
    for rid, (label, by_seed) in rows.items():
        cells = [cell(values(rid, k, sc), d) for k, _, sc, d in METRICS]
        print(f'| {label} | {", ".join(map(str, sorted(by_seed)))} | ' + ' | '.join(cells) + ' |')
    print()

    def paired(a, b, key, scale):
        sa, sb = rows[a][1], rows[b][1]
        seeds = sorted(set(sa) & set(sb))
        return seeds, [(sa[s][key] - sb[s][key]) * scale for s in seeds]

    pairs = []
    for rid in rows:
        if rid != 'untrained' and not rid.startswith('torch-') and 'untrained' in rows:
            pairs.append((rid, 'untrained'))
    for rid in rows:
        if rid.startswith('torch-') and 'untrained' in rows:
            pairs.append((rid, 'untrained'))
    for p in filter(None, args.pairs.split(',')):
        a, b = p.split(':')
        pairs.append((a, b))
    head = ['difference, paired by seed', 'seeds'] + [m[1].replace(' %', ' (points)') for m in METRICS]
    print('| ' + ' | '.join(head) + ' |')
    print('| --- | ---: |' + ' ---: |' * len(METRICS))
    for a, b in pairs:
        la = rows[a][0]
        lb = "its seed's floor" if b == 'untrained' else rows[b][0]
        cells = []
        seeds = []
        for k, _, sc, d in METRICS:
            seeds, diffs = paired(a, b, k, sc)
            cells.append(cell(diffs, d, signed=True))
        print(f'| {la} − {lb} | {", ".join(map(str, seeds))} | ' + ' | '.join(cells) + ' |')


if __name__ == '__main__':
    main()
