/** The viewer's HTML page: a shell that loads `viewer.js`, which draws everything. */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>ediy view: what E-DIY matches</title>
<style>
  body { font: 14px/1.45 system-ui, sans-serif; margin: 1.2em 2em; color: #222; background: #fafafa; }
  h1 { font-size: 1.4em; margin: 0 0 .2em; } h2 { font-size: 1.1em; margin: .2em 0; }
  section { margin: 1em 0; } .muted { color: #666; } .error { color: #b00020; white-space: pre-wrap; }
  #thumbs canvas { width: 48px; height: 48px; margin: 2px; cursor: pointer; image-rendering: pixelated; border: 2px solid transparent; }
  #thumbs canvas.picked { border-color: #1565c0; }
  .runs { display: flex; flex-wrap: wrap; gap: 1.5em; }
  .run { max-width: 540px; background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: .6em .8em; }
  .run svg image { image-rendering: pixelated; }
  .region { fill: transparent; stroke: rgba(255,255,255,.55); stroke-width: 1; cursor: crosshair; }
  .region.selected { stroke: #fff; stroke-width: 3; }
  .pairs { pointer-events: none; }
  line.r-dem, path.r-dem { stroke: #e53935; stroke-width: 2.5; fill: none; }
  line.r-iem { stroke: #43a047; stroke-width: 2.5; }
  .legend span { display: inline-block; margin-right: 1em; } .swatch { display: inline-block; width: 1.4em; height: .35em; vertical-align: middle; margin-right: .3em; }
  table { border-collapse: collapse; } td, th { border: 1px solid #ddd; padding: .2em .6em; text-align: right; } th:first-child, td:first-child { text-align: left; }
  .charts { display: flex; flex-wrap: wrap; gap: 1em; } .chart { background: #fff; border: 1px solid #ddd; border-radius: 6px; }
</style>
</head>
<body>
<header>
  <h1>What E-DIY matches</h1>
  <p class="muted">Two BYOL views of an image, the backbone's region grid on each, and the partners a frozen teacher picks:
  <b style="color:#e53935">R-DEM</b> pushes a region away from the <i>most different</i> region of the same view (Eq. 4),
  <b style="color:#43a047">R-IEM</b> pulls it towards the <i>most similar</i> region of the other view (Eq. 6).
  Hover a region for its similarity map (cosine with every region of both views, from
  <span style="color:#00007f">-1</span> to <span style="color:#7f0000">+1</span> on a jet scale), click to pin it.</p>
  <p id="status" class="muted">loading…</p>
</header>
<section id="controls"></section>
<section id="source"></section>
<section id="runs" class="runs"></section>
<section id="train"></section>
<section id="curves"></section>
<section id="metrics"></section>
<script type="module" src="viewer.js"></script>
</body>
</html>
`;
