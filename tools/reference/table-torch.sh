#!/usr/bin/env bash
# The PyTorch reference of a reproduction's BYOL and E-DIY rows (docs/results/table1-mini.md):
# for every seed of an `ediy reproduce ... --plan` (or a finished reproduction's) plan.json,
# tools/reference/recipe.py trains the row with the plan's recipe (steps, base LR, weight
# decay, momentum, LARS eta and clipping, tau0, warm-up share, batch, architecture) from the
# ediy run's own initial weights (tools/torch/ts-step.mjs of the BYOL job of that seed, so its
# floor is the table's untrained row of that seed), on Fashion-MNIST's training split with
# PyTorch's views and random streams; E-DIY's teacher is the reference's own BYOL run of the
# first seed, as the table's is its BYOL row of the first seed. Every backbone is then scored
# by tools/reference/eval-torchvision.mjs: ediy's evaluation, same images, same probes.
#
#   tools/reference/table-torch.sh <plan.json> <out dir> [jobs (default 2)]
#
# Writes <out>/<row>/seed-<s>/{result.json,backbone.safetensors,eval.json} and
# <out>/summary.json (per run: the metrics, train CPU-s and wall s). One thread per run,
# `jobs` runs at a time. Needs the packages built (npm run build) and Debian's python3-torch.
set -euo pipefail
if [[ $# -lt 2 || $# -gt 3 ]]; then
  echo "usage: tools/reference/table-torch.sh <plan.json> <out dir> [jobs]" >&2
  exit 2
fi
PLAN=$1
OUT=$2
JOBS=${3:-2}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=${PYTHON:-/usr/bin/python3}
mkdir -p "$OUT/config"

# The BYOL and E-DIY job configs of every seed, and the recipe flags, from the plan.
"$PY" - "$PLAN" "$OUT" <<'EOF'
import json, sys
plan_path, out = sys.argv[1], sys.argv[2]
plan = json.load(open(plan_path))
jobs = {j['id']: j['config'] for j in plan['jobs']}
seeds = plan['seeds']
flags = None
for row in ('byol', 'ediy'):
    for s in seeds:
        config = jobs.get(f'{row}/seed-{s}')
        if config is None:
            sys.exit(f'{plan_path}: no job {row}/seed-{s}')
        json.dump(config, open(f'{out}/config/{row}-seed-{s}.json', 'w'), indent=1)
        data = config['scale']['data']
        if data.get('kind') != 'path':
            sys.exit(f'{plan_path}: {row}/seed-{s} trains on {data}; recipe.py reads Fashion-MNIST IDX files (--data <folder>)')
        o, sc = config['optim'], config['scale']
        if sc['accumulate'] != 1 or 'warmupEpochs' in o or config.get('augment'):
            sys.exit(f'{plan_path}: {row}/seed-{s}: accumulate, warmupEpochs and augment are not recipe.py flags')
        f = ['--data', data['path'], '--steps', str(sc['maxSteps']), '--batch', str(sc['batchSize']),
             '--width', str(sc['backbone']['widthMultiplier']), '--hidden', str(sc['projector']['hidden']),
             '--proj-out', str(sc['projector']['out']), '--base-lr', str(o['baseLr']),
             '--momentum', str(o['momentum']), '--weight-decay', str(o['weightDecay']), '--eta', str(o['eta']),
             '--tau0', str(o['tau0']), '--warmup-frac', str(o['warmupFraction'])] + (['--clip'] if o.get('larsClip') else [])
        if flags is not None and f != flags:
            sys.exit(f'{plan_path}: the rows of the plan differ in their recipe ({f} against {flags})')
        flags = f
open(f'{out}/config/recipe-flags', 'w').write(' '.join(flags) + '\n')
open(f'{out}/config/seeds', 'w').write(' '.join(map(str, seeds)) + '\n')
EOF
read -r -a RECIPE <"$OUT/config/recipe-flags"
read -r -a SEEDS <"$OUT/config/seeds"
echo "table-torch: seeds ${SEEDS[*]}; recipe ${RECIPE[*]}" >&2

run() { # row seed [extra recipe.py flags...]
  local row=$1 s=$2 dir="$OUT/$1/seed-$2"
  shift 2
  if [[ -f $dir/eval.json ]]; then
    echo "table-torch: $row seed $s done, skipping" >&2
    return
  fi
  mkdir -p "$dir"
  "$PY" "$HERE/recipe.py" train "${RECIPE[@]}" --seed "$s" --init "$OUT/init/seed-$s.safetensors" \
    --bn none --threads 1 --out "$dir" "$@" 2>"$dir/train.log"
  node "$HERE/eval-torchvision.mjs" "$OUT/config/$row-seed-$s.json" "$dir/backbone.safetensors" \
    "$dir/eval.json" 2>"$dir/eval.log"
  tail -n 1 "$dir/eval.log" >&2
}

# ediy's initial online weights of every seed (one micro-step's inputs; the step is not used).
mkdir -p "$OUT/init"
for s in "${SEEDS[@]}"; do
  [[ -f $OUT/init/seed-$s.safetensors ]] ||
    node "$ROOT/tools/torch/ts-step.mjs" "$OUT/config/byol-seed-$s.json" "$OUT/init/seed-$s.safetensors" >/dev/null
done

pool() { # runs "row seed [flags]" lines, JOBS at a time
  local line
  while read -r line; do
    while (($(jobs -rp | wc -l) >= JOBS)); do wait -n; done
    # shellcheck disable=SC2086
    run $line &
  done
  wait
}
TEACHER="$OUT/byol/seed-${SEEDS[0]}/backbone.safetensors"
printf 'byol %s\n' "${SEEDS[@]}" | pool
printf "ediy %s --method ediy --teacher $TEACHER\n" "${SEEDS[@]}" | pool

"$PY" - "$OUT" "${SEEDS[@]}" <<'EOF'
import json, sys
out, seeds = sys.argv[1], sys.argv[2:]
runs = []
for row in ('byol', 'ediy'):
    for s in seeds:
        d = f'{out}/{row}/seed-{s}'
        r, e = json.load(open(f'{d}/result.json')), json.load(open(f'{d}/eval.json'))
        runs.append({'row': row, 'seed': int(s), 'metrics': e['metrics'], 'intervals': e['intervals'],
                     'trainCpuSec': r['trainCpuSec'], 'trainWallSec': r['trainWallSec'],
                     'evalSeconds': e['seconds'], 'evalCpuSeconds': e['cpuSeconds'],
                     'finalLoss25': r['log'][-1]['loss25'] if r['log'] else None})
json.dump({'runs': runs}, open(f'{out}/summary.json', 'w'), indent=1)
for r in runs:
    m = r['metrics']
    print(f"{r['row']:5} seed {r['seed']}: kNN {100 * m['knnTop1']:.1f} linear {100 * m['linearTop1']:.1f} "
          f"cos {m['meanRegionCosine']:.3f} rank {m['effectiveRank']:.1f} train {r['trainCpuSec']:.0f} CPU-s")
EOF
