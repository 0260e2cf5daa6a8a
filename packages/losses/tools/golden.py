"""Golden values for @ediy/losses from an independent NumPy implementation.

Writes test/fixtures/golden.json: random inputs (seeded) and the losses computed here,
written from the formulas in docs/paper-notes.md without any tfjs code. Run from
packages/losses:  python3 tools/golden.py
"""
import json
import numpy as np

rng = np.random.default_rng(20240607)
B, H, W, C, CT, D = 3, 2, 3, 5, 4, 6
N = H * W


def unit(x):
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(n, 1e-12)


def cos(a, b):
    return np.sum(unit(a) * unit(b), axis=-1)


def regions(m):
    return m.reshape(m.shape[0], -1, m.shape[-1])


teacher = [rng.standard_normal((B, H, W, CT)) for _ in range(2)]
local = [rng.standard_normal((B, H, W, C)) for _ in range(2)]
pred = [rng.standard_normal((B, H, W, C)) for _ in range(2)]
target = [rng.standard_normal((B, H, W, C)) for _ in range(2)]
p = [rng.standard_normal((B, D)) for _ in range(2)]
z = [rng.standard_normal((B, D)) for _ in range(2)]
g = [rng.standard_normal((B, C)) for _ in range(2)]
other = np.array([2, 0, 1])

# Eq. 4: argmin over the other regions of the same view (diagonal excluded)
dis = []
for t in teacher:
    tr = unit(regions(t))
    sim = np.einsum('bnc,bmc->bnm', tr, tr)
    sim[:, np.arange(N), np.arange(N)] = np.inf
    dis.append(np.argmin(sim, axis=2))
# Eq. 6 across views: argmax over the regions of the other view
sim_across = []
for v in range(2):
    a, b = unit(regions(teacher[v])), unit(regions(teacher[1 - v]))
    sim_across.append(np.argmax(np.einsum('bnc,bmc->bnm', a, b), axis=2))


def take(x, idx):
    return np.stack([x[b][idx[b]] for b in range(x.shape[0])])


byol = (2 - 2 * cos(p[0], z[1]).mean()) + (2 - 2 * cos(p[1], z[0]).mean())
r_dem_terms = [cos(regions(local[v]), take(regions(local[v]), dis[v])).mean() for v in range(2)]
r_iem = 2 - sum(cos(regions(pred[v]), take(regions(target[1 - v]), sim_across[v])).mean() for v in range(2))


def r_ins(neg):
    total = 0.0
    for v in range(2):
        l = regions(local[v])
        gv = l.mean(axis=1) if neg == 'pooled-local' else g[v]
        total += cos(l, gv[other][:, None, :]).mean()
    return total


def dense_contrastive(q, k, m, tau):
    q, k = regions(q), regions(k)
    out = []
    pooled = unit(k.mean(axis=1))
    for b in range(q.shape[0]):
        for j in range(q.shape[1]):
            qn = unit(q[b, j])
            pos = qn @ unit(k[b, m[b, j]])
            negs = [qn @ pooled[o] for o in range(q.shape[0]) if o != b]
            logits = np.array([pos] + negs) / tau
            out.append(np.log(np.exp(logits).sum()) - logits[0])
    return float(np.mean(out))


golden = {
    'inputs': {
        'teacher': [t.tolist() for t in teacher],
        'local': [t.tolist() for t in local],
        'pred': [t.tolist() for t in pred],
        'target': [t.tolist() for t in target],
        'p': [t.tolist() for t in p],
        'z': [t.tolist() for t in z],
        'g': [t.tolist() for t in g],
        'other': other.tolist(),
    },
    'outputs': {
        'dissimilarWithin': [d.tolist() for d in dis],
        'similarAcross': [s.tolist() for s in sim_across],
        'byol': float(byol),
        'rDemPerView': float(sum(r_dem_terms)),
        'rDemFirstViewTwice': float(2 * r_dem_terms[0]),
        'rIem': float(r_iem),
        'rInsPooledLocal': float(r_ins('pooled-local')),
        'rInsGlobal': float(r_ins('global')),
        'denseContrastive': dense_contrastive(local[0], target[1], sim_across[0], 0.2),
    },
}
with open('test/fixtures/golden.json', 'w') as f:
    json.dump(golden, f)
print(json.dumps(golden['outputs'], indent=1))
