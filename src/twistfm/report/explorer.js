// The explorer of a twistfm report: one Bokeh plot of every image, and the panels around it.
// Bokeh draws the points and owns the gestures (box and lasso selection, pan, zoom, tap, hover);
// this script holds the data (projections, fields, neighbours, image sprites), switches the
// projection and the colouring, applies the legend, the filters and "show only", searches,
// and fills the panels. Every count it shows is of the points shown: a filter hides points
// from the map, from the selection and from every count at once (see refresh()).
(function () {
  "use strict";
  const E = (window.twistfmExplorer = {ready: null});
  const fmt = (v) => v.toLocaleString("en-US");

  function bytes(b64) {
    const s = atob(b64), out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out.buffer;
  }
  const typed = {int8: Int8Array, int16: Int16Array, int32: Int32Array, uint16: Uint16Array, float32: Float32Array};
  function array(spec) { return new typed[spec.dtype](bytes(spec.data)); }
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "style") node.style.cssText = v; else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c);
    return node;
  }

  // ---------------------------------------------------------------- images from the sprite sheets
  const sheets = {};
  function sheet(s) {
    if (!sheets[s]) {
      sheets[s] = new Promise((resolve) => {
        const img = new Image();
        img.onload = () => resolve(img);
        img.src = document.getElementById(`twistfm-sprite-${s}`).textContent;
      });
    }
    return sheets[s];
  }
  async function draw(canvas, i, x, y, size) {
    const sp = E.meta.sprites, s = Math.floor(i / sp.per_sheet), j = i % sp.per_sheet;
    const img = await sheet(s);
    const ctx = canvas.getContext("2d");
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(img, (j % sp.cols) * sp.tile, Math.floor(j / sp.cols) * sp.tile, sp.tile, sp.tile, x, y, size, size);
  }
  function name(i) { return `${E.meta.split_names[E.split[i]]} image ${E.index[i]}`; }
  function value(f, i) { const c = E.codes[f.name][i]; return c >= 0 ? f.categories[c] : f.none; }
  function describe(i) {
    const parts = [name(i)];
    for (const f of E.meta.fields) {
      if (!f.hover) continue;
      const v = value(f, i);
      parts.push(v.startsWith(f.title) ? v : `${f.title}: ${v}`);
    }
    return parts.join(" · ");
  }

  // ---------------------------------------------------------------- state
  // hidden: field -> Set of hidden codes; only: the points "show only these" keeps (or null);
  // tapped: the point whose neighbours are shown (-1: none); query: the last search.
  const state = (E.state = {projection: null, colour: null, hidden: {}, only: null, tapped: -1, query: null, density: false});

  // Which points are shown, and every chip's count. A chip counts the points of its category
  // that every *other* field's filter lets through, so a hidden chip still says what it hides.
  function refresh() {
    const m = E.meta, n = m.n, fails = new Uint8Array(n), which = new Int8Array(n);
    m.fields.forEach((f, fi) => {
      const set = state.hidden[f.name];
      if (!set || !set.size) return;
      const codes = E.codes[f.name];
      for (let i = 0; i < n; i++) if (set.has(codes[i])) { fails[i]++; which[i] = fi; }
    });
    if (state.only) for (let i = 0; i < n; i++) if (!state.only[i]) fails[i] += 2;
    const vis = new Uint8Array(n);
    let shown = 0;
    for (let i = 0; i < n; i++) if (fails[i] === 0) { vis[i] = 1; shown++; }
    E.vis = vis;
    E.shown = shown;
    E.chipCounts = {};
    m.fields.forEach((f, fi) => {
      const codes = E.codes[f.name], c = new Map();
      for (let i = 0; i < n; i++) {
        if (fails[i] === 0 || (fails[i] === 1 && which[i] === fi)) c.set(codes[i], (c.get(codes[i]) || 0) + 1);
      }
      E.chipCounts[f.name] = c;
    });
    applyView();
  }
  // The points drawn: the shown ones, those no colour applies to (grey) in the renderer drawn first.
  function applyView() {
    const n = E.meta.n, codes = E.codes[state.colour.name], front = new Array(n), back = new Array(n);
    for (let i = 0; i < n; i++) { const v = E.vis[i] === 1; front[i] = v && codes[i] >= 0; back[i] = v && codes[i] < 0; }
    E.frontFilter.booleans = front;
    E.backFilter.booleans = back;
    if (state.density) density();
  }

  function showProjection(name) {
    const p = E.meta.projections.find((q) => q.name === name);
    state.projection = p;
    const data = E.source.data;
    data.x = E.proj[name].x;
    data.y = E.proj[name].y;
    E.source.change.emit();
    resetView();
    E.plot.below[0].axis_label = p.axes[0];
    E.plot.left[0].axis_label = p.axes[1];
    marks();
    if (state.density) density();
  }
  function resetView() {
    const p = state.projection, pad = (lo, hi) => [lo - 0.04 * (hi - lo), hi + 0.04 * (hi - lo)];
    for (const [range, [lo, hi]] of [[E.plot.x_range, pad(...p.x_range)], [E.plot.y_range, pad(...p.y_range)]]) {
      range.setv({start: lo, end: hi, reset_start: lo, reset_end: hi});
    }
  }

  function showColouring(name) {
    const f = E.meta.fields.find((g) => g.name === name);
    state.colour = f;
    const codes = E.codes[name], cc = new Float32Array(codes.length);
    for (let i = 0; i < codes.length; i++) cc[i] = codes[i];
    E.mapper.setv({palette: f.colours.length ? f.colours : ["#888888"], high: Math.max(f.colours.length - 1, 0) + 0.5});
    E.source.data.cc = cc;
    applyView();
    E.source.change.emit();
    legend();
  }

  // ---------------------------------------------------------------- legend and filters
  function keepFocus(update) {
    const a = document.activeElement, box = a && a.closest && a.closest("#twistfm-legend, #twistfm-filters");
    const key = box && a.dataset.code !== undefined ? [box.id, a.dataset.field, a.dataset.code] : null;
    update();
    if (key) {
      const again = document.querySelector(`#${key[0]} .chip[data-field="${key[1]}"][data-code="${key[2]}"]`);
      if (again) again.focus();
    }
  }
  function toggle(field, code) {
    const set = (state.hidden[field] ||= new Set());
    set.has(code) ? set.delete(code) : set.add(code);
    keepFocus(() => { refresh(); legend(); filtersPanel(); panel(); });
  }
  function chip(f, code, n) {
    const hidden = !!state.hidden[f.name]?.has(code);
    const colour = code >= 0 ? f.colours[code] : E.meta.none_colour;
    const label = code >= 0 ? f.categories[code] : f.none;
    return el("button", {class: `chip${hidden ? " off" : ""}`, type: "button", "aria-pressed": String(!hidden),
                         title: hidden ? "show these images again" : "hide these images",
                         "data-field": f.name, "data-code": String(code), onclick: () => toggle(f.name, code)},
              el("span", {class: "swatch", style: `background:${colour}`}), `${label} (${fmt(n)})`);
  }
  function chips(f) {
    const c = E.chipCounts[f.name], all = E.allCounts[f.name];
    return f.order.filter((k) => all.has(k)).map((k) => chip(f, k, c.get(k) || 0));
  }
  function legend() {
    const f = state.colour;
    document.getElementById("twistfm-legend").replaceChildren(el("b", {}, `${f.title} (${fmt(E.shown)} images shown)`),
                                                               ...chips(f));
  }
  function filtersPanel() {
    const box = document.getElementById("twistfm-filters");
    const open = new Set([...box.querySelectorAll("details[open]")].map((d) => d.dataset.field));
    box.replaceChildren(...E.meta.fields.filter((f) => f.filter).map((f) => {
      const hidden = state.hidden[f.name]?.size || 0;
      const section = el("details", {"data-field": f.name},
                         el("summary", {}, `${f.title}${hidden ? ` (${hidden} hidden)` : ""}`), ...chips(f));
      section.open = open.has(f.name);
      return section;
    }));
  }

  // ---------------------------------------------------------------- hover
  let hoverKey = null, hoverDistance = Infinity;
  function nearestTo(hits, x, y) {
    const px = E.source.data.x, py = E.source.data.y;
    const sx = 1 / ((E.plot.x_range.end - E.plot.x_range.start) || 1), sy = 1 / ((E.plot.y_range.end - E.plot.y_range.start) || 1);
    let best = -1, d = Infinity;
    for (const i of hits) {
      const dd = ((px[i] - x) * sx) ** 2 + ((py[i] - y) * sy) ** 2;
      if (dd < d) { d = dd; best = i; }
    }
    return [best, d];
  }
  // Called once per renderer under the pointer: keep the nearest point of all of them.
  E.hover = function (cb_data) {
    const hits = [...cb_data.index.indices].filter((i) => E.vis[i]), g = cb_data.geometry;
    if (!hits.length) return;
    const [best, d] = nearestTo(hits, g.x, g.y), key = `${g.sx},${g.sy}`;
    if (key === hoverKey && d >= hoverDistance) return;
    hoverKey = key; hoverDistance = d;
    if (best === E.hovered) return;
    E.hovered = best;
    const canvas = document.getElementById("twistfm-hover-image");
    canvas.dataset.index = String(best);
    draw(canvas, best, 0, 0, canvas.width).then(() => {
      if (canvas.dataset.index === String(best)) canvas.dataset.drawn = String(best);
    });
    document.getElementById("twistfm-hover-text").textContent = describe(best);
  };

  // ---------------------------------------------------------------- tap: a point and its nearest neighbours
  // Called once per renderer hit: keep the nearest point of all of them.
  let tapKey = null, tapDistance = Infinity;
  E.tap = function (cb_data) {
    const hits = [...(cb_data.source?.inspected?.indices || [])].filter((i) => E.vis[i]);
    if (!hits.length) return;
    const g = cb_data.geometries, [best, d] = nearestTo(hits, g.x, g.y), key = `${g.sx},${g.sy}`;
    if (key === tapKey && d >= tapDistance) return;
    tapKey = key; tapDistance = d;
    showNeighbours(best);
  };
  function neighboursOf(i) {
    const k = E.meta.neighbours_k, out = [];
    for (let j = 0; j < k; j++) out.push([E.neighbours[i * k + j], E.distances[i * k + j] * E.meta.distance_scale]);
    return out;
  }
  function showNeighbours(i) {
    state.tapped = i;
    if (E.source.selected.indices.length) E.source.selected.indices = [];  // calls panel() through selected()
    else panel();
    marks();
  }
  // Rings on the map: the tapped point (black, large) and its neighbours (red, numbered by rank).
  function marks() {
    const i = state.tapped, px = E.source.data.x, py = E.source.data.y;
    const data = {x: [], y: [], size: [], colour: [], text: []};
    if (i >= 0) {
      data.x.push(px[i]); data.y.push(py[i]); data.size.push(20); data.colour.push("#000000"); data.text.push("");
      neighboursOf(i).forEach(([j], r) => {
        data.x.push(px[j]); data.y.push(py[j]); data.size.push(13); data.colour.push("#D01040"); data.text.push(String(r + 1));
      });
    }
    E.marks.data = data;
  }

  // ---------------------------------------------------------------- selection, search, panels
  E.selected = function () {
    if (E.source.selected.indices.length && state.tapped >= 0) { state.tapped = -1; marks(); }
    const now = E.source.selected.indices, q = state.query;
    if (q && !(q.matches.length === now.length && (!now.length || (q.matches[0] === now[0] && q.matches.at(-1) === now.at(-1))))) {
      state.query = null;
    }
    panel();
  };
  function shownSelection() { return [...E.source.selected.indices].filter((i) => E.vis[i]).sort((a, b) => a - b); }

  function panel() {
    const box = document.getElementById("twistfm-selection");
    if (state.tapped >= 0) { neighboursPanel(box, state.tapped); return; }
    const raw = E.source.selected.indices.length, indices = shownSelection();
    const actions = el("div", {class: "actions"});
    if (state.only) actions.append(el("button", {type: "button", id: "twistfm-show-all", onclick: showAll}, "Show every image again"));
    if (!raw) {
      const hint = state.query ? `Nothing shown matches “${state.query.text}”.` :
        "Drag a box (or a lasso, after choosing it above) to see the images selected and their counts; click a point " +
        "to see its nearest images; type in Find to look for an image, a label, a class or a group.";
      box.replaceChildren(el("p", {class: "muted"}, hint), actions);
      return;
    }
    const hidden = raw - indices.length;
    const what = state.query ? ` match “${state.query.text}”${state.query.field ? ` (${state.query.field})` : ""}` : " selected";
    const head = el("p", {id: "twistfm-selection-count"}, `${fmt(indices.length)} images${what}` +
                    (hidden ? `; ${fmt(hidden)} more are hidden by the filters` : "") + ".");
    actions.prepend(
      el("button", {type: "button", id: "twistfm-only", onclick: () => showOnly(indices)}, "Show only these"),
      el("button", {type: "button", id: "twistfm-csv", onclick: () => download(indices)}, "Download as CSV"),
      el("button", {type: "button", onclick: () => { E.source.selected.indices = []; }}, "Clear"));
    const shown = indices.slice(0, E.meta.grid), cols = 8, size = 38;
    const canvas = el("canvas", {width: cols * size, height: Math.ceil(shown.length / cols) * size, id: "twistfm-grid",
                                 role: "img", tabindex: "0",
                                 "aria-label": `the first ${shown.length} images of the selection; click one to enlarge it`});
    shown.forEach((i, k) => draw(canvas, i, (k % cols) * size, Math.floor(k / cols) * size, size));
    canvas.addEventListener("click", (ev) => {
      const r = canvas.getBoundingClientRect(), scale = canvas.width / r.width;
      const k = Math.floor((ev.clientY - r.top) * scale / size) * cols + Math.floor((ev.clientX - r.left) * scale / size);
      if (k >= 0 && k < shown.length) enlarge(shown[k]);
    });
    const tables = E.meta.fields.filter((f) => f.count).map((f) => {
      const c = new Map(), codes = E.codes[f.name];
      for (const i of indices) c.set(codes[i], (c.get(codes[i]) || 0) + 1);
      return el("table", {class: "counts", "data-field": f.name}, el("tr", {}, el("th", {}, f.title), el("th", {}, "images")),
                ...f.order.filter((k) => c.has(k)).map((k) => el("tr", {}, el("td", {}, k >= 0 ? f.categories[k] : f.none),
                                                                    el("td", {}, fmt(c.get(k))))));
    });
    box.replaceChildren(head, actions, el("p", {class: "muted small"}, shown.length < indices.length ?
                                          `The first ${shown.length} (click one to enlarge it):` : "Click an image to enlarge it:"),
                        canvas, el("div", {class: "count-tables"}, ...tables));
    reveal(box);
  }

  function neighboursPanel(box, i) {
    const list = neighboursOf(i), size = 56, cols = 5;
    const all = [i, ...list.map(([j]) => j)];
    const canvas = el("canvas", {width: cols * (size + 4), height: Math.ceil(all.length / cols) * (size + 4),
                                 id: "twistfm-neighbours", role: "img", tabindex: "0",
                                 "aria-label": "the image clicked, then its nearest images; click one to enlarge it"});
    all.forEach((j, k) => draw(canvas, j, (k % cols) * (size + 4), Math.floor(k / cols) * (size + 4), size));
    canvas.addEventListener("click", (ev) => {
      const r = canvas.getBoundingClientRect(), scale = canvas.width / r.width;
      const k = Math.floor((ev.clientY - r.top) * scale / (size + 4)) * cols + Math.floor((ev.clientX - r.left) * scale / (size + 4));
      if (k >= 0 && k < all.length) enlarge(all[k]);
    });
    const ol = el("ol", {id: "twistfm-neighbour-list"});
    for (const [j, d] of list) {
      ol.append(el("li", {"data-index": String(j)}, `${describe(j)} — distance ${d.toFixed(3)}` +
                   (E.vis[j] ? "" : " (hidden by the filters)")));
    }
    box.replaceChildren(
      el("p", {id: "twistfm-selection-count"}, `${describe(i)}: the image clicked (ringed in black) and its ` +
         `${list.length} nearest images in the encoding of ${E.meta.layer} (ringed in red, numbered by rank on the map), ` +
         "with their distances in that encoding:"),
      el("div", {class: "actions"}, el("button", {type: "button", onclick: () => { state.tapped = -1; marks(); panel(); }}, "Clear"),
         ...(state.only ? [el("button", {type: "button", id: "twistfm-show-all", onclick: showAll}, "Show every image again")] : [])),
      canvas, ol);
    reveal(box);
  }
  // Beside the plot the panels scroll on their own: bring the answer to the top of them, never moving the page.
  function reveal(box) {
    const side = document.getElementById("twistfm-side");
    if (side.scrollHeight > side.clientHeight + 1) {
      side.scrollTop += box.getBoundingClientRect().top - side.getBoundingClientRect().top;
    }
  }

  function enlarge(i) {
    const dialog = document.getElementById("twistfm-enlarged"), canvas = dialog.querySelector("canvas");
    canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
    dialog.querySelector("p").textContent = describe(i);
    dialog.dataset.index = String(i);
    delete dialog.dataset.drawn;
    draw(canvas, i, 0, 0, canvas.width).then(() => { dialog.dataset.drawn = String(i); });
    if (!dialog.open) dialog.showModal();
  }

  function showOnly(indices) {
    const only = new Uint8Array(E.meta.n);
    for (const i of indices) only[i] = 1;
    state.only = only;
    refresh(); legend(); filtersPanel(); panel();
  }
  function showAll() {
    state.only = null;
    refresh(); legend(); filtersPanel(); panel();
  }

  function csvCell(v) { const s = String(v); return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s; }
  E.csv = function (indices) {
    const fields = E.meta.fields;
    const rows = [["id", "split", "index", ...fields.map((f) => f.name)].join(",")];
    for (const i of indices) {
      rows.push([i, E.meta.split_names[E.split[i]], E.index[i], ...fields.map((f) => csvCell(value(f, i)))].join(","));
    }
    return rows.join("\n") + "\n";
  };
  function download(indices) {
    const url = URL.createObjectURL(new Blob([E.csv(indices)], {type: "text/csv"}));
    const a = el("a", {href: url, download: "twistfm-selection.csv"});
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  // A search: an image by its number ("test 12", "train 5", "12"), else the categories of the
  // label, class, group and other fields: an exact name first, then a name starting with the
  // words typed, then a name holding them as whole words.
  const norm = (t) => t.toLowerCase().replace(/[·:,#()%+]/g, " ").replace(/\s+/g, " ").trim();
  E.search = function (text) {
    const t = norm(text), m = E.meta, n = m.n;
    if (!t) return 0;
    let matches = [], field = null;
    const number = t.match(/^(?:(train|test) )?(?:image )?(\d+)$/);
    if (number) {
      const split = number[1] ? m.split_names.indexOf(number[1]) : -1, index = Number(number[2]);
      for (let i = 0; i < n; i++) if (E.index[i] === index && (split < 0 || E.split[i] === split)) matches.push(i);
    } else {
      const tests = [(c) => c === t, (c) => c.startsWith(t + " "), (c) => ` ${c} `.includes(` ${t} `)];
      outer: for (const test of tests) {
        for (const f of m.fields) {
          const codes = f.categories.map((c, k) => [norm(c), k]).filter(([c]) => test(c)).map(([, k]) => k);
          if (!codes.length) continue;
          const wanted = new Set(codes), col = E.codes[f.name];
          for (let i = 0; i < n; i++) if (wanted.has(col[i])) matches.push(i);
          field = f.title;
          break outer;
        }
      }
    }
    state.query = {text: text.trim(), field, matches};
    const visible = matches.filter((i) => E.vis[i]);
    if (visible.length === 1) { showNeighbours(visible[0]); return 1; }
    state.tapped = -1;
    marks();
    if (E.source.selected.indices.length === 0 && matches.length === 0) panel();
    else E.source.selected.indices = matches;
    return visible.length;
  };

  // ---------------------------------------------------------------- density
  const BINS = 160;
  function density() {
    const p = state.projection, x = E.source.data.x, y = E.source.data.y, n = E.meta.n;
    const x0 = E.plot.x_range.reset_start, x1 = E.plot.x_range.reset_end;
    const y0 = E.plot.y_range.reset_start, y1 = E.plot.y_range.reset_end;
    const counts = new Float32Array(BINS * BINS);
    let total = 0;
    for (let i = 0; i < n; i++) {
      if (!E.vis[i]) continue;
      const bx = Math.min(BINS - 1, Math.floor((x[i] - x0) / (x1 - x0) * BINS));
      const by = Math.min(BINS - 1, Math.floor((y[i] - y0) / (y1 - y0) * BINS));
      if (bx < 0 || by < 0) continue;
      counts[by * BINS + bx]++;
      total++;
    }
    let top = 0;
    for (const c of counts) if (c > top) top = c;
    const scale = Math.log1p(top) || 1, rows = [];
    for (let r = 0; r < BINS; r++) {
      const row = new Array(BINS);
      for (let c = 0; c < BINS; c++) row[c] = Math.log1p(counts[r * BINS + c]) / scale;
      rows.push(row);
    }
    E.densityCounts = counts;
    E.densityTotal = total;
    E.densitySource.data = {image: [rows], x: [x0], y: [y0], dw: [x1 - x0], dh: [y1 - y0]};
    void p;
  }
  function setDensity(on) {
    state.density = on;
    if (on) density();
    E.densityRenderer.visible = on;
    E.front.glyph.fill_alpha = on ? 0.18 : 0.75;
    E.back.glyph.fill_alpha = on ? 0.1 : 0.45;
    document.getElementById("twistfm-explorer").dataset.density = String(on);
  }

  // ---------------------------------------------------------------- tools
  function tools() {
    const buttons = [...document.querySelectorAll(".explorer-tools button[data-tool]")];
    const sync = () => { for (const b of buttons) b.setAttribute("aria-pressed", String(!!E.doc.get_model_by_name(b.dataset.tool).active)); };
    for (const b of buttons) {
      b.addEventListener("click", () => {
        const tool = E.doc.get_model_by_name(b.dataset.tool);
        tool.active = b.dataset.tool === "explorer-wheel" ? !tool.active : true;
        sync();
      });
    }
    document.getElementById("twistfm-reset").addEventListener("click", resetView);
    sync();
  }

  // ---------------------------------------------------------------- start
  E.init = async function () {
    if (E.started) return E.started;
    E.started = (async () => {
      const m = (E.meta = JSON.parse(document.getElementById("twistfm-explorer-data").textContent));
      E.split = array(m.split); E.index = array(m.index); E.neighbours = array(m.neighbours);
      E.distances = array(m.distances);
      E.codes = {}; for (const f of m.fields) E.codes[f.name] = array(f.codes);
      E.proj = {}; for (const p of m.projections) E.proj[p.name] = {x: array(p.x), y: array(p.y)};
      E.allCounts = {};
      for (const f of m.fields) {
        const c = new Map(), codes = E.codes[f.name];
        for (let i = 0; i < m.n; i++) c.set(codes[i], (c.get(codes[i]) || 0) + 1);
        E.allCounts[f.name] = c;
      }
      const item = JSON.parse(document.getElementById("twistfm-explorer-plot").textContent);
      const views = await Bokeh.embed.embed_item(item, "twistfm-plot");
      const doc = (E.doc = (views && views[0] && views[0].model && views[0].model.document) ||
                   Bokeh.documents[Bokeh.documents.length - 1]);
      const get = (name) => doc.get_model_by_name(name);
      E.plot = get("explorer-plot"); E.source = get("explorer-points"); E.mapper = get("explorer-colours");
      E.frontFilter = get("explorer-front-filter"); E.backFilter = get("explorer-back-filter");
      E.front = get("explorer-front"); E.back = get("explorer-back"); E.marks = get("explorer-marks");
      E.densitySource = get("explorer-density-data"); E.densityRenderer = get("explorer-density");
      E.source.data = {x: new Float32Array(m.n), y: new Float32Array(m.n), cc: new Float32Array(m.n)};
      const pick = (id, options, show) => {
        const select = document.getElementById(id);
        select.replaceChildren(...options.map((o) => el("option", {value: o.name}, o.title)));
        select.addEventListener("change", () => show(select.value));
      };
      pick("twistfm-projection", m.projections, showProjection);
      pick("twistfm-colour", m.fields, showColouring);
      state.colour = m.fields[0];
      refresh();
      showProjection(m.projections[0].name);
      showColouring(m.fields[0].name);
      filtersPanel();
      panel();
      tools();
      document.getElementById("twistfm-search-form").addEventListener("submit", (ev) => {
        ev.preventDefault();
        E.search(document.getElementById("twistfm-search").value);
      });
      const box = document.getElementById("twistfm-density");
      box.checked = false;
      box.addEventListener("change", () => setDensity(box.checked));
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      E.views = views;
      E.plotView = Bokeh.index.find_one(E.plot);
      E.ready = performance.now();
      document.getElementById("twistfm-explorer").dataset.ready = "true";
    })();
    return E.started;
  };

  function whenSeen() {
    const root = document.getElementById("twistfm-explorer");
    if (!root) return;
    const start = () => { E.init(); };
    if (!("IntersectionObserver" in window)) { start(); return; }
    const seen = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) { seen.disconnect(); start(); }
    }, {rootMargin: "400px"});
    seen.observe(root);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", whenSeen); else whenSeen();
})();
