/* hotspot portal: live refresh and inline SVG charts. No framework; text goes in with textContent only. */
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var PREFIX = ["", "k", "M", "G", "T", "P"];

  function $(sel, root) { return (root || document).querySelector(sel); }
  function $$(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }
  function csrf() { var m = $('meta[name="csrf"]'); return m ? m.content : ""; }

  /* Same rule as the server: powers of 1000, three significant digits, no trailing zeros. */
  function size(n) {
    var v = Math.abs(n), i = 0;
    while (i < PREFIX.length - 1 && Number(v.toPrecision(3)) >= 1000) { v /= 1000; i++; }
    var r = Number(v.toPrecision(3));
    return (i === 0 ? r.toFixed(0) : String(Number(r.toFixed(2)))) + " " + PREFIX[i] + "B";
  }

  function el(name, attrs, parent) {
    var e = document.createElementNS(SVG, name);
    for (var k in attrs) { e.setAttribute(k, attrs[k]); }
    if (parent) { parent.appendChild(e); }
    return e;
  }

  function fill(root, values) {
    $$("[data-f]", root).forEach(function (node) {
      var v = values[node.getAttribute("data-f")];
      if (v === undefined || v === null) { return; }
      if (node instanceof SVGElement) { node.setAttribute("width", v + "%"); }
      else { node.textContent = v; }
    });
  }

  function setLive(ok) {
    var live = $("#live");
    if (!live) { return; }
    live.classList.toggle("off", !ok);
    live.textContent = live.getAttribute(ok ? "data-ok" : "data-off");
  }

  function poll(url, every, onData) {
    function tick() {
      if (document.hidden) { return; }
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
        .then(function (d) { setLive(true); onData(d); })
        .catch(function () { setLive(false); });
    }
    setInterval(tick, every);
    document.addEventListener("visibilitychange", tick);
  }

  /* Bars in `box`: slots[i] = {label, parts: [{v, cls}], text} or null (a slot still to come). */
  function bars(box, slots, opts) {
    opts = opts || {};
    while (box.firstChild) { box.removeChild(box.firstChild); }
    var w = box.clientWidth || 300, h = box.clientHeight || 150, left = 4, bottom = 18, top = 14;
    var max = 1;
    slots.forEach(function (s) {
      if (s) { var t = 0; s.parts.forEach(function (p) { t += p.v; }); max = Math.max(max, t); }
    });
    var svg = el("svg", { viewBox: "0 0 " + w + " " + h, role: "img" }, box);
    var ch = h - bottom - top, step = (w - left) / slots.length, bw = Math.max(1, step * (opts.gap || 0.72));
    el("line", { x1: left, x2: w, y1: top + 0.5, y2: top + 0.5, "class": "grid" }, svg);
    el("line", { x1: left, x2: w, y1: top + ch + 0.5, y2: top + ch + 0.5, "class": "grid" }, svg);
    var maxLabel = el("text", { x: left, y: top - 4 }, svg);
    maxLabel.textContent = size(max);
    var every = Math.ceil(slots.length / Math.max(2, Math.floor(w / 64)));
    slots.forEach(function (s, i) {
      var x = left + i * step + (step - bw) / 2, y = top + ch, g = el("g", {}, svg);
      if (!s) {
        el("rect", { x: x, y: top + ch - 2, width: bw, height: 2, "class": "b empty" }, g);
      } else {
        s.parts.forEach(function (p) {
          var bh = p.v / max * ch;
          if (bh > 0) { el("rect", { x: x, y: y - bh, width: bw, height: bh, rx: Math.min(2, bw / 3), "class": "b " + (p.cls || "") }, g); }
          y -= bh;
        });
        el("rect", { x: left + i * step, y: top, width: step, height: ch, fill: "transparent" }, g);
        var title = el("title", {}, g);
        title.textContent = s.label + " · " + s.text;
      }
      var lab = s ? s.label : (opts.label ? opts.label(i) : "");
      if (lab && (opts.labelAt ? opts.labelAt(s, i) : i % every === 0)) {
        var t = el("text", { x: left + i * step + step / 2, y: h - 4, "text-anchor": i === 0 ? "start" : "middle" }, svg);
        if (i === 0) { t.setAttribute("x", left); }
        t.textContent = opts.short ? opts.short(lab) : lab;
      }
    });
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  /* -- the client's page ------------------------------------------------------------------------ */
  function clientPage(data) {
    var status = $("#status");
    function draw(d) {
      var today = [], byHour = {};
      (d.today || []).forEach(function (x, i) { byHour[parseInt(d.today[i].hour.substr(11, 2), 10)] = i; });
      for (var hr = 0; hr < 24; hr++) {
        var i = byHour[hr];
        today.push(i === undefined ? null : { label: d.text.today[i].label, text: d.text.today[i].text,
                                             parts: [{ v: d.today[i].bytes }] });
      }
      bars($("#chart-today"), today, { label: function (i) { return pad(i) + ":00"; } });
      var ndays = Math.round((Date.parse(d.period_end) - Date.parse(d.period_start)) / 864e5) || d.days.length;
      var days = [];
      for (var k = 0; k < Math.min(Math.max(ndays, d.days.length), 366); k++) {
        days.push(k < d.days.length ? { label: d.text.days[k].label, text: d.text.days[k].text,
                                        parts: [{ v: d.days[k].bytes }] } : null);
      }
      bars($("#chart-days"), days);
    }
    function banner(id, text, tone) {
      var b = $(id);
      if (b) { b.hidden = !text; b.className = "banner tone-" + tone; }
    }
    function update(d) {
      fill(document, d.text);
      status.className = "card status tone-" + d.text.tone;
      banner("#plan-banner", d.text.plan_banner, d.text.plan_banner_tone);
      banner("#cap-banner", d.text.cap_banner, d.text.cap_banner_tone);
      data = d;
      draw(d);
      if (d.reason === "not_admitted") { location.reload(); }
    }
    draw(data);
    window.addEventListener("resize", function () { draw(data); });
    poll("/api/me", 5000, update);
  }

  /* -- admin: clients table ----------------------------------------------------------------------- */
  function clientsTable(table) {
    var tbody = $("tbody", table), editing = false;
    function text(tag, cls, value, parent) {
      var e = document.createElement(tag);
      if (cls) { e.className = cls; }
      if (value !== undefined) { e.textContent = value; }
      if (parent) { parent.appendChild(e); }
      return e;
    }
    function bar(pct, tone, parent) {
      var svg = el("svg", { "class": "bar thin", role: "img", "aria-label": pct + "%" }, parent);
      el("rect", { "class": "bg", width: "100%", height: "100%", rx: 5 }, svg);
      el("rect", { "class": "fg tone-" + tone, width: pct + "%", height: "100%", rx: 5 }, svg);
    }
    function row(r) {
      var tr = document.createElement("tr");
      tr.setAttribute("data-mac", r.mac);
      var dev = text("td", "dev", undefined, tr);
      var a = text("a", "name", r.hostname || table.getAttribute("data-unnamed"), dev);
      a.href = table.getAttribute("data-detail").replace("MAC", encodeURIComponent(r.mac));
      var b = text("button", "icon rename", "✎", dev);
      b.type = "button"; b.title = table.getAttribute("data-rename");
      var sm = text("small", "", undefined, dev);
      text("code", "", r.mac, sm);
      sm.appendChild(document.createTextNode(" " + r.ips.join(" ")));
      var use = text("td", "use", undefined, tr);
      text("span", "num", r.total + " / " + r.cap, use);
      bar(r.percent, r.tone, use);
      text("span", "badge tone-" + r.tone, r.state_text, text("td", "", undefined, tr));
      text("td", "hide-s num", r.speed, tr);
      return tr;
    }
    function rename(tr) {
      var mac = tr.getAttribute("data-mac"), dev = $(".dev", tr), name = $(".name", dev);
      if ($(".rename-form", dev)) { return; }
      editing = true;
      var form = document.createElement("form");
      form.className = "rename-form";
      var input = document.createElement("input");
      input.maxLength = 63; input.value = name.textContent === table.getAttribute("data-unnamed") ? "" : name.textContent;
      var save = text("button", "", table.getAttribute("data-save"));
      var cancel = text("button", "ghost", table.getAttribute("data-cancel"));
      cancel.type = "button";
      form.appendChild(input); form.appendChild(save); form.appendChild(cancel);
      dev.insertBefore(form, name);
      name.hidden = true;
      input.focus();
      function done() { form.remove(); name.hidden = false; editing = false; }
      cancel.addEventListener("click", done);
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        var body = new URLSearchParams({ action: "rename", value: input.value, csrf: csrf() });
        fetch(table.getAttribute("data-act").replace("MAC", encodeURIComponent(mac)), {
          method: "POST", credentials: "same-origin", body: body,
          headers: { Accept: "application/json", "X-CSRF-Token": csrf() }
        }).then(function (r) { return r.json().then(function (j) { return [r.ok, j]; }); })
          .then(function (res) {
            if (!res[0]) { input.setCustomValidity(res[1].error || "error"); input.reportValidity(); return; }
            done();
            tr.parentNode.replaceChild(row(res[1].client), tr);
          });
      });
      input.addEventListener("input", function () { input.setCustomValidity(""); });
    }
    tbody.addEventListener("click", function (ev) {
      var b = ev.target.closest("button.rename");
      if (b) { rename(b.closest("tr")); }
    });
    poll(table.getAttribute("data-src"), 5000, function (d) {
      if (editing) { return; }
      var frag = document.createDocumentFragment();
      d.clients.forEach(function (r) { frag.appendChild(row(r)); });
      if (d.clients.length) { tbody.replaceChildren(frag); }
      var count = $("#client-count");
      if (count) { count.textContent = d.clients.length; }
    });
  }

  /* -- admin: one client's history ---------------------------------------------------------------- */
  function historyChart(box, items) {
    function draw() {
      bars(box, items.map(function (x) {
        return { label: x.label, text: x.text, parts: [{ v: x.down }, { v: x.up, cls: "up" }] };
      }), { gap: 0.9, short: function (l) { return l.replace(/[, ]+\d\d:\d\d$/, ""); },
            labelAt: function (s) { return s && /00:00$/.test(s.label); } });
    }
    draw();
    window.addEventListener("resize", draw);
  }

  /* -- admin: voucher cards' QR codes (qrcode-generator, vendored), drawn as one SVG path ------------- */
  function qrCodes() {
    if (typeof window.qrcode !== "function") { return; }
    $$("[data-qr]").forEach(function (box) {
      var qr = window.qrcode(0, "M");
      qr.addData(box.getAttribute("data-qr"));
      qr.make();
      var n = qr.getModuleCount(), m = 2, d = "";
      for (var r = 0; r < n; r++) {
        for (var c = 0; c < n; c++) {
          if (qr.isDark(r, c)) { d += "M" + (c + m) + " " + (r + m) + "h1v1h-1z"; }
        }
      }
      var svg = el("svg", { viewBox: "0 0 " + (n + 2 * m) + " " + (n + 2 * m), role: "img",
                            "aria-label": box.getAttribute("data-label") || "", "shape-rendering": "crispEdges" }, box);
      el("rect", { width: "100%", height: "100%", "class": "qr-bg" }, svg);
      el("path", { d: d, "class": "qr-fg" }, svg);
    });
  }

  document.addEventListener("click", function (ev) {
    if (ev.target.closest("[data-print]")) { window.print(); return; }
    var b = ev.target.closest("[data-confirm]");
    if (b && !window.confirm(b.getAttribute("data-confirm"))) { ev.preventDefault(); }
  });

  document.addEventListener("DOMContentLoaded", function () {
    var me = $("#me-data"), table = $("#clients"), hist = $("#history-data"), dash = $("#dashboard");
    if (me) { clientPage(JSON.parse(me.textContent)); }
    if (table) { clientsTable(table); }
    if (hist) { historyChart($("#chart-history"), JSON.parse(hist.textContent)); }
    if (dash) { poll(dash.getAttribute("data-src"), 5000, function (d) { fill(dash, d); }); }
    qrCodes();
  });
})();
