// Statistics of the view-pair checks (view-joint.mjs, view-pairs.mjs): the IoU of two crop
// boxes {x0, y0, x1, y1}, means with a normal 95% half-width, Pearson's correlation and a
// nearest-rank quantile. A dozen lines each tool would otherwise repeat.

/** Intersection over union of two boxes {x0, y0, x1, y1}. */
export const iou = (p, q) => {
  const ix = Math.max(0, Math.min(p.x1, q.x1) - Math.max(p.x0, q.x0));
  const iy = Math.max(0, Math.min(p.y1, q.y1) - Math.max(p.y0, q.y0));
  const inter = ix * iy;
  const area = (r) => (r.x1 - r.x0) * (r.y1 - r.y0);
  return inter / (area(p) + area(q) - inter);
};

/** The mean of a list of numbers. */
export const mean = (xs) => xs.reduce((s, x) => s + x, 0) / xs.length;

/** The sample standard deviation. */
export const sd = (xs) => {
  const m = mean(xs);
  return Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1));
};

/** [mean, 95% half-width (1.96 standard errors)]. */
export const ci = (xs) => [mean(xs), (1.96 * sd(xs)) / Math.sqrt(xs.length)];

/** Pearson's correlation of two equally long lists. */
export const corr = (xs, ys) => {
  const mx = mean(xs);
  const my = mean(ys);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  xs.forEach((x, i) => {
    sxy += (x - mx) * (ys[i] - my);
    sxx += (x - mx) ** 2;
    syy += (ys[i] - my) ** 2;
  });
  return sxy / Math.sqrt(sxx * syy);
};

/** The nearest-rank quantile p (0..1). */
export const quantile = (xs, p) => {
  const s = [...xs].sort((u, v) => u - v);
  return s[Math.round(p * (s.length - 1))];
};
