// Draws detcd's run time line from the embedded JSON (see timeline.rs for its rows).
// The run is fitted to the window's width; zoom and pan change the visible window of
// simulated time and everything is redrawn for it, so labels, bundling of dense
// messages and the violation label are always computed for what is on screen.
// After each drawing the layout (where things landed) is written as JSON into
// #layout-metrics, which the headless-browser test reads.
(function () {
  'use strict';
  var D = JSON.parse(document.getElementById('timeline-data').textContent);
  var frame = document.getElementById('frame');
  var LEFT = 104, RIGHT = 18, AXIS = 18, FROW = 15, FROWS = 4, LANE = 46, CLANE = 17;
  var FTOP = AXIS + 4, VROW = FTOP + FROWS * FROW + 2, TOP = VROW + 24;
  var ctop = TOP + D.nodes.length * LANE + 22;
  var height = ctop + D.clients.length * CLANE + 10;
  var BUCKET_PX = 20, SPAN_MIN_US = 2000, FAULT_LABEL_PX = 640;
  var view = { t0: 0, t1: D.end_us };
  var showHb = false;

  var measureCtx = document.createElement('canvas').getContext('2d');
  function textWidth(text, font) { measureCtx.font = font; return measureCtx.measureText(text).width; }
  var SMALL = '11px system-ui, sans-serif', BOLD = '600 12px system-ui, sans-serif';
  function esc(s) { return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;'); }
  function secs(us) { return (us / 1e6).toFixed(3) + 's'; }
  function nodeIndex(n) { var i = D.nodes.indexOf(n); return i < 0 ? 0 : i; }
  function laneTop(n) { return TOP + nodeIndex(n) * LANE; }
  function laneMid(n) { return laneTop(n) + LANE / 2; }
  var ROLE_WORDS = { leader: 'leader', candidate: 'candidate', precandidate: 'pre-candidate', follower: 'follower' };

  function clampView() {
    var span = Math.max(SPAN_MIN_US, Math.min(D.end_us, view.t1 - view.t0));
    var t0 = Math.max(0, Math.min(view.t0, D.end_us - span));
    view.t0 = t0; view.t1 = t0 + span;
  }

  function tickStep(span, px) {
    var raw = span / Math.max(1, px / 110), p = Math.pow(10, Math.floor(Math.log10(raw)));
    var steps = [1, 2, 5, 10];
    for (var i = 0; i < steps.length; i++) { if (steps[i] * p >= raw) return steps[i] * p; }
    return 10 * p;
  }

  function render() {
    clampView();
    var w = Math.max(640, frame.clientWidth), pw = w - LEFT - RIGHT;
    var span = view.t1 - view.t0, k = pw / span;
    function X(t) { return LEFT + (t - view.t0) * k; }
    function clampX(x) { return Math.max(LEFT - 1, Math.min(w - RIGHT + 1, x)); }
    function visible(a, b) { return b >= view.t0 && a <= view.t1; }
    var m = { svgWidth: w, plotLeft: LEFT, plotRight: w - RIGHT, termLabels: 0, roleLabels: 0, restartLabels: 0,
      faultLabels: 0, faultsHidden: 0, messagesInView: 0, messageGlyphs: 0, bundled: false, opsDrawn: 0, joints: 0 };
    var s = [];
    s.push('<svg width="' + w + '" height="' + height + '">');
    s.push('<defs><marker id="arr" viewBox="0 0 6 6" refX="6" refY="3" markerWidth="6" markerHeight="6" markerUnits="userSpaceOnUse" orient="auto"><path d="M0,0 L6,3 L0,6 z" fill="#555"/></marker>');
    s.push('<clipPath id="plotclip"><rect x="' + LEFT + '" y="0" width="' + pw + '" height="' + height + '"/></clipPath></defs>');
    s.push('<rect class="plotbg" x="0" y="0" width="' + w + '" height="' + height + '"/>');
    s.push('<g clip-path="url(#plotclip)">');
    // Time axis.
    var step = tickStep(span, pw), decimals = Math.max(0, Math.min(6, -Math.floor(Math.log10(step / 1e6))));
    for (var t = Math.ceil(view.t0 / step) * step; t <= view.t1; t += step) {
      var gx = X(t).toFixed(1);
      s.push('<line class="grid" x1="' + gx + '" y1="' + AXIS + '" x2="' + gx + '" y2="' + height + '"/>');
      // A tick at the very left edge is labelled from its line on, not centred on it.
      var anchor = X(t) - LEFT < 20 ? 'start' : 'middle';
      s.push('<text class="axis" x="' + gx + '" y="12" text-anchor="' + anchor + '">' + (t / 1e6).toFixed(decimals) + 's</text>');
    }
    // Role bands, labelled with the role and term where the band is wide enough.
    var bandLabels = [];
    D.nodes.forEach(function (n) {
      var y = laneTop(n) + 4, h = LANE - 8;
      s.push('<rect class="band follower" x="' + LEFT + '" y="' + y + '" width="' + pw + '" height="' + h + '"/>');
      var mine = D.roles.filter(function (r) { return r[0] === n; });
      mine.forEach(function (r, i) {
        var from = r[1], until = i + 1 < mine.length ? mine[i + 1][1] : D.end_us;
        if (!visible(from, until)) return;
        var x0 = clampX(X(from)), x1 = clampX(X(until));
        var word = ROLE_WORDS[r[2]] || r[2];
        var tip = 'node ' + n + ': ' + word + (r[3] ? ' in term ' + r[3] : ' (just restarted)') + ' from ' + secs(from);
        s.push('<rect class="band ' + r[2] + '" x="' + x0.toFixed(1) + '" y="' + y + '" width="' + Math.max(0.5, x1 - x0).toFixed(1) + '" height="' + h + '"><title>' + esc(tip) + '</title></rect>');
        var long = r[3] ? word + ' · term ' + r[3] : word, short = r[3] ? 'term ' + r[3] : '';
        var room = x1 - x0 - 6;
        var label = textWidth(long, SMALL) <= room ? long : (short && textWidth(short, SMALL) <= room ? short : '');
        if (label) {
          bandLabels.push('<text class="bandlabel" x="' + (x0 + 3).toFixed(1) + '" y="' + (y + 13) + '">' + esc(label) + '</text>');
          m.roleLabels++;
          if (r[3]) m.termLabels++;
        }
      });
    });
    // Crashed members, and their restarts (labelled where the lane has room before
    // the member's next crash).
    function nextDown(d) {
      var next = D.end_us;
      D.downs.forEach(function (o) { if (o[0] === d[0] && o[1] > d[1]) next = Math.min(next, o[1]); });
      return next;
    }
    D.downs.forEach(function (d) {
      var until = d[2] < 0 ? D.end_us : d[2];
      if (!visible(d[1], until)) return;
      var x0 = clampX(X(d[1])), x1 = clampX(X(until)), y = laneTop(d[0]) + 2;
      s.push('<rect class="downband" x="' + x0.toFixed(1) + '" y="' + y + '" width="' + Math.max(1, x1 - x0).toFixed(1) + '" height="' + (LANE - 4) + '"><title>node ' + d[0] + ' is down (crashed) from ' + secs(d[1]) + (d[2] < 0 ? ' to the end' : ' until ' + secs(d[2])) + '</title></rect>');
      if (textWidth('crashed', SMALL) <= x1 - x0 - 6) bandLabels.push('<text class="downlabel" x="' + (x0 + 3).toFixed(1) + '" y="' + (y + 15) + '">crashed</text>');
      if (d[2] >= 0 && d[2] >= view.t0 && d[2] <= view.t1) {
        var rx = X(d[2]);
        s.push('<line class="restartline" x1="' + rx.toFixed(1) + '" y1="' + y + '" x2="' + rx.toFixed(1) + '" y2="' + (y + LANE - 4) + '"><title>node ' + d[0] + ' restarts at ' + secs(d[2]) + '</title></line>');
        if (textWidth('restarted', SMALL) + 6 <= clampX(X(nextDown(d))) - rx) {
          bandLabels.push('<text class="restart" x="' + (rx + 3).toFixed(1) + '" y="' + (y + LANE - 9) + '">restarted</text>');
          m.restartLabels++;
        }
      }
    });
    // Joint configurations (thesis §4.3): a strip along the foot of the member's lane
    // while it holds C_old,new, so the two-step change shows on every member.
    (D.joints || []).forEach(function (j) {
      var until = j[2] < 0 ? D.end_us : j[2];
      if (!visible(j[1], until)) return;
      var x0 = clampX(X(j[1])), x1 = clampX(X(until)), y = laneTop(j[0]) + LANE - 6;
      s.push('<rect class="jointband" x="' + x0.toFixed(1) + '" y="' + y + '" width="' + Math.max(1, x1 - x0).toFixed(1) + '" height="4"><title>node ' + j[0] + ' holds the joint configuration ' + esc(j[3]) + ' from ' + secs(j[1]) + (j[2] < 0 ? ' to the end' : ' until ' + secs(j[2])) + '</title></rect>');
      m.joints++;
    });
    // Messages: one arrow each while few are in view, else bundled per link and
    // per slice of the screen, the arrow's width growing with how many it stands for.
    var inView = D.messages.filter(function (g) {
      if (g[5] && !showHb) return false;
      return visible(g[2], g[3] < 0 ? g[2] : g[3]);
    });
    m.messagesInView = inView.length;
    function kinds(list) { var seen = []; list.forEach(function (i) { if (seen.indexOf(D.kinds[i]) < 0) seen.push(D.kinds[i]); }); return seen.slice(0, 4).join(', ') + (seen.length > 4 ? ', …' : ''); }
    function arrow(x1, y1, x2, y2, width, cls, tip) {
      s.push('<line class="' + cls + '" x1="' + x1.toFixed(1) + '" y1="' + y1.toFixed(1) + '" x2="' + x2.toFixed(1) + '" y2="' + y2.toFixed(1) + '" stroke-width="' + width.toFixed(2) + '" marker-end="url(#arr)"><title>' + esc(tip) + '</title></line>');
      m.messageGlyphs++;
    }
    function cross(x, y, size, tip) {
      s.push('<path class="lost" d="M' + (x - size) + ',' + (y - size) + ' L' + (x + size) + ',' + (y + size) + ' M' + (x - size) + ',' + (y + size) + ' L' + (x + size) + ',' + (y - size) + '"><title>' + esc(tip) + '</title></path>');
      m.messageGlyphs++;
    }
    function lostAt(g) { return (laneMid(g[0]) * 2 + laneMid(g[1])) / 3; }
    {
      var buckets = {}, order = [];
      inView.forEach(function (g) {
        var b = Math.floor((X(g[2]) - LEFT) / BUCKET_PX), lost = g[3] < 0;
        var key = g[0] + '>' + g[1] + '@' + b + (lost ? 'x' : '');
        var e = buckets[key];
        if (!e) { e = buckets[key] = { g: g, lost: lost, n: 0, sent: 0, got: 0, first: g[2], last: g[2], kinds: [] }; order.push(key); }
        e.n++; e.sent += g[2]; e.got += lost ? 0 : g[3]; e.first = Math.min(e.first, g[2]); e.last = Math.max(e.last, g[2]);
        if (e.kinds.length < 16) e.kinds.push(g[4]);
      });
      order.forEach(function (key) {
        var e = buckets[key], g = e.g;
        if (e.n === 1) {
          var one = D.kinds[g[4]] + ' from node ' + g[0] + ' to node ' + g[1] + ', sent ' + secs(g[2]);
          if (g[3] < 0) cross(X(g[2]) + 5, lostAt(g), 3, one + ', lost');
          else arrow(X(g[2]), laneMid(g[0]), X(g[3]), laneMid(g[1]), 0.9, 'msg' + (g[5] ? ' hb' : ''), one + ', delivered ' + secs(g[3]));
          return;
        }
        m.bundled = true;
        var what = e.n + (e.n === 1 ? ' message' : ' messages') + ' (' + kinds(e.kinds) + ') from node ' + g[0] + ' to node ' + g[1] + ', sent ' + secs(e.first) + '–' + secs(e.last);
        if (e.lost) cross(X(e.sent / e.n) + 5, lostAt(g), Math.min(6, 2.5 + Math.log2(e.n)), what + ', lost');
        else arrow(X(e.sent / e.n), laneMid(g[0]), X(e.got / e.n), laneMid(g[1]), Math.min(3.5, 0.9 + Math.log2(e.n) * 0.6), 'msg', what);
      });
    }
    s.push(bandLabels.join(''));
    // Faults: a dashed line down the lanes they hit, and a label in the first of the
    // label rows where it does not overlap another.
    var rowEnd = []; for (var r = 0; r < FROWS; r++) rowEnd.push(-1e9);
    var lanesBottom = TOP + D.nodes.length * LANE;
    D.faults.forEach(function (f) {
      if (f[0] < view.t0 || f[0] > view.t1) return;
      var x = X(f[0]), text = f[2];
      while (text.length > 12 && textWidth(text, SMALL) > FAULT_LABEL_PX) text = text.slice(0, -2) + '…';
      var tw = textWidth(text, SMALL) + 6, row = -1;
      // Near the right edge a label goes to the left of its line.
      var lx = x + tw > w - RIGHT ? Math.max(LEFT, x - tw) : x;
      for (var r = 0; r < FROWS; r++) { if (rowEnd[r] + 4 <= lx) { row = r; break; } }
      var yTop = row < 0 ? VROW : FTOP + row * FROW;
      var yBottom = f[1] ? laneTop(f[1]) + LANE : lanesBottom;
      s.push('<line class="fault" x1="' + x.toFixed(1) + '" y1="' + yTop + '" x2="' + x.toFixed(1) + '" y2="' + yBottom + '"><title>' + esc(secs(f[0]) + ': ' + f[2]) + '</title></line>');
      if (row < 0) { m.faultsHidden++; return; }
      rowEnd[row] = lx + tw;
      s.push('<rect class="faultbox" x="' + (lx + 1).toFixed(1) + '" y="' + (yTop + 1) + '" width="' + (tw - 2).toFixed(1) + '" height="' + (FROW - 2) + '"/>');
      s.push('<text class="faultlabel" x="' + (lx + 3).toFixed(1) + '" y="' + (yTop + FROW - 4) + '">' + esc(text) + '<title>' + esc(secs(f[0]) + ': ' + f[2]) + '</title></text>');
      m.faultLabels++;
    });
    // Client operations.
    D.ops.forEach(function (o) {
      if (!visible(o[2], o[3])) return;
      var x0 = clampX(X(o[2])), x1 = clampX(X(o[3])), y = ctop + o[0] * CLANE + 2;
      s.push('<rect class="op-' + o[5] + '" x="' + x0.toFixed(1) + '" y="' + y + '" width="' + Math.max(1.5, x1 - x0).toFixed(1) + '" height="' + (CLANE - 4) + '"><title>' + esc(D.clients[o[0]] + ' → node ' + o[1] + ': ' + o[4] + ' (' + o[5] + '), ' + secs(o[2]) + '–' + secs(o[3])) + '</title></rect>');
      m.opsDrawn++;
    });
    s.push('</g>');
    // The violation: a line through every lane and a label that is kept whole inside
    // the drawing (to the left of the line when there is no room on its right).
    m.violationShown = false;
    if (D.violation) {
      var v = D.violation, label = 'VIOLATION on node ' + v.node + ': ' + v.short;
      if (v.at_us >= view.t0 && v.at_us <= view.t1) {
        var vx = X(v.at_us), room = pw - 12;
        while (label.length > 12 && textWidth(label, BOLD) + 12 > room) label = label.slice(0, -2) + '…';
        var bw = textWidth(label, BOLD) + 12, bx = vx + 6;
        if (bx + bw > w - RIGHT) bx = vx - 6 - bw;
        bx = Math.max(LEFT, bx);
        s.push('<line class="violationline" x1="' + vx.toFixed(1) + '" y1="' + VROW + '" x2="' + vx.toFixed(1) + '" y2="' + height + '"><title>' + esc(v.text) + '</title></line>');
        s.push('<g id="violation-label"><rect class="violationbox" x="' + bx.toFixed(1) + '" y="' + VROW + '" width="' + bw.toFixed(1) + '" height="19" rx="3"/><text class="violationlabel" x="' + (bx + 6).toFixed(1) + '" y="' + (VROW + 14) + '">' + esc(label) + '</text><title>' + esc(secs(v.at_us) + ', node ' + v.node + ': ' + v.text) + '</title></g>');
        m.violationShown = true;
      } else {
        var right = v.at_us > view.t1, txt = right ? 'violation at ' + secs(v.at_us) + ' ▶' : '◀ violation at ' + secs(v.at_us);
        var ox = right ? w - RIGHT - textWidth(txt, BOLD) - 4 : LEFT + 4;
        s.push('<text id="violation-offscreen" class="offscreen" x="' + ox.toFixed(1) + '" y="' + (VROW + 14) + '">' + esc(txt) + '</text>');
      }
    }
    // Lane names, over a background so nothing drawn shows through.
    s.push('<rect class="labelbg" x="0" y="0" width="' + (LEFT - 4) + '" height="' + height + '"/>');
    s.push('<text class="clientlabel" x="6" y="' + (FTOP + 11) + '">faults</text>');
    D.nodes.forEach(function (n) { s.push('<text class="lanelabel" x="6" y="' + (laneMid(n) + 5) + '">node ' + n + '</text>'); });
    D.clients.forEach(function (c, i) { s.push('<text class="clientlabel" x="6" y="' + (ctop + i * CLANE + 12) + '">' + esc(c) + '</text>'); });
    s.push('</svg>');
    frame.innerHTML = s.join('');
    var thinned = D.messages_total > D.messages.length ? ' (' + D.messages.length + ' of the run\'s ' + D.messages_total + ' messages are drawn: heartbeats left out, then every k-th)' : '';
    document.getElementById('window').textContent = 'showing ' + secs(view.t0) + ' – ' + secs(view.t1) + ' of ' + secs(D.end_us) + thinned;
    var off = document.getElementById('violation-offscreen');
    if (off) off.onclick = jumpToViolation;
    // Where things landed, for the headless-browser test.
    m.viewportWidth = window.innerWidth; m.viewportHeight = window.innerHeight;
    m.drawnLeft = clampX(X(0)); m.drawnRight = clampX(X(D.end_us));
    var fr = frame.getBoundingClientRect();
    m.frame = { left: fr.left, right: fr.right, top: fr.top, bottom: fr.bottom };
    var vl = document.getElementById('violation-label');
    if (vl) { var b = vl.getBoundingClientRect(); m.violationLabel = { left: b.left, right: b.right, top: b.top, bottom: b.bottom }; }
    m.view = { t0: view.t0, t1: view.t1 };
    document.getElementById('layout-metrics').textContent = JSON.stringify(m);
  }

  function zoom(factor, atT) {
    var c = atT === undefined ? (view.t0 + view.t1) / 2 : atT;
    view.t0 = c - (c - view.t0) * factor; view.t1 = c + (view.t1 - c) * factor;
    render();
  }
  function pan(fraction) { var d = (view.t1 - view.t0) * fraction; view.t0 += d; view.t1 += d; render(); }
  function fit() { view.t0 = 0; view.t1 = D.end_us; render(); }
  function jumpToViolation() {
    if (!D.violation) { render(); return; }
    var span = Math.min(D.end_us, Math.max(D.end_us * 0.08, 300000)), at = D.violation.at_us;
    view.t0 = at - span * 0.65; view.t1 = view.t0 + span;
    render();
  }
  function timeAt(clientX) {
    var rect = frame.getBoundingClientRect(), pw = Math.max(640, frame.clientWidth) - LEFT - RIGHT;
    return view.t0 + (clientX - rect.left - LEFT) / pw * (view.t1 - view.t0);
  }

  document.getElementById('fit').onclick = fit;
  document.getElementById('zoomin').onclick = function () { zoom(0.5); };
  document.getElementById('zoomout').onclick = function () { zoom(2); };
  document.getElementById('left').onclick = function () { pan(-0.4); };
  document.getElementById('right').onclick = function () { pan(0.4); };
  document.getElementById('hb').onchange = function () {
    showHb = this.checked; document.body.classList.toggle('nohb', !showHb); render();
  };
  var jump = document.getElementById('jump');
  if (jump) jump.onclick = jumpToViolation;
  frame.addEventListener('wheel', function (e) {
    e.preventDefault();
    if (e.shiftKey || Math.abs(e.deltaX) > Math.abs(e.deltaY)) pan((e.deltaX || e.deltaY) > 0 ? 0.1 : -0.1);
    else zoom(e.deltaY < 0 ? 0.8 : 1.25, timeAt(e.clientX));
  }, { passive: false });
  var drag = null;
  frame.addEventListener('mousedown', function (e) { drag = { x: e.clientX, t0: view.t0, t1: view.t1 }; frame.classList.add('dragging'); });
  window.addEventListener('mouseup', function () { drag = null; frame.classList.remove('dragging'); });
  window.addEventListener('mousemove', function (e) {
    if (!drag) return;
    var pw = Math.max(640, frame.clientWidth) - LEFT - RIGHT, d = (drag.x - e.clientX) / pw * (drag.t1 - drag.t0);
    view.t0 = drag.t0 + d; view.t1 = drag.t1 + d; render();
  });
  window.addEventListener('keydown', function (e) {
    if (e.key === '+' || e.key === '=') zoom(0.5);
    else if (e.key === '-') zoom(2);
    else if (e.key === 'ArrowLeft') pan(-0.2);
    else if (e.key === 'ArrowRight') pan(0.2);
    else if (e.key === 'f') fit();
    else if (e.key === 'v') jumpToViolation();
  });
  window.addEventListener('resize', render);
  if (location.hash === '#violation') jumpToViolation(); else render();
})();
