/* Chipao map client: styles choropleths in the browser.
 *
 * The page (built by folium, service/render/builders.py) calls chipaoMap(map, cfg) once.
 * Geometry (cacheable, fetched once per level) and values (one small JSON per measure) are
 * fetched separately and joined on the feature id (area code). Styling is one function over
 * shared style objects and all paths are drawn on one canvas, which keeps 85,000 H3 cells
 * interactive. Nothing is loaded from another host.
 */
(function () {
  "use strict";

  // the site bar's menu button (a phone): opens and closes the menu under it; Escape closes it
  function wireSiteMenu() {
    var bar = document.getElementById("site-nav");
    var button = bar && bar.querySelector(".nav-toggle");
    if (!button) { return; }
    function setOpen(open) {
      bar.classList.toggle("nav-open", open);
      button.setAttribute("aria-expanded", open ? "true" : "false");
    }
    button.addEventListener("click", function () { setOpen(!bar.classList.contains("nav-open")); });
    document.addEventListener("keydown", function (e) { if (e.key === "Escape") { setOpen(false); } });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", wireSiteMenu); } else { wireSiteMenu(); }

  var NUMBER_FORMATS = {};
  function numberFormat(decimals) {
    if (!NUMBER_FORMATS[decimals]) {
      NUMBER_FORMATS[decimals] = new Intl.NumberFormat("en-US", {
        minimumFractionDigits: decimals, maximumFractionDigits: decimals
      });
    }
    return NUMBER_FORMATS[decimals];
  }

  function fmt(v, format, signed) {
    if (v === null || v === undefined || isNaN(v)) { return "ไม่มีข้อมูล · no data"; }
    var sign = signed && v > 0 ? "+" : "";
    if (format === "percent") { return sign + numberFormat(1).format(v * 100) + "%"; }
    if (format === "ratio") { return sign + numberFormat(3).format(v); }
    return sign + numberFormat(0).format(v);
  }

  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;"}[c];
    });
  }

  function hatchPattern() {
    var c = document.createElement("canvas");
    c.width = c.height = 8;
    var x = c.getContext("2d");
    x.fillStyle = "#eeeeee";
    x.fillRect(0, 0, 8, 8);
    x.strokeStyle = "#8a8a8a";
    x.lineWidth = 1.5;
    x.beginPath();
    x.moveTo(0, 8); x.lineTo(8, 0);
    x.moveTo(-2, 2); x.lineTo(2, -2);
    x.moveTo(6, 10); x.lineTo(10, 6);
    x.stroke();
    return x.createPattern(c, "repeat");
  }

  function coverStripes(ctx) {
    var c = document.createElement("canvas");
    c.width = c.height = 6;
    var x = c.getContext("2d");
    x.strokeStyle = "rgba(255,255,255,0.75)";
    x.lineWidth = 1.6;
    x.beginPath();
    x.moveTo(0, 6); x.lineTo(6, 0);
    x.moveTo(-1, 1); x.lineTo(1, -1);
    x.moveTo(5, 7); x.lineTo(7, 5);
    x.stroke();
    return ctx.createPattern(c, "repeat");
  }

  function el(tag, className, parent) {
    return L.DomUtil.create(tag, className || "", parent);
  }


  /* Canvas layer for many small polygons (H3 cells): one canvas, one path per colour class,
   * no Leaflet object per cell. Cells are projected once to Web Mercator at zoom 0 and only
   * scaled and shifted on each redraw; hover and click find the cell with a grid index. */
  var R2D = 180 / Math.PI;
  function mercX(lng) { return (lng + 180) / 360 * 256; }
  function mercY(lat) {
    var s = Math.sin(Math.max(Math.min(lat, 85.05), -85.05) / R2D);
    return (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)) * 256;
  }

  var CellLayer = L.Layer.extend({
    initialize: function (geo, options) {
      L.setOptions(this, options);
      var n = geo.codes.length, scale = geo.scale, xy = geo.xy, nv = geo.nverts;
      this.codes = geo.codes;
      // the first cells are coarser parents drawn beneath, in groups (coarsest first)
      this.coverGroups = geo.cover_groups || [];
      this.ncover = this.coverGroups.reduce(function (a, b) { return a + b; }, 0);
      this.start = new Uint32Array(n + 1);
      var total = 0, i, k;
      for (i = 0; i < n; i++) { this.start[i] = total; total += nv[i]; }
      this.start[n] = total;
      this.px = new Float64Array(total);
      this.py = new Float64Array(total);
      var bx0 = Infinity, by0 = Infinity, bx1 = -Infinity, by1 = -Infinity;
      this.box = new Float64Array(4 * n);
      var p = 0, v = 0;
      for (i = 0; i < n; i++) {
        var cx = xy[p++], cy = xy[p++];
        var minx = Infinity, miny = Infinity, maxx = -Infinity, maxy = -Infinity;
        for (k = 0; k < nv[i]; k++) {
          var x = mercX((cx + xy[p++]) / scale), y = mercY((cy + xy[p++]) / scale);
          this.px[v] = x; this.py[v] = y; v++;
          if (x < minx) { minx = x; } if (x > maxx) { maxx = x; }
          if (y < miny) { miny = y; } if (y > maxy) { maxy = y; }
        }
        this.box[4 * i] = minx; this.box[4 * i + 1] = miny;
        this.box[4 * i + 2] = maxx; this.box[4 * i + 3] = maxy;
        if (minx < bx0) { bx0 = minx; } if (miny < by0) { by0 = miny; }
        if (maxx > bx1) { bx1 = maxx; } if (maxy > by1) { by1 = maxy; }
      }
      // grid index for hit testing
      this.g = {x0: bx0, y0: by0, n: 256, w: (bx1 - bx0) / 256 || 1, h: (by1 - by0) / 256 || 1};
      var buckets = {};
      for (i = 0; i < n; i++) {
        var gx0 = Math.floor((this.box[4 * i] - bx0) / this.g.w), gx1 = Math.floor((this.box[4 * i + 2] - bx0) / this.g.w);
        var gy0 = Math.floor((this.box[4 * i + 1] - by0) / this.g.h), gy1 = Math.floor((this.box[4 * i + 3] - by0) / this.g.h);
        for (var gx = gx0; gx <= gx1; gx++) {
          for (var gy = gy0; gy <= gy1; gy++) {
            var key = gy * 1000 + gx;
            (buckets[key] || (buckets[key] = [])).push(i);
          }
        }
      }
      this.buckets = buckets;
      this.classOf = new Uint8Array(n);
      this.fills = [];
      this.highlight = -1;
    },
    // classes: function(code) -> style object {fillColor, fillOpacity}
    restyle: function (styleOf) {
      var fills = [], index = new Map();
      for (var i = 0; i < this.codes.length; i++) {
        var st = styleOf({id: this.codes[i]});
        var c = index.get(st);
        if (c === undefined) { c = fills.length; index.set(st, c); fills.push(st); }
        this.classOf[i] = c;
      }
      this.fills = fills;
      this._redraw();
    },
    onAdd: function (map) {
      this._map = map;
      this._canvas = L.DomUtil.create("canvas", "chipao-cells leaflet-zoom-hide");
      this.getPane().appendChild(this._canvas);
      map.on("moveend zoomend resize viewreset", this._redraw, this);
      map.on("mousemove", this._hover, this);
      map.on("click", this._click, this);
      map.on("mouseout", this._out, this);
      this._redraw();
    },
    onRemove: function (map) {
      L.DomUtil.remove(this._canvas);
      map.off("moveend zoomend resize viewreset", this._redraw, this);
      map.off("mousemove", this._hover, this);
      map.off("click", this._click, this);
      map.off("mouseout", this._out, this);
      if (this._tip) { map.closeTooltip(this._tip); }
    },
    _redraw: function () {
      var map = this._map;
      if (!map || !this.fills.length) { return; }
      var size = map.getSize(), ratio = window.devicePixelRatio || 1;
      var canvas = this._canvas;
      canvas.width = size.x * ratio; canvas.height = size.y * ratio;
      canvas.style.width = size.x + "px"; canvas.style.height = size.y + "px";
      var topLeft = map.containerPointToLayerPoint([0, 0]);
      L.DomUtil.setPosition(canvas, topLeft);
      var ctx = canvas.getContext("2d");
      ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
      var zs = Math.pow(2, map.getZoom());
      var origin = map.getPixelBounds().min;
      var ox = origin.x, oy = origin.y, w = size.x, h = size.y;
      var start = this.start, px = this.px, py = this.py, box = this.box, cls = this.classOf;
      var stroke = map.getZoom() >= 9;
      // covers (coarser hexagons, or the amphoes beneath r6) are hatched with white stripes,
      // as the legend's swatch: they show a coarser area's figure, not this cell's
      if (!this._stripes) { this._stripes = coverStripes(ctx); }
      var stripes = this._stripes;
      // Chromium's path building grows quadratically with the number of sub-paths, so
      // cells are filled in batches of 256 (17,000 hexagons: 3.6 s in one path, 50 ms batched)
      var batch = 256;
      // coarser "cover" cells first (beneath), drawn lighter with a dashed edge; then the cells
      var passes = [], from0 = 0;
      this.coverGroups.forEach(function (n) { passes.push([from0, from0 + n, true]); from0 += n; });
      passes.push([from0, this.codes.length, false]);
      for (var pass = 0; pass < passes.length; pass++) {
      var from = passes[pass][0], to = passes[pass][1], covers = passes[pass][2];
      for (var c = 0; c < this.fills.length; c++) {
        var st = this.fills[c];
        var alpha = st.fillOpacity === undefined ? 0.85 : st.fillOpacity;
        ctx.globalAlpha = covers ? alpha * 0.6 : alpha;
        ctx.fillStyle = st.fillColor;
        ctx.strokeStyle = covers ? "#616161" : "#ffffff";
        ctx.lineWidth = covers ? 0.8 : 0.5;
        ctx.setLineDash(covers ? [3, 3] : []);
        var inPath = 0;
        ctx.beginPath();
        for (var i = from; i < to; i++) {
          if (cls[i] !== c) { continue; }
          var x0 = box[4 * i] * zs - ox, y0 = box[4 * i + 1] * zs - oy;
          var x1 = box[4 * i + 2] * zs - ox, y1 = box[4 * i + 3] * zs - oy;
          if (x1 < 0 || y1 < 0 || x0 > w || y0 > h) { continue; }
          var s = start[i], e = start[i + 1];
          ctx.moveTo(px[s] * zs - ox, py[s] * zs - oy);
          for (var k = s + 1; k < e; k++) { ctx.lineTo(px[k] * zs - ox, py[k] * zs - oy); }
          ctx.closePath();
          if (++inPath === batch) {
            ctx.fill();
            if (covers) { ctx.save(); ctx.globalAlpha = 1; ctx.fillStyle = stripes; ctx.fill(); ctx.restore(); }
            if (stroke || covers) { ctx.stroke(); }
            ctx.beginPath();
            inPath = 0;
          }
        }
        if (inPath) {
          ctx.fill();
          if (covers) { ctx.save(); ctx.globalAlpha = 1; ctx.fillStyle = stripes; ctx.fill(); ctx.restore(); }
          if (stroke || covers) { ctx.stroke(); }
        }
      }
      }
      ctx.setLineDash([]);
      ctx.globalAlpha = 1;
      if (this.highlight >= 0) {
        var hs = start[this.highlight], he = start[this.highlight + 1];
        ctx.beginPath();
        ctx.moveTo(px[hs] * zs - ox, py[hs] * zs - oy);
        for (var q = hs + 1; q < he; q++) { ctx.lineTo(px[q] * zs - ox, py[q] * zs - oy); }
        ctx.closePath();
        ctx.lineWidth = 3;
        ctx.strokeStyle = "#111111";
        ctx.stroke();
      }
    },
    setHighlight: function (code) {
      this.highlight = code === null ? -1 : this.codes.indexOf(code);
      this._redraw();
    },
    boundsOf: function (code) {
      var i = this.codes.indexOf(code);
      if (i < 0) { return null; }
      var b = this.box, map = this._map;
      return L.latLngBounds(map.unproject([b[4 * i], b[4 * i + 1]], 0), map.unproject([b[4 * i + 2], b[4 * i + 3]], 0));
    },
    cellAt: function (latlng) {
      var x = mercX(latlng.lng), y = mercY(latlng.lat), g = this.g;
      var gx = Math.floor((x - g.x0) / g.w), gy = Math.floor((y - g.y0) / g.h);
      var list = this.buckets[gy * 1000 + gx];
      if (!list) { return -1; }
      var ncover = this.ncover;
      if (ncover) {  // the cell on top: a fine cell before the cover beneath it
        list = list.filter(function (k) { return k >= ncover; }).concat(list.filter(function (k) { return k < ncover; }));
      }
      for (var j = 0; j < list.length; j++) {
        var i = list[j], s = this.start[i], e = this.start[i + 1], inside = false;
        for (var a = s, b = e - 1; a < e; b = a++) {
          if ((this.py[a] > y) !== (this.py[b] > y) &&
              x < (this.px[b] - this.px[a]) * (y - this.py[a]) / (this.py[b] - this.py[a]) + this.px[a]) {
            inside = !inside;
          }
        }
        if (inside) { return i; }
      }
      return -1;
    },
    _hover: function (e) {
      var i = this.cellAt(e.latlng);
      if (i < 0) { this._out(); return; }
      if (this.options.onhover) { this.options.onhover(this.codes[i]); }
      if (!this._tip) {
        this._tip = new SafeTooltip(Object.assign({sticky: true}, this.options.tooltip));
      }
      this._tip.setContent(this.options.tooltipFor({feature: {id: this.codes[i]}}));
      this._tip.setLatLng(e.latlng);
      if (!this._map.hasLayer(this._tip)) { this._tip.addTo(this._map); }
      this._map.getContainer().style.cursor = "pointer";
    },
    _out: function () {
      if (this._tip && this._map.hasLayer(this._tip)) { this._map.removeLayer(this._tip); }
      this._map.getContainer().style.cursor = "";
    },
    _click: function (e) {
      var i = this.cellAt(e.latlng);
      if (i >= 0 && this.options.onclick) { this.options.onclick({layer: {feature: {id: this.codes[i]}}}); }
    }
  });

  /* A tooltip that stays inside the map and never sits under the legend or the panel: after
   * Leaflet places it (above the pointer), it is moved below the pointer when it would leave
   * the top, kept inside the map's edges, and moved beside any control box it would cover. */
  function overlaps(a, b) {
    return a.left < b.right && a.right > b.left && a.top < b.bottom && a.bottom > b.top;
  }
  var SafeTooltip = L.Tooltip.extend({
    _setPosition: function (pos) {
      L.Tooltip.prototype._setPosition.call(this, pos);
      var map = this._map, c = this._container;
      if (!map || !c) { return; }
      var box = map.getContainer().getBoundingClientRect();
      var r = c.getBoundingClientRect(), pad = 4;
      var anchor = map.latLngToContainerPoint(this._latlng);
      var ax = box.left + anchor.x, ay = box.top + anchor.y;
      var w = r.width, h = r.height;
      var left = r.left, top = r.top;
      if (top < box.top + pad) { top = ay + 14; }                       // flip below the pointer
      if (top + h > box.bottom - pad) { top = Math.max(box.top + pad, box.bottom - pad - h); }
      left = Math.min(Math.max(left, box.left + pad), box.right - pad - w);
      var obstacles = map.getContainer().querySelectorAll(".chipao-legend, .chipao-panel, .chipao-table");
      for (var k = 0; k < obstacles.length; k++) {
        var o = obstacles[k].getBoundingClientRect();
        if (!o.width || !o.height) { continue; }
        var rect = {left: left, right: left + w, top: top, bottom: top + h};
        if (!overlaps(rect, o)) { continue; }
        var options = [
          [o.left - pad - w, top], [o.right + pad, top],
          [left, o.top - pad - h], [left, o.bottom + pad]
        ].filter(function (p) {
          return p[0] >= box.left + pad && p[0] + w <= box.right - pad &&
            p[1] >= box.top + pad && p[1] + h <= box.bottom - pad;
        });
        if (options.length) {
          options.sort(function (p, q) {
            return (Math.abs(p[0] - ax) + Math.abs(p[1] - ay)) - (Math.abs(q[0] - ax) + Math.abs(q[1] - ay));
          });
          left = options[0][0]; top = options[0][1];
        }
      }
      if (left !== r.left || top !== r.top) {
        L.DomUtil.setPosition(c, L.DomUtil.getPosition(c).add([left - r.left, top - r.top]));
      }
    }
  });

  /* Embeds may ask for one language (?lang=th or ?lang=en; default both). Text is written
   * "ไทย · English" or as a Thai line and an English line; this keeps the asked one. */
  var THAI = /[\u0e00-\u0e7f]/, LATIN = /[A-Za-z]{2}/;
  function localise(root, lang) {
    if (!lang || lang === "both" || !root) { return; }
    var walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, null);
    var nodes = [];
    while (walker.nextNode()) { nodes.push(walker.currentNode); }
    nodes.forEach(function (n) {
      var text = n.nodeValue;
      if (text.indexOf(" · ") >= 0) {
        var parts = text.split(" · ");
        var keep = parts.filter(function (p) { return lang === "th" ? THAI.test(p) : !THAI.test(p); });
        if (keep.length && keep.length < parts.length) { n.nodeValue = keep.join(" · "); }
        return;
      }
      // the line in the other language is a sibling (of this text, or of the element that
      // holds only this text: "<b>ไทย</b><br>English")
      var self = n;
      while (self.parentNode && self.parentNode !== root && self.parentNode.childNodes.length === 1) {
        self = self.parentNode;
      }
      var sibs = self.parentNode ? self.parentNode.childNodes : [];
      var other = false;
      for (var i = 0; i < sibs.length; i++) {
        var t = sibs[i].textContent || "";
        if (sibs[i] !== self && (lang === "th" ? THAI.test(t) : LATIN.test(t) && !THAI.test(t))) { other = true; }
      }
      if (!other) { return; }
      if (lang === "th" && !THAI.test(text) && LATIN.test(text) && !/\d/.test(text)) { n.nodeValue = ""; }
      if (lang === "en" && THAI.test(text)) { n.nodeValue = ""; }
    });
  }
  function localiseHtml(html, lang) {
    if (!lang || lang === "both") { return html; }
    var div = document.createElement("div");
    div.innerHTML = html;
    localise(div, lang);
    return div.innerHTML.replace(/(<br>\s*){2,}/g, "<br>").replace(/^(\s*<br>)+/, "");
  }

  window.chipaoMap = function (map, cfg) {
    var t0 = performance.now();
    var timings = {};
    var state = Object.assign({}, cfg.params);
    // embed options from the snippet: ?legend=0, ?title=0, ?lang=th|en|both
    var opts = new URLSearchParams(window.location.search);
    var lang = cfg.embed ? (opts.get("lang") || "both") : "both";
    var showLegend = !(cfg.embed && opts.get("legend") === "0");
    var showTitle = !(cfg.embed && opts.get("title") === "0");
    if (cfg.embed) { document.documentElement.lang = lang === "en" ? "en" : "th"; }
    var renderer = L.canvas({padding: 0.2, tolerance: 2});
    var hatch = hatchPattern();
    var data = null;        // values payload
    var layer = null;       // choropleth layer
    var rowOf = {};         // area code -> index into the value columns
    var suppressedRow = {};
    var styles = null;
    var minHh = cfg.min_households;

    map.fitBounds(cfg.bounds, {animate: false});
    if (cfg.max_bounds) { map.setMaxBounds(L.latLngBounds(cfg.max_bounds).pad(0.5)); }
    map.attributionControl.setPrefix(false);
    map.attributionControl.addAttribution(esc(cfg.attribution));

    var baseLayers = {};
    var blank = L.layerGroup();
    baseLayers["ไม่มีแผนที่ฐาน · No base map"] = blank;
    if (cfg.basemap) {
      var tiles = L.tileLayer(cfg.basemap, {maxZoom: 18, attribution: esc(cfg.basemap_attribution || "")});
      baseLayers["แผนที่ฐาน · Base map"] = tiles;
      tiles.addTo(map);
    } else {
      blank.addTo(map);
    }
    var layers = L.control.layers(baseLayers, {}, {collapsed: !!cfg.embed, position: "topright"});
    layers.addTo(map);

    // ---- error box -------------------------------------------------------------------------
    var errorBox = L.control({position: "topleft"});
    errorBox.onAdd = function () {
      var div = el("div", "chipao-error");
      div.style.display = "none";
      return div;
    };
    errorBox.addTo(map);
    function showError(message) {
      var div = errorBox.getContainer();
      div.className = "chipao-error";
      div.innerHTML = "<b>โหลดข้อมูลไม่สำเร็จ · Could not load the data</b><br>" + esc(message);
      div.style.display = "block";
      document.documentElement.setAttribute("data-chipao-error", "1");
    }
    function clearError() {
      var div = errorBox.getContainer();
      div.innerHTML = "";
      div.style.display = "none";
      document.documentElement.removeAttribute("data-chipao-error");
    }
    // every finished values request (success or error) counts, so tools can wait for it
    var settled = 0;
    function markSettled() {
      settled += 1;
      document.documentElement.setAttribute("data-chipao-settled", String(settled));
    }

    // ---- title, measure and round controls ------------------------------------------------
    var panelToggle = null;
    var panel = L.control({position: "topleft"});
    panel.onAdd = function () {
      var div = el("div", "chipao-panel");
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      var h = el("div", "chipao-title", div);
      h.innerHTML = "<b>" + esc(cfg.title_th) + "</b><br><span>" + esc(cfg.title_en) + "</span>";
      var toggle = el("button", "chipao-toggle", div);
      toggle.type = "button";
      toggle.setAttribute("aria-expanded", "true");
      toggle.title = "ย่อ/ขยายแผงควบคุม · Hide or show the controls";
      toggle.textContent = "ย่อ · Hide";
      toggle.addEventListener("click", function () { setPanelCollapsed(!div.classList.contains("chipao-collapsed")); });
      panelToggle = toggle;
      if (!cfg.embed) { buildSearch(div); }
      if (cfg.breadcrumbs && cfg.breadcrumbs.length) {
        var crumbs = el("div", "chipao-crumbs", div);
        crumbs.innerHTML = cfg.breadcrumbs.map(function (c) {
          return "<a href=\"" + esc(c.url) + "\">" + esc(c.th) + "</a>";
        }).join(" › ");
        crumbLinks = crumbs.querySelectorAll("a");
        syncCrumbs();
      }
      if (cfg.embed) { return div; }
      var form = el("form", "chipao-form", div);
      form.addEventListener("submit", function (e) { e.preventDefault(); });
      // options: [value, text] or [value, text, optgroup label] (+ disabled: not available)
      function select(name, label, options, value) {
        var lab = el("label", "", form);
        lab.appendChild(document.createTextNode(label));
        var s = el("select", "", lab);
        s.name = name;
        var groups = {};  // one optgroup per label, in the order labels first appear
        options.forEach(function (o) {
          var parent = s;
          if (o[2]) {
            if (!groups[o[2]]) {
              groups[o[2]] = el("optgroup", "", s);
              groups[o[2]].label = o[2];
            }
            parent = groups[o[2]];
          }
          var opt = el("option", "", parent);
          opt.value = o[0];
          opt.textContent = o[1];
          if (o[3]) { opt.disabled = true; }
          if (String(o[0]) === String(value)) { opt.selected = true; }
        });
        return s;
      }
      // measures a dataset lacks (published tables: those needing persons) are listed last,
      // disabled, as not available: never drawn as 0
      var NA = "ไม่มีในชุดข้อมูลนี้ · not available for this dataset";
      var measureSel = select("measure", "ตัวชี้วัด · Measure",
        cfg.measures.filter(function (m) { return m.available !== false; }).map(function (m) {
          return [m.id, m.th + " · " + m.en, m.family_th ? m.family_th + " · " + m.family_en : null];
        }).concat(cfg.measures.filter(function (m) { return m.available === false; }).map(function (m) {
          return [m.id, m.th + " · " + m.en, NA, true];
        })), state.measure);
      var groupSel = select("group", "กลุ่มเป้าหมาย · Target group",
        [["", "ทุกคน · Everyone"]].concat(cfg.groups.map(function (g) {
          return [g.id, g.th + " · " + g.en];
        })), state.group || "");
      if (!cfg.groups.length) { groupSel.parentNode.style.display = "none"; }  // no persons
      // follow-up help measures: one agency's help (records, THB, households helped)
      var agencies = cfg.agencies || [], agencyMeasures = cfg.agency_measures || [];
      var agencySel = select("agency", "หน่วยงาน · Agency",
        [["", "ทุกหน่วยงาน · All agencies"]].concat(agencies.map(function (a) {
          return [a.id, a.th + " · " + a.en];
        })), state.agency || "");
      if (!agencies.length) { agencySel.parentNode.style.display = "none"; }
      var dimBoxes = cfg.dimension_masks ? dimensionBoxes(cfg.dimension_masks) : null;
      var roundSel = null;
      if (cfg.rounds.length) {
        roundSel = select("round", "รอบข้อมูล · Round",
          cfg.rounds.map(function (r) { return [r.id, r.label]; }), state.round || "");
      }
      var kSel = null;
      if (cfg.k_choices && cfg.k_choices.length) {
        kSel = select("k", "เกณฑ์ความยากจน k · Poverty cut-off k",
          [["", "ค่าของชุดข้อมูล · dataset default"]].concat(cfg.k_choices.map(function (k) {
            return [k, Math.round(k * 100) + "%"];
          })), state.k || "");
      }
      var changeLab = el("label", "chipao-check", form);
      var changeBox = el("input", "", changeLab);
      changeBox.type = "checkbox";
      changeBox.name = "change";
      changeBox.checked = !!state.change;
      changeBox.disabled = cfg.rounds.length < 2;
      changeLab.appendChild(document.createTextNode(" เปลี่ยนแปลงจากรอบก่อน · Change since last round"));
      var classSel = select("classes", "จำนวนช่วงสี · Classes",
        [3, 4, 5, 6, 7, 8, 9].map(function (k) { return [k, String(k)]; }), state.classes);
      var classifierSel = select("classifier", "วิธีแบ่งช่วง · Breaks", [
        ["quantiles", "ควอนไทล์ · Quantiles"],
        ["natural_breaks", "ธรรมชาติ (Jenks) · Natural breaks"],
        ["equal_interval", "ช่วงเท่ากัน · Equal interval"]], state.classifier);
      var breaksSel = null;
      if (cfg.params.scope) {
        breaksSel = select("breaks", "ช่วงสี · Colour classes", [
          ["", "ของแผนที่นี้ · this map's"],
          ["national", "ระดับประเทศ (คงที่) · national (fixed)"]], state.breaks || "");
      }
      if (cfg.levels && cfg.levels.length > 1) {
        var levelSel = select("level", "ระดับพื้นที่ · Level",
          cfg.levels.map(function (l) { return [l.id, l.th + " · " + l.en]; }), cfg.level);
        levelSel.addEventListener("change", function () {
          var chosen = cfg.levels.filter(function (l) { return l.id === levelSel.value; })[0];
          window.location.href = chosen.url + "?" + pageQuery(chosen.id);
        });
      }
      // published datasets: five dimension checkboxes compose the measure tp_m<mask> (target
      // poor deprived in any checked dimension); the measure list and the boxes agree
      function dimensionBoxes(spec) {
        var box = el("fieldset", "chipao-dims", form);
        var legend = el("legend", "", box);
        legend.textContent = "คนจนเป้าหมายตามมิติ · Target poor by dimension";
        var boxes = spec.dimensions.map(function (d) {
          var lab = el("label", "chipao-check", box);
          var input = el("input", "", lab);
          input.type = "checkbox";
          input.name = "dim";
          input.value = d.id;
          lab.appendChild(document.createTextNode(" " + d.th + " · " + d.en));
          return input;
        });
        function sync() {
          var v = measureSel.value, on = v.indexOf(spec.prefix) === 0 ? v.slice(spec.prefix.length) : "";
          boxes.forEach(function (b, i) { b.checked = on.charAt(i) === "1"; });
        }
        boxes.forEach(function (b) {
          // runs before the form's change handler, which then reads the measure
          b.addEventListener("change", function () {
            var mask = boxes.map(function (x) { return x.checked ? "1" : "0"; }).join("");
            if (mask === "00000") { b.checked = true; mask = boxes.map(function (x) { return x.checked ? "1" : "0"; }).join(""); }
            measureSel.value = spec.prefix + mask;
          });
        });
        return {sync: sync};
      }
      function syncGroup() {
        if (dimBoxes) { dimBoxes.sync(); }
        var m = cfg.measures.filter(function (x) { return x.id === measureSel.value; })[0];
        groupSel.disabled = !(m && m.grouped);
        if (groupSel.disabled) { groupSel.value = ""; }
        var byAgency = agencyMeasures.indexOf(measureSel.value) >= 0;
        agencySel.disabled = !byAgency;
        agencySel.parentNode.style.display = byAgency && agencies.length ? "" : "none";
        if (!byAgency) { agencySel.value = ""; }
      }
      syncGroup();
      form.addEventListener("change", function (e) {
        if (e.target.name === "level") { return; }
        syncGroup();
        state.measure = measureSel.value;
        state.group = groupSel.value || null;
        state.agency = agencySel.value || null;
        state.round = roundSel ? roundSel.value : null;
        state.change = changeBox.checked ? 1 : null;
        state.classes = classSel.value;
        state.classifier = classifierSel.value;
        state.breaks = breaksSel ? (breaksSel.value || null) : null;
        state.k = kSel ? (kSel.value || null) : state.k;
        window.history.replaceState(null, "", "?" + pageQuery());
        syncCrumbs();
        syncShare();
        loadValues();
      });
      var tools = el("div", "chipao-tools", div);
      var print = el("button", "", tools);
      print.type = "button";
      print.textContent = "พิมพ์ / PDF · Print";
      print.addEventListener("click", function () { window.print(); });
      var png = el("button", "", tools);
      png.type = "button";
      png.textContent = "รูปภาพ · PNG";
      png.addEventListener("click", function () { exportPng(); });
      var present = el("button", "chipao-present-btn", tools);
      present.type = "button";
      present.textContent = "นำเสนอ · Present";
      present.addEventListener("click", function () { setPresenting(!presenting); });
      if (cfg.embed_code_url) {
        share = el("a", "chipao-share", tools);
        share.textContent = "ฝังแผนที่ · Embed";
        syncShare();
      }
      return div;
    };
    panel.addTo(map);
    if (!showTitle) { panel.getContainer().style.display = "none"; }
    localise(panel.getContainer(), lang);
    function setPanelCollapsed(collapsed) {
      var div = panel.getContainer();
      div.classList.toggle("chipao-collapsed", collapsed);
      if (panelToggle) {
        panelToggle.textContent = collapsed ? "ตัวเลือก · Controls" : "ย่อ · Hide";
        panelToggle.setAttribute("aria-expanded", collapsed ? "false" : "true");
      }
    }

    // a static image for committee papers: the map canvases, title and legend on one PNG
    function exportPng() {
      var size = map.getSize(), ratio = window.devicePixelRatio || 1;
      var legendRows = data && data.legend ? data.legend.labels.length : 0;
      var prov = provenance();
      var legendH = 76 + 18 * (legendRows + 2) + 16 * prov.length;
      var out = document.createElement("canvas");
      out.width = size.x * ratio;
      out.height = (size.y + legendH) * ratio;
      var ctx = out.getContext("2d");
      ctx.scale(ratio, ratio);
      ctx.fillStyle = "#ffffff";
      ctx.fillRect(0, 0, size.x, size.y + legendH);
      var box = map.getContainer().getBoundingClientRect();
      map.getContainer().querySelectorAll(".leaflet-pane canvas, .leaflet-tile-pane img").forEach(function (c) {
        var r = c.getBoundingClientRect();
        try { ctx.drawImage(c, r.left - box.left, r.top - box.top, r.width, r.height); } catch (e) { /* tainted tile */ }
      });
      // place names as on screen
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      placedLabels.forEach(function (l) {
        ctx.font = (presenting ? 14 : 11) + "px Sarabun, sans-serif";
        ctx.lineWidth = 3;
        ctx.strokeStyle = "rgba(255,255,255,0.9)";
        ctx.strokeText(l.text, l.x, l.y);
        ctx.fillStyle = "#222222";
        ctx.fillText(l.text, l.x, l.y);
      });
      ctx.textAlign = "left";
      ctx.textBaseline = "alphabetic";
      var y = size.y + 22;
      ctx.fillStyle = "#000000";
      ctx.font = "bold 15px Sarabun, sans-serif";
      ctx.fillText(cfg.title_th + " · " + cfg.title_en, 12, y);
      if (data) {
        ctx.font = "13px Sarabun, sans-serif";
        y += 20;
        var grp = data.group ? cfg.groups.filter(function (g) { return g.id === data.group; })[0] : null;
        ctx.fillText(data.measure.th + " · " + data.measure.en + " (" + data.measure.unit_th + " · " +
          data.measure.unit_en + ")" + (grp ? " — " + grp.th + " · " + grp.en : "") +
          (data.agency ? " — " + ((cfg.agencies || []).filter(function (a) { return a.id === data.agency; })[0] || {th: data.agency}).th : "") +
          (data.change ? " — เปลี่ยนแปลงจากรอบก่อน · change since last round" : ""), 12, y);
        var rows = (data.legend ? data.legend.labels.map(function (l, i) { return [data.legend.colours[i], l]; }) : [])
          .concat([[hatch, "น้อยกว่า " + minHh + " ครัวเรือน · fewer than " + minHh + " households"],
                   [data.legend ? data.legend.no_data : "#d9d9d9", "ไม่มีข้อมูล · no data"]]);
        rows.forEach(function (row) {
          y += 18;
          ctx.fillStyle = row[0];
          ctx.fillRect(12, y - 11, 22, 13);
          ctx.strokeStyle = "#999999";
          ctx.lineWidth = 1;
          ctx.strokeRect(12, y - 11, 22, 13);
          ctx.fillStyle = "#000000";
          ctx.fillText(row[1], 42, y);
        });
      }
      ctx.font = "12px Sarabun, sans-serif";
      ctx.fillStyle = "#333333";
      y += 8;
      prov.forEach(function (line) { y += 16; ctx.fillText(line, 12, y); });
      ctx.font = "11px Sarabun, sans-serif";
      ctx.fillStyle = "#555555";
      ctx.fillText(cfg.attribution, 12, size.y + legendH - 8);
      out.toBlob(function (blob) {
        var a = document.createElement("a");
        a.href = URL.createObjectURL(blob);
        a.download = "chipao-" + (cfg.params.scope || "TH") + "-" + cfg.level + "-" +
          (data ? data.measure.id : "map") + ".png";
        document.body.appendChild(a);
        a.click();
        setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
      }, "image/png");
    }

    // query string of the values request (the level is in its path)
    function query(skip) {
      var q = new URLSearchParams();
      ["measure", "group", "round", "change", "classes", "classifier", "breaks", "dataset", "k", "agency"].forEach(function (k) {
        if ((skip || []).indexOf(k) < 0 && state[k] !== null && state[k] !== undefined && state[k] !== "") {
          q.set(k, state[k]);
        }
      });
      return q.toString();
    }
    // query string of this page's own URL: the level first, then every control's value
    function pageQuery(level) {
      var rest = query();
      return "level=" + encodeURIComponent(level || cfg.level) + (rest ? "&" + rest : "");
    }
    var crumbLinks = [], share = null;
    // breadcrumbs keep the measure, group, classes and breaks (each page has its own level)
    function syncCrumbs() {
      var q = query(["round", "change", "k"]);
      for (var i = 0; i < crumbLinks.length; i++) {
        var base = cfg.breadcrumbs[i].url;
        crumbLinks[i].href = base + (q ? (base.indexOf("?") >= 0 ? "&" : "?") + q : "");
      }
    }
    function syncShare() {
      if (!share) { return; }
      var base = cfg.embed_code_url;
      share.href = base + (base.indexOf("?") >= 0 ? "&" : "?") + query();
    }

    // ---- legend -----------------------------------------------------------------------------
    var legendCtl = L.control({position: "bottomright"});
    legendCtl.onAdd = function () {
      var div = el("div", "chipao-legend");
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      div.addEventListener("click", function (e) {
        if (e.target.closest && e.target.closest(".chipao-legend-toggle")) {
          setLegendCollapsed(!div.classList.contains("chipao-collapsed"));
        }
      });
      return div;
    };
    legendCtl.addTo(map);
    function drawLegend() {
      var div = legendCtl.getContainer();
      var m = data.measure;
      var grp = data.group ? cfg.groups.filter(function (g) { return g.id === data.group; })[0] : null;
      var html = "<button type=\"button\" class=\"chipao-legend-toggle\" title=\"ย่อ/ขยายคำอธิบาย · Hide or show the legend\">" +
        (div.classList.contains("chipao-collapsed") ? "คำอธิบาย · Legend ▸" : "▾") + "</button>" +
        "<div class=\"chipao-legend-title\"><b>" + esc(m.th) + "</b><br>" + esc(m.en);
      if (grp) { html += "<br>" + esc(grp.th) + " · " + esc(grp.en); }
      var ag = data.agency ? (cfg.agencies || []).filter(function (a) { return a.id === data.agency; })[0] : null;
      if (ag) { html += "<br><span class=\"chipao-legend-agency\">หน่วยงาน · Agency: " + esc(ag.th) + " · " + esc(ag.en) + "</span>"; }
      if (data.change) { html += "<br>เปลี่ยนแปลงจากรอบก่อน · change since last round"; }
      html += "</div><div class=\"chipao-legend-unit\">" + esc(m.unit_th) + " · " + esc(m.unit_en) +
        (data.change && m.format === "percent" ? " (จุด · points)" : "") + "</div>";
      var lg = data.legend;
      if (lg && lg.note_th) {
        html += "<div class=\"chipao-legend-note\">" + esc(lg.note_th) + " · " + esc(lg.note_en) + "</div>";
      }
      if (data.available === false) {
        html += "<div class=\"chipao-legend-empty\">ไม่มีข้อมูลนี้ · not available for this dataset</div>";
      }
      if (lg) {
        for (var i = 0; i < lg.colours.length; i++) {
          html += "<div class=\"chipao-legend-row\"><i style=\"background:" + lg.colours[i] + "\"></i>" +
            esc(lg.labels[i]) + "</div>";
        }
      }
      html += "<div class=\"chipao-legend-row\"><i class=\"chipao-hatch\"></i>น้อยกว่า " + minHh +
        " ครัวเรือน · fewer than " + minHh + " households</div>";
      html += "<div class=\"chipao-legend-row\"><i style=\"background:" +
        (lg ? lg.no_data : "#d9d9d9") + "\"></i>ไม่มีข้อมูล · no data</div>";
      if (data.covered && data.cover_level) {
        html += "<div class=\"chipao-legend-row chipao-legend-cover\"><i class=\"chipao-parent\"></i>" +
          "ลายเส้นใต้หกเหลี่ยม: ตัวเลขของอำเภอ ที่ไม่มีหกเหลี่ยมเผยแพร่ (รวมที่มีน้อยกว่า " + minHh +
          " ครัวเรือน) · hatched beneath the hexagons: the amphoe's figure where no hexagon is published " +
          "(including cells with fewer than " + minHh + " households)</div>";
      } else if (data.covered) {
        html += "<div class=\"chipao-legend-row\"><i class=\"chipao-parent\"></i>" +
          "หกเหลี่ยมใหญ่: รวมพื้นที่เล็กที่มีน้อยกว่า " + minHh + " ครัวเรือน · larger hexagon: " +
          "cells with fewer than " + minHh + " households shown at a coarser resolution</div>";
      }
      html += "<div class=\"chipao-legend-source\">" + provenance().map(esc).join("<br>") + "</div>";
      div.innerHTML = localiseHtml(html, lang);
      div.style.display = showLegend ? "" : "none";
    }

    // ---- styling ----------------------------------------------------------------------------
    function buildStyles() {
      var base = {renderer: renderer, weight: cfg.line_weight, color: "#ffffff", opacity: 0.8,
        fillOpacity: 0.85, radius: 5};
      styles = {
        nodata: Object.assign({}, base, {fillColor: data.legend ? data.legend.no_data : "#d9d9d9", fillOpacity: 0.5}),
        suppressed: Object.assign({}, base, {fillColor: hatch, fillOpacity: 1}),
        cls: (data.legend ? data.legend.colours : []).map(function (c) {
          return Object.assign({}, base, {fillColor: c});
        })
      };
    }
    function classOf(v) {
      var b = data.legend.breaks;
      for (var i = 0; i < b.length; i++) { if (v <= b[i]) { return i; } }
      return b.length - 1;
    }
    function styleFor(feature) {
      var i = rowOf[feature.id];
      if (i === undefined) { return styles.nodata; }
      if (suppressedRow[i]) { return styles.suppressed; }
      var v = data.columns.value[i];
      if (v === null || !data.legend) { return styles.nodata; }
      return styles.cls[classOf(v)];
    }

    var isCells = cfg.level.indexOf("h3_") === 0;
    function tooltip(l) { return localiseHtml(tooltipHtml(l), lang); }
    function tooltipHtml(l) {
      var code = l.feature.id;
      var i = data ? rowOf[code] : undefined;
      var html = "<div class=\"chipao-tip-head\">";
      var named = data && data.names && i !== undefined && data.names.th[i] && data.names.th[i] !== code;
      var coverArea = data && data.cover_level && i !== undefined ? data.cover_level[i] : null;
      if (named && (!isCells || coverArea)) {
        html += "<b>" + esc(data.names.th[i]) + "</b><br>" + esc(data.names.en[i]);
      } else {
        html += "<b>" + esc(cfg.feature_label_th) + "</b><br>" + esc(cfg.feature_label_en);
      }
      html += " <span class=\"chipao-code\">" + esc(code) + "</span></div>";
      if (data && data.cover_resolution && i !== undefined && data.cover_resolution[i]) {
        html += "<div class=\"chipao-tip-cover\">หกเหลี่ยมใหญ่ r" + data.cover_resolution[i] +
          ": ครอบพื้นที่เล็กที่มีน้อยกว่า " + minHh + " ครัวเรือน<br>coarser r" + data.cover_resolution[i] +
          " hexagon: covers cells with fewer than " + minHh + " households</div>";
      }
      if (coverArea) {
        html += "<div class=\"chipao-tip-cover\">ตัวเลขของทั้งอำเภอ (ลายเส้นใต้หกเหลี่ยม): ครอบพื้นที่ที่ไม่มีหกเหลี่ยมเผยแพร่" +
          " รวมหกเหลี่ยมที่มีน้อยกว่า " + minHh + " ครัวเรือน<br>the whole amphoe's figure (hatched, beneath the hexagons):" +
          " covers where no hexagon is published, including cells with fewer than " + minHh + " households</div>";
      }
      // an H3 cell says where it is: the tambon(s) it lies in
      if (data && data.places && i !== undefined && data.places.th[i]) {
        html += "<div class=\"chipao-tip-place\">ใน · in: " + esc(data.places.th[i]) + "<br>" +
          esc(data.places.en[i]) + "</div>";
      }
      if (i === undefined) { return html + "<div>ไม่มีข้อมูล · no data</div>"; }
      if (suppressedRow[i]) {
        return html + "<div class=\"chipao-tip-sup\">น้อยกว่า " + minHh + " ครัวเรือน: ไม่เผยแพร่<br>" +
          "fewer than " + minHh + " households: not shown</div>";
      }
      var m = data.measure, cols = data.columns;
      var value = cols.value[i];
      html += "<div class=\"chipao-tip-value\">" + esc(m.th) + "<br>" + esc(m.en) + ": <b>" +
        fmt(value, m.format, data.change) + "</b>";
      if (data.change && cols.before) {
        var unit = m.format === "percent" ? " จุด · points" : "";
        html += (value !== null ? unit : "") + "<br><span class=\"chipao-tip-change\">จาก · from " +
          fmt(cols.before[i], m.format, false) + " → " + fmt(cols.after[i], m.format, false) + "</span>";
      }
      html += "</div>";
      if (cols.priority_score && cols.priority_score[i] !== null && cols.priority_score[i] !== undefined) {
        var has = function (c) { return c && c[i] !== null && c[i] !== undefined; };
        var ci = data.interval ? Math.round(data.interval.level * 100) + "%" : "95%";
        html += "<div class=\"chipao-tip-priority\">คะแนนความสำคัญ · Priority score: <b>" +
          numberFormat(1).format(cols.priority_score[i]) + "</b> / 100";
        if (has(cols.score_low) && has(cols.score_high)) {
          html += " <span class=\"chipao-tip-ci\">(ช่วง " + ci + " · " + ci + " interval " +
            numberFormat(1).format(cols.score_low[i]) + "–" + numberFormat(1).format(cols.score_high[i]) + ")</span>";
        }
        if (has(cols.rank_low) && has(cols.rank_high)) {
          html += "<br>ลำดับ · rank <b>" + fmt(cols.value[i], "rank") + "</b> <span class=\"chipao-tip-ci\">(ช่วง " + ci +
            " · " + ci + " interval " + fmt(cols.rank_low[i], "rank") + "–" + fmt(cols.rank_high[i], "rank") + ")</span>";
        }
        if (data.reasons && data.reasons[i] && data.reasons[i].length) {
          html += "<br>เหตุผลหลัก · top reasons:<ol>" + data.reasons[i].map(function (r) {
            return "<li>" + esc(r) + "</li>";
          }).join("") + "</ol>";
        }
        html += "</div>";
      }
      html += "<table>";
      data.figures.forEach(function (f) {
        html += "<tr><td>" + esc(f.th) + " · " + esc(f.en) + "</td><td>" +
          fmt(cols[f.column][i], f.format, false) + "</td></tr>";
      });
      return html + "</table>";
    }

    function applyValues(payload) {
      data = payload;
      rowOf = {};
      suppressedRow = {};
      for (var i = 0; i < payload.codes.length; i++) { rowOf[payload.codes[i]] = i; }
      payload.suppressed.forEach(function (j) { suppressedRow[j] = true; });
      buildStyles();
      if (layer && layer.restyle) { layer.restyle(styleFor); } else if (layer) { layer.setStyle(styleFor); }
      drawLegend();
      if (layer) { drawTable(); drawLabels(); }
    }

    function fetchJSON(url) {
      return fetch(url, {credentials: "same-origin"}).then(function (r) {
        if (!r.ok) {
          return r.json().catch(function () { return {}; }).then(function (p) {
            throw new Error((p && p.detail) || ("HTTP " + r.status + " " + url));
          });
        }
        return r.json();
      });
    }

    function valuesUrl() {
      return cfg.values_url + (cfg.values_url.indexOf("?") >= 0 ? "&" : "?") + query();
    }

    // a failed request leaves no stale colours: every area turns "no data" and the legend
    // says why; the next successful load clears the message
    function clearMap(message) {
      data = null;
      rowOf = {};
      suppressedRow = {};
      styles = {nodata: Object.assign({renderer: renderer, weight: cfg.line_weight, color: "#ffffff",
        opacity: 0.8, radius: 5}, {fillColor: "#d9d9d9", fillOpacity: 0.5})};
      var blankStyle = function () { return styles.nodata; };
      if (layer && layer.restyle) { layer.restyle(blankStyle); } else if (layer) { layer.setStyle(blankStyle); }
      legendCtl.getContainer().innerHTML = "<div class=\"chipao-legend-empty\">" + esc(message) + "</div>";
    }
    var loadSerial = 0;
    var NO_EARLIER = "ไม่มีรอบข้อมูลก่อนหน้าให้เปรียบเทียบ · there is no earlier round to compare with";
    function loadValues() {
      var serial = ++loadSerial;
      if (state.change && cfg.rounds.length && String(state.round) === String(cfg.rounds[0].id)) {
        showError(NO_EARLIER);
        clearMap(NO_EARLIER);
        markSettled();
        return Promise.resolve();
      }
      return fetchJSON(valuesUrl()).then(function (payload) {
        if (serial !== loadSerial) { return; }  // a newer choice is on its way
        clearError();
        applyValues(payload);
        markSettled();
      }).catch(function (e) {
        if (serial !== loadSerial) { return; }
        showError(e.message);
        clearMap(e.message);
        markSettled();
      });
    }

    function drill(e) {
      var code = e.layer && e.layer.feature && e.layer.feature.id;
      if (!code) { return; }
      highlightRow(code, true);
      if (cfg.embed && window.parent !== window) {
        // portals listen for clicks: public aggregates only (the embed never shows more)
        var i = data ? rowOf[code] : undefined;
        window.parent.postMessage({
          type: "chipao:area-click", code: code, level: cfg.level,
          name_th: data && data.names && i !== undefined ? data.names.th[i] : null,
          name_en: data && data.names && i !== undefined ? data.names.en[i] : null,
          measure: data ? data.measure.id : null,
          value: data && i !== undefined && !suppressedRow[i] ? data.columns.value[i] : null,
          round: data ? data.version : null
        }, "*");
      }
      if (!cfg.drill) {
        var seesVillages = cfg.signed_in === true || cfg.levels.some(function (l) { return l.id === "village"; });
        if (cfg.level === "tambon" && !cfg.embed && !seesVillages) { showSignInHint(code); }
        return;
      }
      var q = query();
      var url = cfg.drill.replace("{code}", encodeURIComponent(code));
      window.location.href = url + (q ? (url.indexOf("?") >= 0 ? "&" : "?") + q : "");
    }


    // ---- place names, search, table, labels, presentation ---------------------------------
    var featureOf = {};     // area code -> Leaflet layer (admin and village layers)
    var outlineLayer = null;
    var places = null;      // search index (/maps/places.json), loaded on first use
    var placesPromise = null;
    var presenting = false;
    var sortKey = "value", sortDesc = true;
    var highlighted = null;
    var table = null;

    function roundLabel() {
      var r = cfg.rounds.filter(function (x) { return String(x.id) === String(state.round); })[0];
      return r ? r.label : (data && data.version ? data.version : "");
    }
    var beDate = (function () {
      try {
        return new Intl.DateTimeFormat("th-TH-u-ca-buddhist", {day: "numeric", month: "short", year: "numeric"});
      } catch (e) { return null; }
    })();
    var beDateEn = (function () {
      try {
        return new Intl.DateTimeFormat("en-GB-u-ca-buddhist", {day: "numeric", month: "short", year: "numeric"});
      } catch (e) { return null; }
    })();
    // the lines that say what a printed or exported map shows, and where it comes from
    function provenance() {
      var lines = [];
      var area = (cfg.breadcrumbs || []).map(function (c) { return c.th; }).join(" › ");
      if (area) { lines.push("พื้นที่ · Area: " + area); }
      var rl = roundLabel();
      if (rl) { lines.push("รอบข้อมูล · Round: " + rl); }
      var k = state.k || (data && data.k);
      if (k || !data || data.k !== null) {  // null: no cut-off (published tables, no persons)
        lines.push("เกณฑ์ความยากจน k · Poverty cut-off k: " + (k ? Math.round(Number(k) * 100) + "%" :
          "ค่าของชุดข้อมูล · dataset default"));
      }
      if (data && data.legend && data.legend.classifier) {
        lines.push("การแบ่งช่วง · Classes: " + data.legend.colours.length + " (" + data.legend.classifier + ")");
      }
      lines.push("ที่มา: ชี้เป้า · Source: Chipao" + (state.dataset ? " (" + state.dataset + ")" : ""));
      if (beDate) {
        lines.push("พิมพ์ " + beDate.format(new Date()) + " · printed " +
          (beDateEn ? beDateEn.format(new Date()) : ""));
      }
      return lines;
    }

    function setLegendCollapsed(collapsed) {
      var div = legendCtl.getContainer();
      div.classList.toggle("chipao-collapsed", collapsed);
      if (data) { drawLegend(); }
    }

    function setPresenting(on) {
      presenting = on;
      document.documentElement.classList.toggle("chipao-presenting", on);
      var btn = panel.getContainer().querySelector(".chipao-present-btn");
      if (btn) { btn.textContent = on ? "ออกจากการนำเสนอ · Exit" : "นำเสนอ · Present"; }
      var root = document.documentElement;
      if (on && root.requestFullscreen && !document.fullscreenElement) {
        root.requestFullscreen().catch(function () { /* not allowed here: the layout still changes */ });
      } else if (!on && document.fullscreenElement && document.exitFullscreen) {
        document.exitFullscreen().catch(function () {});
      }
      setTimeout(function () { map.invalidateSize(); drawLabels(); }, 50);
    }
    document.addEventListener("fullscreenchange", function () {
      if (!document.fullscreenElement && presenting) { setPresenting(false); }
    });
    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && presenting) { setPresenting(false); }
    });

    // small screens and small iframes: the map first, the controls one tap away
    function fitLayout() {
      var size = map.getSize();
      var small = size.x < 700 || size.y < 500;
      document.documentElement.classList.toggle("chipao-small", small);
      if (small) {
        setPanelCollapsed(true);
        setLegendCollapsed(size.x < 500 || size.y < 400);
        setTableCollapsed(true);
      }
    }

    function showSignInHint(code) {
      var div = errorBox.getContainer();
      var next = "/maps/area/" + encodeURIComponent(code);
      div.className = "chipao-error chipao-hint";
      div.innerHTML = "เข้าสู่ระบบเพื่อดูระดับหมู่บ้านของตำบลนี้ · Sign in to see this tambon's villages<br>" +
        "<a href=\"/login?next=" + encodeURIComponent(next) + "\">เข้าสู่ระบบ · Sign in</a>";
      div.style.display = "block";
    }

    // -- search: every province, amphoe and tambon, Thai or English, tolerant of typos --------
    function normal(s) {
      return String(s || "").toLowerCase()
        .replace(/^(จังหวัด|อำเภอ|ตำบล|เขต|แขวง|จ\.|อ\.|ต\.)\s*/, "")
        .replace(/[\s\-'’.,()]/g, "");
    }
    // smallest edit distance between q and any substring of t (Sellers)
    function fuzzy(q, t) {
      var m = q.length, prev = new Array(m + 1), cur = new Array(m + 1), best = m, i, j;
      for (i = 0; i <= m; i++) { prev[i] = i; }
      for (j = 1; j <= t.length; j++) {
        cur[0] = 0;
        for (i = 1; i <= m; i++) {
          var cost = q.charCodeAt(i - 1) === t.charCodeAt(j - 1) ? 0 : 1;
          cur[i] = Math.min(prev[i] + 1, cur[i - 1] + 1, prev[i - 1] + cost);
        }
        if (cur[m] < best) { best = cur[m]; }
        var tmp = prev; prev = cur; cur = tmp;
      }
      return best;
    }
    var LEVEL_RANK = {4: 0, 6: 1, 8: 2};
    function searchPlaces(text) {
      var q = normal(text);
      if (!q || !places) { return []; }
      var allowed = q.length < 4 ? 0 : (q.length < 8 ? 1 : 2);
      var out = [];
      for (var n = 0; n < places.length; n++) {
        var p = places[n];
        var score = 99;
        for (var f = 0; f < 2; f++) {
          var name = p.norm[f];
          var at = name.indexOf(q);
          var sc = at === 0 ? 0 : (at > 0 ? 1 : 99);
          if (sc === 99 && allowed) {
            var d = fuzzy(q, name);
            if (d <= allowed) { sc = 1 + d; }
          }
          if (sc < score) { score = sc; }
        }
        if (String(p.code).toLowerCase() === text.trim().toLowerCase()) { score = -1; }
        if (score < 99) { out.push([score, LEVEL_RANK[p.code.length] || 0, p.th.length, p]); }
      }
      out.sort(function (a, b) { return a[0] - b[0] || a[1] - b[1] || a[2] - b[2]; });
      return out.slice(0, 8).map(function (x) { return x[3]; });
    }
    function loadPlaces() {
      if (!placesPromise) {
        placesPromise = fetchJSON("/maps/places.json").then(function (idx) {
          var fields = idx.fields;
          places = idx.places.map(function (row) {
            var p = {};
            fields.forEach(function (f, i) { p[f] = row[i]; });
            p.norm = [normal(p.th), normal(p.en)];
            return p;
          });
          return places;
        }).catch(function () { places = []; return places; });
      }
      return placesPromise;
    }
    var LEVEL_NAMES = {4: "จังหวัด · province", 6: "อำเภอ · district", 8: "ตำบล · sub-district"};
    function buildSearch(parent) {
      var wrap = el("div", "chipao-search", parent);
      var input = el("input", "", wrap);
      input.type = "search";
      input.name = "search";
      input.placeholder = "ค้นหาพื้นที่ · Find a place";
      input.setAttribute("aria-label", "ค้นหาจังหวัด อำเภอ ตำบล · Find a province, district or sub-district");
      input.autocomplete = "off";
      var list = el("ul", "chipao-search-results", wrap);
      list.setAttribute("role", "listbox");
      var results = [];
      function render() {
        list.innerHTML = "";
        results.forEach(function (p, i) {
          var li = el("li", "", list);
          li.setAttribute("role", "option");
          li.dataset.code = p.code;
          li.innerHTML = "<b>" + esc(p.th) + "</b> · " + esc(p.en) + "<br><small>" +
            esc(LEVEL_NAMES[p.code.length] || "") + (p.in_th ? " · " + esc(p.in_th) : "") + "</small>";
          li.addEventListener("mousedown", function (e) { e.preventDefault(); choose(i); });
        });
        if (input.value && !results.length && places) {
          el("li", "chipao-search-none", list).textContent = "ไม่พบ · not found";
        }
      }
      function choose(i) {
        var p = results[i];
        if (!p) { return; }
        input.value = p.th + " · " + p.en;
        results = [];
        render();
        flyTo(p);
      }
      input.addEventListener("input", function () {
        loadPlaces().then(function () { results = searchPlaces(input.value); render(); });
      });
      input.addEventListener("focus", loadPlaces);
      input.addEventListener("keydown", function (e) {
        if (e.key === "Enter") { e.preventDefault(); loadPlaces().then(function () {
          if (!results.length) { results = searchPlaces(input.value); }
          choose(0);
        }); }
      });
      L.DomEvent.disableClickPropagation(wrap);
    }
    var found = null;
    function flyTo(p) {
      var bounds = L.latLngBounds([p.s, p.w], [p.n, p.e]);
      map.flyToBounds(bounds, {maxZoom: 13, duration: 0.6});
      if (found) { map.removeLayer(found); }
      found = L.tooltip({permanent: true, direction: "center", className: "chipao-found"})
        .setLatLng(bounds.getCenter()).setContent(esc(p.th) + " · " + esc(p.en)).addTo(map);
      var own = rowOf[p.code] !== undefined ? p.code : null;
      if (own) { highlightRow(own, true); }
      document.documentElement.setAttribute("data-chipao-found", p.code);
    }

    // -- the table beside the map ------------------------------------------------------------
    var TABLE_ROWS = 500;
    var tableCtl = L.control({position: "topright"});
    tableCtl.onAdd = function () {
      var div = el("div", "chipao-table");
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      return div;
    };
    function setTableCollapsed(collapsed) {
      if (!table) { return; }
      table.classList.toggle("chipao-collapsed", collapsed);
      var t = table.querySelector(".chipao-table-toggle");
      if (t) { t.setAttribute("aria-expanded", collapsed ? "false" : "true"); }
    }
    function nameOf(i) {
      var coverArea = data.cover_level && data.cover_level[i];  // an amphoe beneath an r6 map
      if (data.names && data.names.th[i] && (!isCells || coverArea)) {
        return coverArea ? ["อ." + data.names.th[i] + " (ทั้งอำเภอ)", data.names.en[i] + " (whole amphoe)"]
          : [data.names.th[i], data.names.en[i]];
      }
      if (data.places && data.places.th[i]) { return [data.codes[i], data.places.th[i]]; }
      return [data.codes[i], ""];
    }
    function drawTable() {
      if (cfg.embed || !data) { return; }
      if (!table) {
        tableCtl.addTo(map);
        table = tableCtl.getContainer();
        table.addEventListener("click", function (e) {
          var t = e.target;
          if (t.closest(".chipao-table-toggle")) {
            setTableCollapsed(!table.classList.contains("chipao-collapsed"));
            return;
          }
          var th = t.closest("th[data-key]");
          if (th) {
            var key = th.dataset.key;
            if (key === sortKey) { sortDesc = !sortDesc; } else { sortKey = key; sortDesc = key !== "name"; }
            drawTable();
            return;
          }
          var tr = t.closest("tr[data-code]");
          if (tr) { highlightRow(tr.dataset.code, true); focusArea(tr.dataset.code); }
        });
        table.addEventListener("mouseover", function (e) {
          var tr = e.target.closest && e.target.closest("tr[data-code]");
          if (tr) { highlightArea(tr.dataset.code); }
        });
      }
      var m = data.measure, cols = data.columns, n = data.codes.length;
      var idx = [];
      for (var i = 0; i < n; i++) { idx.push(i); }
      var hh = cols.n_households;
      var keyOf = {
        name: function (j) { return nameOf(j)[0]; },
        value: function (j) { return suppressedRow[j] ? null : cols.value[j]; },
        hh: function (j) { return hh ? hh[j] : null; }
      }[sortKey];
      idx.sort(function (a, b) {
        var x = keyOf(a), y = keyOf(b);
        if (x === null || x === undefined) { return 1; }
        if (y === null || y === undefined) { return -1; }
        var c = typeof x === "string" ? x.localeCompare(y, "th") : x - y;
        return sortDesc ? -c : c;
      });
      var arrow = function (k) { return k === sortKey ? (sortDesc ? " ▾" : " ▴") : ""; };
      var collapsed = table.classList.contains("chipao-collapsed");
      var html = "<button type=\"button\" class=\"chipao-table-toggle\" aria-expanded=\"" + !collapsed + "\">" +
        "ตาราง · Table (" + n.toLocaleString("en-US") + ")</button><div class=\"chipao-table-body\"><table><thead><tr>" +
        "<th data-key=\"name\">พื้นที่ · Area" + arrow("name") + "</th>" +
        "<th data-key=\"value\">" + esc(m.th) + arrow("value") + "</th>" +
        (hh ? "<th data-key=\"hh\">ครัวเรือน · HH" + arrow("hh") + "</th>" : "") + "</tr></thead><tbody>";
      idx.slice(0, TABLE_ROWS).forEach(function (j) {
        var nm = nameOf(j);
        html += "<tr data-code=\"" + esc(data.codes[j]) + "\"><td>" + esc(nm[0]) +
          (nm[1] ? "<br><small>" + esc(nm[1]) + "</small>" : "") + "</td><td>" +
          (suppressedRow[j] ? "<span class=\"chipao-sup\">&lt; " + minHh + " ครัวเรือน</span>" :
            fmt(cols.value[j], m.format, data.change)) + "</td>" +
          (hh ? "<td>" + (suppressedRow[j] ? "–" : fmt(hh[j], "count")) + "</td>" : "") + "</tr>";
      });
      html += "</tbody></table>";
      if (n > TABLE_ROWS) {
        html += "<div class=\"chipao-table-more\">แสดง " + TABLE_ROWS + " จาก " + n.toLocaleString("en-US") +
          " · showing " + TABLE_ROWS + " of " + n.toLocaleString("en-US") + "</div>";
      }
      table.innerHTML = html + "</div>";
      if (highlighted) { highlightRow(highlighted); }
    }
    function highlightRow(code, scroll) {
      highlighted = code;
      if (!table) { return; }
      var old = table.querySelector("tr.chipao-active");
      if (old) { old.classList.remove("chipao-active"); }
      var tr = table.querySelector("tr[data-code=\"" + (window.CSS && CSS.escape ? CSS.escape(code) : code) + "\"]");
      if (tr) {
        tr.classList.add("chipao-active");
        if (scroll) { tr.scrollIntoView({block: "nearest"}); }
      }
      if (scroll) { highlightArea(code); }
    }
    var activeFeature = null;
    function highlightArea(code) {
      if (layer && layer.setHighlight) { layer.setHighlight(code); return; }
      if (activeFeature) { activeFeature.setStyle({weight: cfg.line_weight, color: "#ffffff"}); }
      activeFeature = featureOf[code] || null;
      if (activeFeature && activeFeature.setStyle) {
        activeFeature.setStyle({weight: 3, color: "#111111"});
        if (activeFeature.bringToFront) { activeFeature.bringToFront(); }
      }
      document.documentElement.setAttribute("data-chipao-highlight", code);
    }
    function focusArea(code) {
      var f = featureOf[code];
      var b = f ? (f.getBounds ? f.getBounds() : L.latLngBounds([f.getLatLng(), f.getLatLng()]))
        : (layer && layer.boundsOf ? layer.boundsOf(code) : null);
      if (b && !map.getBounds().contains(b)) { map.flyToBounds(b, {maxZoom: Math.max(map.getZoom(), 9), duration: 0.5}); }
      if (layer && layer.setHighlight) { document.documentElement.setAttribute("data-chipao-highlight", code); }
    }

    // -- labels: names at zooms where they fit, the larger areas first, never overlapping -----
    var labelPane = map.createPane("chipao-labels");
    labelPane.style.zIndex = 450;
    labelPane.style.pointerEvents = "none";
    var labelBox = L.DomUtil.create("div", "chipao-label-box", labelPane);
    var measureCtx = document.createElement("canvas").getContext("2d");
    var centreOf = {};
    var placedLabels = [];
    function labelCandidates() {
      var out = [];
      if (data && data.names && !isCells) {
        Object.keys(featureOf).forEach(function (code) {
          var i = rowOf[code];
          if (i === undefined || !data.names.th[i]) { return; }
          out.push({code: code, layer: featureOf[code], text: data.names.th[i]});
        });
      } else if (outlineLayer && places) {
        var nameBy = {};
        places.forEach(function (p) { nameBy[p.code] = p.th; });
        outlineLayer.eachLayer(function (l) {
          if (nameBy[l.feature.id]) { out.push({code: l.feature.id, layer: l, text: nameBy[l.feature.id]}); }
        });
      }
      return out;
    }
    function drawLabels() {
      if (!layer) { return; }
      var size = map.getSize(), zoom = map.getZoom();
      var font = presenting ? 14 : 11;
      measureCtx.font = font + "px Sarabun, sans-serif";
      var cands = [];
      labelCandidates().forEach(function (c) {
        var l = c.layer, b;
        if (l.getBounds) {
          b = l.getBounds();
          var nw = map.latLngToContainerPoint(b.getNorthWest()), se = map.latLngToContainerPoint(b.getSouthEast());
          var w = se.x - nw.x, h = se.y - nw.y;
          if (se.x < 0 || se.y < 0 || nw.x > size.x || nw.y > size.y) { return; }
          var tw = measureCtx.measureText(c.text).width;
          if (w < tw * 0.8 || h < font) { return; }        // only where the name fits its area
          if (!centreOf[c.code]) {
            try { centreOf[c.code] = l.getCenter(); } catch (e) { centreOf[c.code] = b.getCenter(); }
          }
          cands.push({text: c.text, at: map.latLngToContainerPoint(centreOf[c.code]), w: tw, area: w * h});
        } else if (l.getLatLng && zoom >= 11) {
          var pt = map.latLngToContainerPoint(l.getLatLng());
          cands.push({text: c.text, at: pt.add([0, -12]), w: measureCtx.measureText(c.text).width, area: 1});
        }
      });
      cands.sort(function (a, b) { return b.area - a.area; });
      // names are not hidden under the panel, legend or table
      var cbox = map.getContainer().getBoundingClientRect();
      var blocked = [];
      map.getContainer().querySelectorAll(".chipao-panel, .chipao-legend, .chipao-table").forEach(function (o) {
        var b = o.getBoundingClientRect();
        if (b.width && b.height) {
          blocked.push({left: b.left - cbox.left, right: b.right - cbox.left, top: b.top - cbox.top, bottom: b.bottom - cbox.top});
        }
      });
      var placed = [], html = "";
      for (var k = 0; k < cands.length && placed.length < 400; k++) {
        var c = cands[k];
        var r = {left: c.at.x - c.w / 2 - 4, right: c.at.x + c.w / 2 + 4, top: c.at.y - font * 0.8, bottom: c.at.y + font * 0.8};
        if (r.left < 0 || r.top < 0 || r.right > size.x || r.bottom > size.y) { continue; }
        var clash = false;
        for (var q = 0; q < placed.length && !clash; q++) { clash = overlaps(r, placed[q].r); }
        for (q = 0; q < blocked.length && !clash; q++) { clash = overlaps(r, blocked[q]); }
        if (clash) { continue; }
        placed.push({r: r, text: c.text, x: c.at.x, y: c.at.y});
        var lp = map.containerPointToLayerPoint(c.at);
        html += "<span class=\"chipao-label\" style=\"left:" + Math.round(lp.x) + "px;top:" + Math.round(lp.y) +
          "px;font-size:" + font + "px\">" + esc(c.text) + "</span>";
      }
      labelBox.innerHTML = html;
      placedLabels = placed;
      document.documentElement.setAttribute("data-chipao-labels", String(placed.length));
    }
    map.on("moveend zoomend resize", drawLabels);
    if (document.fonts && document.fonts.ready) { document.fonts.ready.then(function () { drawLabels(); }); }
    map.on("resize", fitLayout);

    function afterLayer() {
      drawTable();
      fitLayout();
      drawLabels();
      if (isCells || cfg.level === "village") { loadPlaces().then(drawLabels); }
    }

    var geometryPromise = fetchJSON(cfg.geometry_url).then(function (g) {
      timings.geometry_ms = performance.now() - t0;
      return g;
    });
    // the first values URL is the one the page preloads (same string, so the preload is used)
    var valuesPromise = fetchJSON(cfg.values_first || valuesUrl()).then(function (v) {
      timings.values_ms = performance.now() - t0;
      return v;
    });
    var outlinePromise = cfg.outline_url ? fetchJSON(cfg.outline_url) : Promise.resolve(null);

    Promise.all([geometryPromise, valuesPromise, outlinePromise]).then(function (res) {
      applyValues(res[1]);
      var tipOptions = {sticky: true, direction: "top", className: "chipao-tip", opacity: 0.95};
      var nFeatures;
      if (res[0].type === "chipao.cells") {
        timings.parsed_ms = performance.now() - t0;
        layer = new CellLayer(res[0], {tooltip: tipOptions, tooltipFor: tooltip, onclick: drill,
          onhover: function (code) { highlightRow(code); }});
        timings.indexed_ms = performance.now() - t0;
        nFeatures = res[0].codes.length;
        layer.addTo(map);
        layer.restyle(styleFor);
        timings.drawn_ms = performance.now() - t0;
      } else {
        layer = L.geoJSON(res[0], {
          renderer: renderer,
          style: styleFor,
          pointToLayer: function (f, latlng) { return L.circleMarker(latlng, Object.assign({}, styleFor(f), {radius: 7, color: "#424242", weight: 1})); }
        });
        nFeatures = res[0].features.length;
        layer.bindTooltip(new SafeTooltip(tipOptions).setContent(tooltip));
        layer.on("click", drill);
        layer.on("mouseover", function (e) { highlightRow(e.layer.feature.id); });
        layer.eachLayer(function (l) { featureOf[l.feature.id] = l; });
        layer.addTo(map);
      }
      layers.addOverlay(layer, esc(cfg.layer_name));
      if (res[2]) {
        var outline = L.geoJSON(res[2], {
          renderer: renderer, interactive: false,
          style: {color: "#424242", weight: 1.2, fill: false, opacity: 0.9}
        }).addTo(map);
        layers.addOverlay(outline, esc(cfg.outline_name));
        outlineLayer = outline;
      }
      afterLayer();
      timings.layer_ms = performance.now() - t0;
      // container points of up to n visible areas (tests and tools hover there)
      window.chipaoProbe = function (n) {
        var pts = [], size = map.getSize();
        function keep(p) {
          if (p.x > 5 && p.y > 5 && p.x < size.x - 5 && p.y < size.y - 5) { pts.push([p.x, p.y]); }
        }
        if (layer.codes) {
          var zs = Math.pow(2, map.getZoom()), o = map.getPixelBounds().min;
          var step = Math.max(1, Math.floor(layer.codes.length / (4 * n)));
          for (var i = 0; i < layer.codes.length && pts.length < n; i += step) {
            keep(L.point((layer.box[4 * i] + layer.box[4 * i + 2]) / 2 * zs - o.x,
                         (layer.box[4 * i + 1] + layer.box[4 * i + 3]) / 2 * zs - o.y));
          }
        } else {
          layer.eachLayer(function (l) {
            if (pts.length >= n) { return; }
            keep(map.latLngToContainerPoint(l.getCenter ? l.getCenter() : l.getLatLng()));
          });
        }
        return pts;
      };
      // two frames: Leaflet draws the canvas on the next animation frame
      requestAnimationFrame(function () {
        requestAnimationFrame(function () {
          timings.ready_ms = performance.now() - t0;
          timings.page_ms = performance.now();  // since navigation start
          timings.features = nFeatures;
          window.chipaoTimings = timings;
          markSettled();
          document.documentElement.setAttribute("data-chipao-ready", "1");
        });
      });
    }).catch(function (e) {
      showError(e.message);
      markSettled();
    });
  };
})();
