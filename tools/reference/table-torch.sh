#!/usr/bin/env bash
# The PyTorch reference of a reproduction's BYOL and E-DIY rows (docs/results/table1-mini.md,
# table2-fmnist-mini.md): for every seed of an `ediy reproduce ... --plan` (or a finished
# reproduction's) plan.json, tools/reference/recipe.py trains each row it implements with the
# plan's recipe for that row (steps, base LR, weight decay, momentum, LARS eta and clipping,
# tau0, warm-up share, batch, architecture) from the ediy run's own initial weights
# (tools/torch/ts-step.mjs of the seed's config, so its floor is the table's untrained row of
# that seed), on Fashion-MNIST's training split with PyTorch's views and random streams.
# The rows recipe.py implements are found by their method: BYOL (no region losses) and E-DIY
# (teacher-guided R-DEM and R-IEM, each weight 1, BYOL weight 1, local predictor), e.g. Table
# 1's byol and ediy and Table 2's equal; other rows are listed and left out. The E-DIY rows'
# teacher is the reference's own run of the plan's teacher job (Table 1's BYOL row at the
# first seed, with its own step budget), as the table's is; in Table 1 that job is also the
# BYOL row's first seed, which is then not trained twice. Every backbone is scored by
# tools/reference/eval-torchvision.mjs: ediy's evaluation, same images, same probes.
#
#   tools/reference/table-torch.sh <plan.json> <out dir> [jobs (default 2)]
#
# Writes <out>/<row>/seed-<s>/{result.json,backbone.safetensors,eval.json} (the teacher in
# <out>/teacher/seed-<s>) and <out>/summary.json (per run: the metrics, train CPU-s and wall
# s). One thread per run, `jobs` runs at a time. Needs the packages built (npm run build) and
# Debian's python3-torch.
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

# The rows recipe.py implements, each seed's config and recipe flags, and the teacher's.
"$PY" - "$PLAN" "$OUT" <<'PYEOF'
import json, sys
plan_path, out = sys.argv[1], sys.argv[2]
plan = json.load(open(plan_path))
seeds = plan['seeds']

def kind(method):
    losses = sorted((t['loss'], t['weight'], t['matcher']) for t in method['regionLosses'])
    if method['byolWeight'] == 1 and not losses:
        return 'byol'
    if (method['byolWeight'] == 1 and method.get('localPredictor')
            and losses == [('r-dem', 1, 'teacher'), ('r-iem', 1, 'teacher')]):
        return 'ediy'
    return None

def flags(config, where):
    data = config['scale']['data']
    if data.get('kind') != 'path':
        sys.exit(f'{plan_path}: {where} trains on {data}; recipe.py reads Fashion-MNIST IDX files (--data <folder>)')
    o, sc = config['optim'], config['scale']
    if sc['accumulate'] != 1 or 'warmupEpochs' in o or config.get('augment'):
        sys.exit(f'{plan_path}: {where}: accumulate, warmupEpochs and augment are not recipe.py flags')
    return ['--data', data['path'], '--steps', str(sc['maxSteps']), '--batch', str(sc['batchSize']),
            '--width', str(sc['backbone']['widthMultiplier']), '--hidden', str(sc['projector']['hidden']),
            '--proj-out', str(sc['projector']['out']), '--base-lr', str(o['baseLr']),
            '--momentum', str(o['momentum']), '--weight-decay', str(o['weightDecay']), '--eta', str(o['eta']),
            '--tau0', str(o['tau0']), '--warmup-frac', str(o['warmupFraction'])] + (['--clip'] if o.get('larsClip') else [])

lines, rows, skipped, aliases = [], [], [], []
for job in plan['jobs']:
    row, s, config = job['row'], job['seed'], job['config']
    k = kind(config['method'])
    if k is None:
        if row not in skipped:
            skipped.append(row)
        continue
    if row not in rows:
        rows.append(row)
    json.dump(config, open(f'{out}/config/{row}-seed-{s}.json', 'w'), indent=1)
    if job.get('teacherRun'):
        aliases.append(f'{row} {s}')  # the teacher run itself
    else:
        lines.append(f"{row} {s} {k} {' '.join(flags(config, job['id']))}")
if not rows:
    sys.exit(f'{plan_path}: no BYOL or E-DIY row (recipe.py trains those two methods only)')
if skipped:
    print(f"table-torch: rows recipe.py does not implement, left out: {', '.join(skipped)}", file=sys.stderr)
teacher = plan.get('teacher')
if teacher:
    t = teacher['config']
    json.dump(t, open(f"{out}/config/teacher-seed-{teacher['seed']}.json", 'w'), indent=1)
    open(f'{out}/config/teacher', 'w').write(f"teacher {teacher['seed']} byol {' '.join(flags(t, 'teacher'))}\n")
open(f'{out}/config/jobs', 'w').write('\n'.join(lines) + '\n')
open(f'{out}/config/aliases', 'w').write(''.join(a + '\n' for a in aliases))
open(f'{out}/config/rows', 'w').write(' '.join(rows) + '\n')
open(f'{out}/config/seeds', 'w').write(' '.join(map(str, seeds)) + '\n')
PYEOF
read -r -a ROWS <"$OUT/config/rows"
read -r -a SEEDS <"$OUT/config/seeds"
TEACHER="$OUT/teacher/seed-${SEEDS[0]}/backbone.safetensors"
echo "table-torch: rows ${ROWS[*]}, seeds ${SEEDS[*]}" >&2

run() { # row seed method [recipe.py flags...]
  local row=$1 s=$2 method=$3 dir="$OUT/$1/seed-$2"
  shift 3
  if [[ -f $dir/eval.json ]]; then
    echo "table-torch: $row seed $s done, skipping" >&2
    return
  fi
  local extra=()
  if [[ $method == ediy ]]; then extra=(--method ediy --teacher "$TEACHER"); fi
  mkdir -p "$dir"
  "$PY" "$HERE/recipe.py" train "$@" --seed "$s" --init "$OUT/init/seed-$s.safetensors" \
    --bn none --threads 1 --out "$dir" "${extra[@]}" 2>"$dir/train.log"
  node "$HERE/eval-torchvision.mjs" "$OUT/config/$row-seed-$s.json" "$dir/backbone.safetensors" \
    "$dir/eval.json" 2>"$dir/eval.log"
  tail -n 1 "$dir/eval.log" >&2
}

# ediy's initial online weights of every seed (one micro-step's inputs; the step is not used):
# every row of a seed starts from them, as ediy's rows of that seed do.
mkdir -p "$OUT/init"
for s in "${SEEDS[@]}"; do
  first=$OUT/config/byol-seed-$s.json
  [[ -f $first ]] || first=$(find "$OUT/config" -name "*-seed-$s.json" | sort | head -n 1)
  [[ -f $OUT/init/seed-$s.safetensors ]] ||
    node "$ROOT/tools/torch/ts-step.mjs" "$first" "$OUT/init/seed-$s.safetensors" >/dev/null
done

pool() { # runs "row seed method [flags]" lines, JOBS at a time
  local line
  while read -r line; do
    [[ -n $line ]] || continue
    while (($(jobs -rp | wc -l) >= JOBS)); do wait -n; done
    # shellcheck disable=SC2086
    run $line &
  done
  wait
}
# The teacher first, then the BYOL rows, then the E-DIY rows, which need it.
if [[ -f $OUT/config/teacher ]]; then pool <"$OUT/config/teacher"; fi
while read -r row s; do
  [[ -n $row ]] || continue
  mkdir -p "$OUT/$row"
  [[ -e $OUT/$row/seed-$s ]] || ln -s "../teacher/seed-$s" "$OUT/$row/seed-$s"
done <"$OUT/config/aliases"
grep ' byol ' "$OUT/config/jobs" | pool || true
grep ' ediy ' "$OUT/config/jobs" | pool || true

"$PY" - "$OUT" "${SEEDS[@]}" <<'PYEOF'
import json, sys
out, seeds = sys.argv[1], sys.argv[2:]
rows = open(f'{out}/config/rows').read().split()
runs = []
for row in rows:
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
    print(f"{r['row']:8} seed {r['seed']}: kNN {100 * m['knnTop1']:.1f} linear {100 * m['linearTop1']:.1f} "
          f"cos {m['meanRegionCosine']:.3f} rank {m['effectiveRank']:.1f} train {r['trainCpuSec']:.0f} CPU-s")
PYEOF
