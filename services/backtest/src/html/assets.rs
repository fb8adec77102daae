//! The page's inline stylesheet and its optional hover script: nothing is fetched.

pub(super) const CSS: &str = r#"body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#222;max-width:1180px;margin:0 auto;padding:16px 20px 40px}
h1{font-size:24px;margin:8px 0 12px}h2{font-size:19px;margin:32px 0 6px;padding-top:10px;border-top:2px solid #ddd}
h3{font-size:15px;margin:18px 0 4px}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:0 0 12px}dl.meta dt{color:#666}dl.meta dd{margin:0}
nav ol{columns:3;margin:4px 0 8px}nav p{margin:8px 0 0;color:#666}
table{border-collapse:collapse;margin:6px 0;font-variant-numeric:tabular-nums}
th,td{padding:3px 9px;border-bottom:1px solid #e4e4e4;text-align:right;vertical-align:top}
th{background:#f4f4f4;font-weight:600}th.l,td.l{text-align:left}
td.best{background:#d8f0d8;font-weight:700}tr.oracle td{color:#666;font-style:italic}
tr.group td{background:#fafafa;border-top:2px solid #ddd;font-weight:600;text-align:left}
.sw{display:inline-block;width:10px;height:10px;margin-right:6px;border-radius:2px;vertical-align:baseline}
.note{color:#555;font-size:13px}code{font-size:13px}
figure{margin:12px 0 20px}figcaption{color:#444;font-size:13px;margin-top:2px}
svg.chart{width:100%;height:auto;display:block;background:#fff}
footer{margin-top:40px;color:#777;font-size:12px}
"#;

/// Hover readout: the time and value under the pointer. Optional: the charts carry their own
/// axes, so nothing depends on it.
pub(super) const SCRIPT: &str = r#"document.querySelectorAll('svg.chart').forEach(function (svg) {
  var d = svg.dataset, px0 = +d.px0, px1 = +d.px1, py0 = +d.py0, py1 = +d.py1;
  var t0 = +d.t0, t1 = +d.t1, v0 = +d.v0, v1 = +d.v1;
  var line = svg.querySelector('.cursor'), label = svg.querySelector('.readout');
  function hide() { line.setAttribute('visibility', 'hidden'); label.textContent = ''; }
  svg.addEventListener('mousemove', function (e) {
    var m = svg.getScreenCTM(); if (!m) return;
    var p = svg.createSVGPoint(); p.x = e.clientX; p.y = e.clientY; p = p.matrixTransform(m.inverse());
    if (p.x < px0 || p.x > px1 || p.y < py1 || p.y > py0) { hide(); return; }
    var t = t0 + (p.x - px0) / (px1 - px0) * (t1 - t0), v = v0 + (py0 - p.y) / (py0 - py1) * (v1 - v0);
    line.setAttribute('x1', p.x); line.setAttribute('x2', p.x); line.setAttribute('visibility', 'visible');
    label.textContent = new Date(Math.round(t)).toISOString().replace('.000Z', 'Z') + '   ' + v.toPrecision(4) + ' ' + d.metric;
  });
  svg.addEventListener('mouseleave', hide);
});
"#;
