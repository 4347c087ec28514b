// The explorer of a twistfm report: one Bokeh scatter of every image, and the panels around it.
// Bokeh draws the points and owns the tools (pan, zoom, box and lasso selection, tap, hover);
// this script holds the data (projections, fields, neighbours, image sprites), switches the
// projection and the colouring, applies the legend and the filters, and fills the panels.
(function () {
  "use strict";
  const E = (window.twistfmExplorer = {ready: null});

  function bytes(b64) {
    const s = atob(b64), out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out.buffer;
  }
  const typed = {int8: Int8Array, int16: Int16Array, int32: Int32Array, float32: Float32Array};
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
  function describe(i) {
    const m = E.meta, parts = [`${m.split_names[E.split[i]]} image ${E.index[i]}`];
    for (const f of m.fields) {
      if (!f.hover) continue;
      const value = f.categories[E.codes[f.name][i]] ?? f.none;
      parts.push(value.startsWith(f.title) ? value : `${f.title}: ${value}`);
    }
    return parts.join(" · ");
  }

  // ---------------------------------------------------------------- state: projection, colouring, hidden groups
  const state = {projection: null, colour: null, hidden: {}};

  function showProjection(name) {
    const p = E.meta.projections.find((q) => q.name === name);
    state.projection = p;
    const data = E.source.data;
    data.x = E.proj[name].x;
    data.y = E.proj[name].y;
    E.source.change.emit();
    const pad = (lo, hi) => [lo - 0.04 * (hi - lo), hi + 0.04 * (hi - lo)];
    for (const [range, [lo, hi]] of [[E.plot.x_range, pad(...p.x_range)], [E.plot.y_range, pad(...p.y_range)]]) {
      range.setv({start: lo, end: hi, reset_start: lo, reset_end: hi});  // the reset tool returns here
    }
    E.plot.below[0].axis_label = p.axes[0];
    E.plot.left[0].axis_label = p.axes[1];
  }

  function showColouring(name) {
    const f = E.meta.fields.find((g) => g.name === name);
    state.colour = f;
    const codes = E.codes[name], cc = new Float32Array(codes.length);
    for (let i = 0; i < codes.length; i++) cc[i] = codes[i];
    E.mapper.palette = f.colours.length ? f.colours : ["#888888"];
    E.mapper.high = Math.max(f.colours.length - 1, 0) + 0.5;
    E.source.data.cc = cc;
    E.source.change.emit();
    legend();
  }

  function visible() {
    const n = E.meta.n, mask = new Array(n);
    const active = Object.entries(state.hidden).filter(([, set]) => set.size);
    for (let i = 0; i < n; i++) {
      let ok = true;
      for (const [field, set] of active) if (set.has(E.codes[field][i])) { ok = false; break; }
      mask[i] = ok;
    }
    return mask;
  }
  function applyFilters() {
    E.filter.booleans = visible();
    E.filter.change.emit();
    legend();
    filtersPanel();
  }
  function toggle(field, code) {
    const set = (state.hidden[field] ||= new Set());
    set.has(code) ? set.delete(code) : set.add(code);
    applyFilters();
  }

  function counts(field, indices) {
    const c = new Map(), codes = E.codes[field];
    for (const i of indices) c.set(codes[i], (c.get(codes[i]) || 0) + 1);
    return c;
  }
  function chip(f, code, n, onclick) {
    const hidden = state.hidden[f.name]?.has(code);
    const colour = code >= 0 ? f.colours[code] : E.meta.none_colour;
    return el("button", {class: `chip${hidden ? " off" : ""}`, onclick, title: hidden ? "show this group" : "hide this group",
                         "data-field": f.name, "data-code": String(code)},
              el("span", {class: "swatch", style: `background:${colour}`}), `${code >= 0 ? f.categories[code] : f.none} (${n})`);
  }
  function legend() {
    const f = state.colour, box = document.getElementById("twistfm-legend");
    const all = counts(f.name, E.all);
    box.replaceChildren(el("b", {}, `${f.title}`), ...f.order.filter((c) => all.has(c)).map(
      (c) => chip(f, c, all.get(c), () => toggle(f.name, c))));
  }
  function filtersPanel() {
    const box = document.getElementById("twistfm-filters");
    const open = new Set([...box.querySelectorAll("details[open]")].map((d) => d.dataset.field));
    box.replaceChildren(...E.meta.fields.filter((f) => f.filter).map((f) => {
      const all = counts(f.name, E.all), hidden = state.hidden[f.name]?.size || 0;
      const section = el("details", {"data-field": f.name}, el("summary", {}, `${f.title}${hidden ? ` (${hidden} hidden)` : ""}`),
                         ...f.order.filter((c) => all.has(c)).map((c) => chip(f, c, all.get(c), () => toggle(f.name, c))));
      section.open = open.has(f.name);
      return section;
    }));
  }

  // ---------------------------------------------------------------- hover, tap, selection
  function nearest(hits, geometry) {
    const g = Array.isArray(geometry) ? geometry[0] : geometry;
    const x = E.source.data.x, y = E.source.data.y;
    let best = hits[0], d = Infinity;
    for (const i of hits) {
      const dd = (x[i] - g.x) ** 2 + (y[i] - g.y) ** 2;
      if (dd < d) { d = dd; best = i; }
    }
    return best;
  }

  E.hover = function (cb_data) {
    const hits = cb_data.index.indices;
    if (!hits.length) return;
    const best = nearest(hits, cb_data.geometry);
    if (best === E.hovered) return;
    E.hovered = best;
    const canvas = document.getElementById("twistfm-hover-image");
    canvas.dataset.index = String(best);
    sheet(Math.floor(best / E.meta.sprites.per_sheet)).then(() => {
      if (canvas.dataset.index !== String(best)) return;  // the pointer has moved on to another point
      draw(canvas, best, 0, 0, canvas.width).then(() => { canvas.dataset.drawn = String(best); });
    });
    document.getElementById("twistfm-hover-text").textContent = describe(best);
  };

  // A tap selects every point under the marker; keep the one nearest the click.
  E.tap = function (cb_data) {
    const hits = E.source.selected.indices;
    if (hits.length > 1) E.source.selected.indices = [nearest(hits, cb_data.geometries || cb_data.geometry)];
  };

  E.selected = function (indices) {
    const panel = document.getElementById("twistfm-selection");
    if (!indices.length) { panel.replaceChildren(el("p", {class: "muted"}, E.meta.selection_hint)); return; }
    if (indices.length === 1) { neighbours(indices[0], panel); return; }
    const shown = indices.slice(0, E.meta.grid), cols = 12, size = 42;
    const canvas = el("canvas", {width: cols * size, height: Math.ceil(shown.length / cols) * size, id: "twistfm-grid"});
    shown.forEach((i, k) => draw(canvas, i, (k % cols) * size, Math.floor(k / cols) * size, size));
    const tables = E.meta.fields.filter((f) => f.count).map((f) => {
      const c = counts(f.name, indices);
      return el("table", {class: "counts"}, el("tr", {}, el("th", {}, f.title), el("th", {}, "images")),
                ...f.order.filter((k) => c.has(k)).map((k) => el("tr", {}, el("td", {}, k >= 0 ? f.categories[k] : f.none),
                                                                    el("td", {}, String(c.get(k))))));
    });
    panel.replaceChildren(el("p", {}, `${indices.length.toLocaleString()} images selected` +
                                      (indices.length > shown.length ? ` (the first ${shown.length} shown)` : "")),
                          canvas, el("div", {class: "count-tables"}, ...tables));
  };

  function neighbours(i, panel) {
    const k = E.meta.neighbours_k, size = 56;
    const canvas = el("canvas", {width: (k + 1) * (size + 6), height: size, id: "twistfm-neighbours"});
    draw(canvas, i, 0, 0, size);
    for (let j = 0; j < k; j++) draw(canvas, E.neighbours[i * k + j], (j + 1) * (size + 6), 0, size);
    const list = el("ol", {start: "0"}, el("li", {}, `${describe(i)} (the image clicked)`));
    for (let j = 0; j < k; j++) list.append(el("li", {}, describe(E.neighbours[i * k + j])));
    panel.replaceChildren(el("p", {}, `The ${k} nearest images in the encoding to the one clicked (first):`),
                          canvas, list);
  }

  // ---------------------------------------------------------------- start
  E.init = async function () {
    if (E.started) return E.started;
    E.started = (async () => {
      const m = (E.meta = JSON.parse(document.getElementById("twistfm-explorer-data").textContent));
      E.split = array(m.split); E.index = array(m.index); E.neighbours = array(m.neighbours);
      E.codes = {}; for (const f of m.fields) E.codes[f.name] = array(f.codes);
      E.proj = {}; for (const p of m.projections) E.proj[p.name] = {x: array(p.x), y: array(p.y)};
      E.all = Array.from({length: m.n}, (_, i) => i);
      const item = JSON.parse(document.getElementById("twistfm-explorer-plot").textContent);
      const views = await Bokeh.embed.embed_item(item, "twistfm-plot");
      const doc = (views && views[0] && views[0].model && views[0].model.document) || Bokeh.documents[Bokeh.documents.length - 1];
      E.plot = doc.get_model_by_name("explorer-plot");
      E.source = doc.get_model_by_name("explorer-points");
      E.filter = doc.get_model_by_name("explorer-filter");
      E.mapper = doc.get_model_by_name("explorer-colours");
      E.source.data = {x: new Float32Array(m.n), y: new Float32Array(m.n), cc: new Float32Array(m.n)};
      const pick = (id, options, show) => {
        const select = document.getElementById(id);
        select.replaceChildren(...options.map((o) => el("option", {value: o.name}, o.title)));
        select.addEventListener("change", () => show(select.value));
      };
      pick("twistfm-projection", m.projections, showProjection);
      pick("twistfm-colour", m.fields, showColouring);
      showProjection(m.projections[0].name);
      showColouring(m.fields[0].name);
      filtersPanel();
      E.selected([]);
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      E.views = views;
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
