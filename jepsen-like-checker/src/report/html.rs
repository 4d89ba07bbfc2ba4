//! The HTML report: one self-contained file (inline CSS and JS, no network) that opens
//! on the failure: the anomaly named ("stale read", "lost write") with the operations
//! it is about, then each client's operations on a time line scrolled to the point of
//! failure, with a linearization point on every operation that took effect and the
//! model's state after it on hover, and the (partial) linearization in order. Every
//! operation carries one number (`#i`) everywhere. The report's JSON is embedded and
//! drawn by a small script.

use super::Report;

/// Renders `report` as a standalone HTML page.
pub fn render(report: &Report) -> String {
    // `</` inside a <script> would end it early; JSON allows escaping `/`.
    let data = report.to_json().replace("</", "<\\/");
    let title = escape(&format!("detcd check: {}", report.summary));
    let mut page =
        String::with_capacity(data.len() + TEMPLATE_HEAD.len() + TEMPLATE_SCRIPT.len() + 512);
    page.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>");
    page.push_str(&title);
    page.push_str("</title>\n");
    page.push_str(TEMPLATE_HEAD);
    page.push_str("<script id=\"report-data\" type=\"application/json\">\n");
    page.push_str(&data);
    page.push_str("\n</script>\n<script>\n");
    page.push_str(TEMPLATE_SCRIPT);
    page.push_str("</script>\n</body>\n</html>\n");
    page
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

const TEMPLATE_HEAD: &str = r#"<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; margin: 0 0 .4em; }
.badge { display: inline-block; padding: .1em .6em; border-radius: .3em; color: #fff; font-weight: 600; }
.v-linearizable { background: #2e7d32; } .v-not-linearizable { background: #c62828; } .v-unknown { background: #8d6e00; }
#anomaly { display: none; background: #fdecea; border: 1px solid #c62828; border-radius: 4px; padding: .5em .8em; margin: .4em 0 .8em; }
#anomaly b { font-size: 1.15em; color: #b71c1c; text-transform: capitalize; }
#explain li { margin: .2em 0; white-space: pre-wrap; }
.legend span { display: inline-block; margin-right: 1em; }
.sw { display: inline-block; width: 1em; height: .8em; vertical-align: middle; margin-right: .3em; border: 1px solid #555; }
#timeline { position: relative; overflow-x: auto; border: 1px solid #ccc; margin: .8em 0; background: #fafafa; }
.row { position: relative; height: 34px; border-bottom: 1px dashed #e0e0e0; }
.rowlabel { position: sticky; left: 0; z-index: 3; background: #fafafa; width: 150px; height: 34px; line-height: 34px; padding-left: 4px; font-weight: 600; display: inline-block; overflow: hidden; white-space: nowrap; text-overflow: ellipsis; }
.op { position: absolute; top: 5px; height: 22px; border: 1px solid #555; border-radius: 3px; font-size: 11px; line-height: 22px; overflow: hidden; white-space: nowrap; padding: 0 3px; box-sizing: border-box; cursor: pointer; }
.op.other { background: #e0e0e0; } .op.lin { background: #a5d6a7; } .op.blocked { background: #ef5350; color: #fff; font-weight: 600; }
.op.refused { background: #ffb74d; } .op.deadend { background: #fff176; }
.op.missed { outline: 3px solid #6a1b9a; z-index: 1; }
.op.unknown { border-style: dashed; background-image: repeating-linear-gradient(45deg, transparent 0 6px, rgba(0,0,0,.07) 6px 12px); }
.op.sel { outline: 3px solid #1565c0; }
.lp { position: absolute; top: 1px; width: 8px; height: 30px; margin-left: -4px; z-index: 2; cursor: pointer; }
.lp::after { content: ''; position: absolute; left: 3px; top: 0; width: 2px; height: 30px; background: #1b5e20; }
.failline { position: absolute; top: 0; bottom: 0; border-left: 2px solid #c62828; z-index: 2; }
table { border-collapse: collapse; margin-top: .5em; } td, th { border: 1px solid #ccc; padding: 2px 6px; text-align: left; vertical-align: top; }
tr.fail td { background: #ffebee; } #detail { min-height: 2.5em; padding: .4em; background: #eef3fb; border-radius: 4px; }
</style>
</head>
<body>
<h1>detcd linearizability check: <span id="verdict" class="badge"></span></h1>
<div id="anomaly"></div>
<p id="summary"></p>
<ul id="explain"></ul>
<p>Part: <select id="part"></select> <span id="partinfo"></span></p>
<div class="legend">
<span><i class="sw" style="background:#a5d6a7"></i>took effect (a dark tick marks its linearization point)</span>
<span><i class="sw" style="background:#ef5350"></i>must take effect but cannot</span>
<span><i class="sw" style="background:#ffb74d"></i>next candidate refused by the model</span>
<span><i class="sw" style="background:#fff176"></i>next candidate leading to a dead end</span>
<span><i class="sw" style="outline:3px solid #6a1b9a"></i>the write the anomaly missed</span>
<span><i class="sw" style="background:#e0e0e0"></i>not reached</span>
<span><i class="sw" style="border-style:dashed"></i>unknown outcome (may take effect any time after its call, or never)</span>
</div>
<p>Each row is a client; a bar spans an operation from its call to its return (time is drawn by order of events, not to scale); #n is the operation's number everywhere in this report. Hover over a bar or a linearization point for the model's state after it.</p>
<div id="timeline"></div>
<div id="detail">Hover over an operation.</div>
<h2 id="ordertitle" style="font-size:1.1em"></h2>
<table id="order"></table>
"#;

const TEMPLATE_SCRIPT: &str = r#"(function () {
  var R = JSON.parse(document.getElementById('report-data').textContent);
  function el(tag, cls, text) { var e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; }
  var v = document.getElementById('verdict');
  v.textContent = R.verdict.replace('-', ' '); v.className = 'badge v-' + R.verdict;
  document.getElementById('summary').textContent = R.summary;
  var A = R.anomaly || null;
  if (A) {
    var box = document.getElementById('anomaly'); box.style.display = 'block';
    box.appendChild(el('b', '', A.kind)); box.appendChild(document.createTextNode(' — ' + A.sentence.replace(/^[^:]*:\s*/, '')));
  }
  var ex = document.getElementById('explain');
  R.explanation.forEach(function (line) { ex.appendChild(el('li', '', line)); });
  var sel = document.getElementById('part');
  var first = 0;
  R.parts.forEach(function (p, k) {
    var o = el('option', '', k + ': ' + p.verdict + ' (' + p.operations.length + ' ops)'); o.value = k; sel.appendChild(o);
    if (p.verdict === 'not-linearizable' && R.parts[first].verdict !== 'not-linearizable') first = k;
    if (A && p.operations.indexOf(A.op) >= 0) first = k;
  });
  sel.value = first;
  sel.onchange = function () { draw(+sel.value); };
  function who(i) { var o = R.operations[i]; return o.who || ('client ' + o.client); }
  function opText(i) { var o = R.operations[i]; return '#' + i + ' ' + who(i) + ': ' + o.description; }
  var missed = {}; if (A) A.missed.forEach(function (i) { missed[i] = true; });
  function draw(k) {
    var p = R.parts[k];
    if (!p) return;
    document.getElementById('partinfo').textContent = p.verdict + ', ' + p.steps + ' search steps' + (p.unknown_reason ? ' — ' + p.unknown_reason : '');
    var pos = {}; p.linearization.forEach(function (i, n) { pos[i] = n; });
    var cand = {}; p.candidates.forEach(function (c) { cand[c.op] = c.applicable ? 'deadend' : 'refused'; });
    var times = [];
    p.operations.forEach(function (i) { var o = R.operations[i]; times.push(o.call); if (o['return'] !== null) times.push(o['return']); });
    times.sort(function (a, b) { return a - b; });
    var rank = {}, r = 0;
    times.forEach(function (t) { if (!(t in rank)) rank[t] = r++; });
    var unit = 26, left = 160, width = left + (r + 2) * unit;
    var rowsOf = [];
    p.operations.forEach(function (i) { var w = who(i); if (rowsOf.indexOf(w) < 0) rowsOf.push(w); });
    rowsOf.sort(function (a, b) { var na = parseInt(a.replace(/\D+/g, '') || '1e9', 10), nb = parseInt(b.replace(/\D+/g, '') || '1e9', 10); return (isNaN(na) ? 1e9 : na) - (isNaN(nb) ? 1e9 : nb) || (a < b ? -1 : 1); });
    var tl = document.getElementById('timeline'); tl.innerHTML = '';
    var inner = el('div'); inner.style.position = 'relative'; inner.style.width = width + 'px'; tl.appendChild(inner);
    var rows = {};
    rowsOf.forEach(function (c) { var row = el('div', 'row'); var lab = el('span', 'rowlabel', c); lab.title = c; row.appendChild(lab); inner.appendChild(row); rows[c] = row; });
    var detail = document.getElementById('detail'), bars = {};
    function ends(i) {
      var o = R.operations[i];
      return [left + rank[o.call] * unit, o['return'] === null ? width - 4 : left + rank[o['return']] * unit + unit - 4];
    }
    function explainOp(i) {
      var o = R.operations[i];
      var t = opText(i) + ' — called at ' + o.call + ', ' + (o['return'] === null ? 'outcome unknown' : 'returned at ' + o['return']) + '. ';
      if (i in pos) t += 'Took effect as number ' + (pos[i] + 1) + ' of the order; the state after it: ' + p.states[pos[i]] + '.';
      else if (i === p.blocked) t += 'It had to take effect before returning, but no candidate could come next.';
      else if (cand[i] === 'refused') t += 'Candidate at the point of failure: the model refuses it in the state reached.';
      else if (cand[i] === 'deadend') t += 'Candidate at the point of failure: it applies, but nothing works after it.';
      else t += 'Not placed by the search.';
      if (A && A.op === i) t += ' Its result shows the ' + A.kind + '.';
      if (missed[i]) t += ' The ' + A.kind + ' did not see this write.';
      return t;
    }
    function show(i) {
      Object.keys(bars).forEach(function (j) { bars[j].classList.remove('sel'); }); bars[i].classList.add('sel');
      detail.textContent = explainOp(i);
    }
    p.operations.forEach(function (i) {
      var o = R.operations[i], x = ends(i);
      var cls = 'other';
      if (i in pos) cls = 'lin'; else if (i === p.blocked) cls = 'blocked'; else if (i in cand) cls = cand[i];
      if (A && A.op === i) cls = 'blocked';
      var b = el('div', 'op ' + cls + (o['return'] === null ? ' unknown' : '') + (missed[i] ? ' missed' : ''), '#' + i + ' ' + o.description);
      b.style.left = x[0] + 'px'; b.style.width = Math.max(x[1] - x[0], 12) + 'px';
      b.title = explainOp(i);
      b.onmouseenter = function () { show(i); };
      b.onclick = function () { show(i); };
      bars[i] = b;
      rows[who(i)].appendChild(b);
    });
    // Linearization points: each at or after its call and after the one before it.
    var prev = 0;
    p.linearization.forEach(function (i, n) {
      var x = ends(i), at = Math.min(Math.max(x[0] + 6, prev + 3), x[1] - 2);
      prev = at;
      var lp = el('div', 'lp'); lp.style.left = at + 'px';
      lp.title = 'linearization point ' + (n + 1) + ': ' + opText(i) + '\nstate after: ' + p.states[n];
      lp.onmouseenter = function () { show(i); };
      rows[who(i)].appendChild(lp);
    });
    var failX = null;
    if (p.blocked !== null) {
      var ob = R.operations[p.blocked];
      failX = left + rank[ob['return']] * unit + unit - 4;
      var line = el('div', 'failline'); line.style.left = failX + 'px'; line.title = 'point of failure'; inner.appendChild(line);
    }
    var title = document.getElementById('ordertitle');
    title.textContent = p.verdict === 'linearizable' ? 'A valid order (linearization)' : (p.verdict === 'not-linearizable' ? 'Longest partial order found, then the failure' : 'Undecided');
    var tab = document.getElementById('order'); tab.innerHTML = '';
    var head = el('tr'); ['order', 'operation', 'state after'].forEach(function (h) { head.appendChild(el('th', '', h)); }); tab.appendChild(head);
    var tr0 = el('tr'); tr0.appendChild(el('td', '', '0')); tr0.appendChild(el('td', '', '(initial state)')); tr0.appendChild(el('td', '', p.initial_state)); tab.appendChild(tr0);
    p.linearization.forEach(function (i, n) {
      var tr = el('tr'); tr.appendChild(el('td', '', String(n + 1))); tr.appendChild(el('td', '', opText(i))); tr.appendChild(el('td', '', p.states[n] || '')); tab.appendChild(tr);
    });
    if (p.blocked !== null) {
      var tr = el('tr', 'fail'); tr.appendChild(el('td', '', '✗'));
      var names = p.candidates.map(function (c) { return opText(c.op) + (c.applicable ? ' (dead end)' : ' (refused)'); });
      tr.appendChild(el('td', '', 'stuck: ' + opText(p.blocked) + ' must take effect before its return; candidates: ' + names.join('; ')));
      tr.appendChild(el('td', '', '')); tab.appendChild(tr);
    }
    // Open on the failure: the point of failure in view, the anomaly's operation shown.
    if (failX !== null) tl.scrollLeft = Math.max(0, failX - tl.clientWidth * 0.6);
    var focus = A && A.op in bars ? A.op : p.blocked;
    if (focus !== null && focus in bars) show(focus);
  }
  draw(first);
})();
"#;
