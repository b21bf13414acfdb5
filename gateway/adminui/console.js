// Flow Cache admin console: the sections of the admin page that operate
// the cache (live chart, hot keys, key inspector, audit log, policy
// rollback, logout). Loaded by index.html from /ui/console.js. Data goes
// into the DOM with textContent only; nothing is loaded from elsewhere.
"use strict";
(function () {
  var REFRESH_MS = 3000, POINTS = 100; // 100 points of 3 s: the last 5 minutes
  var csrf = "";

  // Every state-changing request of a logged-in page carries the session's
  // CSRF token (the server requires it of a session, not of the bearer).
  var plainFetch = window.fetch.bind(window);
  window.fetch = function (url, opts) {
    opts = opts || {};
    var method = (opts.method || "GET").toUpperCase();
    if (csrf && method !== "GET" && method !== "HEAD") {
      var h = new Headers(opts.headers || {});
      h.set("X-CSRF-Token", csrf);
      opts.headers = h;
    }
    return plainFetch(url, opts);
  };

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function svg(tag, attrs) {
    var e = document.createElementNS("http://www.w3.org/2000/svg", tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, String(attrs[k])); });
    return e;
  }
  function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); }
  function row(cells, cls) {
    var tr = el("tr", null, cls);
    cells.forEach(function (c) {
      if (c instanceof Node) { var td = el("td"); td.appendChild(c); tr.appendChild(td); }
      else tr.appendChild(el("td", c));
    });
    return tr;
  }
  function table(head, id) {
    var t = el("table"), th = el("thead"), tr = el("tr");
    head.forEach(function (h) { tr.appendChild(el("th", h)); });
    th.appendChild(tr); t.appendChild(th);
    var tb = el("tbody"); tb.id = id; t.appendChild(tb);
    return t;
  }
  function section(title, id, wide) {
    var s = el("section", null, wide ? "wide" : "");
    s.id = id;
    s.appendChild(el("h2", title));
    document.querySelector("main").appendChild(s);
    return s;
  }
  function getJSON(path) {
    return fetch(path, { cache: "no-store", credentials: "same-origin" }).then(function (r) {
      return r.json().then(function (body) {
        if (r.status !== 200) throw new Error(path + ": " + (body.error || ("HTTP " + r.status)));
        return body;
      });
    });
  }
  function postJSON(path, body) {
    return fetch(path, {
      method: "POST", cache: "no-store", credentials: "same-origin",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify(body || {})
    }).then(function (r) {
      return r.json().then(function (b) { return { status: r.status, body: b }; });
    });
  }
  function seconds(v) { return Math.round(v) + "s"; }

  // --- session: CSRF token, logout button -------------------------------
  var sessionReady = getJSON("/session").then(function (s) {
    if (s.auth !== "session") return;
    csrf = s.csrf;
    var b = el("button", "Log out");
    b.id = "logout";
    b.addEventListener("click", function () {
      postJSON("/logout").then(function () { window.location.assign("/"); });
    });
    document.querySelector("header").appendChild(b);
  }).catch(function () {});

  // --- live chart: request rate and hit ratio ----------------------------
  var live = section("Live: requests/s and hit ratio, last 5 minutes", "live", true);
  var W = 600, H = 120;
  var chart = svg("svg", { viewBox: "0 0 " + W + " " + H, width: "100%", height: H, role: "img" });
  chart.id = "live-chart";
  chart.appendChild(svg("rect", { x: 0, y: 0, width: W, height: H, fill: "#f7f8fa" }));
  var rateLine = svg("polyline", { fill: "none", stroke: "#2563eb", "stroke-width": 2 });
  var ratioLine = svg("polyline", { fill: "none", stroke: "#15803d", "stroke-width": 2, "stroke-dasharray": "4 3" });
  chart.appendChild(rateLine); chart.appendChild(ratioLine);
  live.appendChild(chart);
  var liveText = el("p", "collecting\u2026", "muted"); liveText.id = "live-text";
  live.appendChild(liveText);
  var points = [], last = null;
  function sum(text, name) {
    var t = 0;
    text.split("\n").forEach(function (line) {
      if (line.indexOf(name) !== 0) return;
      var rest = line.slice(name.length);
      if (rest.charAt(0) !== "{" && rest.charAt(0) !== " ") return;
      var v = parseFloat(line.slice(line.lastIndexOf(" ") + 1));
      if (!isNaN(v)) t += v;
    });
    return t;
  }
  function refreshLive() {
    return fetch("/metrics", { cache: "no-store", credentials: "same-origin" }).then(function (r) {
      if (r.status !== 200) throw new Error("/metrics: HTTP " + r.status);
      return r.text();
    }).then(function (text) {
      var now = Date.now(), req = sum(text, "flowcache_http_requests_total"), hits = sum(text, "flowcache_cache_hits_total");
      if (last && now > last.t) {
        var dr = Math.max(0, req - last.req), dh = Math.max(0, hits - last.hits);
        points.push({ rate: dr / ((now - last.t) / 1000), ratio: dr > 0 ? Math.min(1, dh / dr) : null });
        if (points.length > POINTS) points.shift();
      }
      last = { t: now, req: req, hits: hits };
      var max = 1;
      points.forEach(function (p) { if (p.rate > max) max = p.rate; });
      var step = W / (POINTS - 1), off = POINTS - points.length;
      rateLine.setAttribute("points", points.map(function (p, i) {
        return ((off + i) * step).toFixed(1) + "," + (H - 4 - (H - 8) * p.rate / max).toFixed(1);
      }).join(" "));
      ratioLine.setAttribute("points", points.filter(function (p) { return p.ratio !== null; }).map(function (p) {
        return ((off + points.indexOf(p)) * step).toFixed(1) + "," + (H - 4 - (H - 8) * p.ratio).toFixed(1);
      }).join(" "));
      var p = points[points.length - 1];
      liveText.textContent = p ? (p.rate.toFixed(1) + " req/s (max " + max.toFixed(1) + "), hit ratio " +
        (p.ratio === null ? "n/a" : (100 * p.ratio).toFixed(1) + "%") + " \u2014 blue: req/s, green: hit ratio") : "collecting\u2026";
    }).catch(function (e) { liveText.textContent = String(e.message || e); });
  }

  // --- hot keys -----------------------------------------------------------
  var hot = section("Hot keys", "hot");
  var by = el("select"); by.id = "hot-by";
  ["requests", "bytes", "misses"].forEach(function (v) { var o = el("option", v); o.value = v; by.appendChild(o); });
  var hotBar = el("p", "by ");
  hotBar.appendChild(by);
  hot.appendChild(hotBar);
  hot.appendChild(table(["count", "\u00b1", "route", "URL"], "hot-keys"));
  var hotErr = el("p", "", "err"); hot.appendChild(hotErr);
  by.addEventListener("change", function () { refreshHot(); });
  function refreshHot() {
    return getJSON("/cache/hot?n=10&by=" + encodeURIComponent(by.value)).then(function (b) {
      var tb = document.getElementById("hot-keys");
      clear(tb);
      (b.keys || []).forEach(function (k) { tb.appendChild(row([k.count, k.error, k.route, el("span", k.key, "mono")])); });
      if (!(b.keys || []).length) tb.appendChild(row(["\u2013", "", "", "no requests counted yet"]));
      hotErr.textContent = "";
    }).catch(function (e) { hotErr.textContent = String(e.message || e); });
  }

  // --- key inspector ------------------------------------------------------
  var insp = section("Key inspector", "inspector", true);
  var form = el("form"); form.id = "insp-form";
  form.appendChild(el("label", "URL"));
  var url = el("input"); url.type = "text"; url.id = "insp-url"; url.placeholder = "http://example.com/path?query"; url.autocomplete = "off";
  form.appendChild(url);
  form.appendChild(el("label", "header"));
  var hdr = el("input"); hdr.type = "text"; hdr.id = "insp-header"; hdr.placeholder = "(optional) Accept-Language: fr"; hdr.autocomplete = "off";
  form.appendChild(hdr);
  form.appendChild(el("span"));
  var go = el("button", "Look up"); go.type = "submit"; go.id = "insp-go";
  form.appendChild(go);
  insp.appendChild(form);
  var summary = el("table"); var sumBody = el("tbody"); sumBody.id = "insp-summary"; summary.appendChild(sumBody);
  insp.appendChild(summary);
  insp.appendChild(table(["match", "vary values", "L1", "L2", "status", "age", "TTL left", "SWR", "SIE", "size", "tags", "ETag", "stored at"], "insp-variants"));
  var inspErr = el("p", "", "err"); inspErr.id = "insp-error"; insp.appendChild(inspErr);
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var q = "/cache/lookup?url=" + encodeURIComponent(url.value.trim());
    if (hdr.value.trim()) q += "&header=" + encodeURIComponent(hdr.value.trim());
    clear(sumBody); clear(document.getElementById("insp-variants")); inspErr.textContent = "";
    getJSON(q).then(function (r) {
      [["answer", r.answer + (r.cache_status ? "  (" + r.cache_status + ")" : "")], ["route", r.route], ["policy", r.policy],
       ["key", r.key.bypass ? "bypass" : r.key.host + " " + r.key.target + (r.key.variant ? " variant " + r.key.variant : "")],
       ["record", (r.record_key || "\u2013") + "  L1: " + (r.in_l1 ? "yes" : "no") + ", L2: " + (r.in_l2 ? "yes" : "no")],
       ["vary", (r.vary || []).join(", ") || "\u2013"]].forEach(function (kv) {
        var tr = row([kv[0], el("span", kv[1], "mono")]);
        tr.id = "insp-" + kv[0];
        sumBody.appendChild(tr);
      });
      var vb = document.getElementById("insp-variants");
      (r.variants || []).forEach(function (v) {
        var vals = Object.keys(v.vary_values || {}).map(function (k) { return k + "=" + v.vary_values[k]; }).join(" ") || "\u2013";
        vb.appendChild(row([v.matches ? "\u2713" : "", vals, v.in_l1 ? "yes" : "no", v.in_l2 ? "yes" : "no", v.status,
          seconds(v.age_seconds), seconds(v.ttl_left_seconds) + (v.invalidated ? " (purged)" : ""),
          seconds(v.stale_while_revalidate_seconds), seconds(v.stale_if_error_seconds), v.size, v.tags || "\u2013",
          v.etag || "\u2013", v.stored_at], v.matches ? "match" : ""));
      });
    }).catch(function (e) { inspErr.textContent = String(e.message || e); });
  });

  // --- audit log ----------------------------------------------------------
  var audit = section("Audit log", "audit-log", true);
  var auditNote = el("p", "", "muted"); audit.appendChild(auditNote);
  audit.appendChild(table(["time", "node", "who", "action", "target", "status", "result", "count"], "audit"));
  function refreshAudit() {
    return getJSON("/audit?n=20").then(function (b) {
      auditNote.textContent = (b.source === "fleet" ? "every node (Redis stream)" : "this node") + (b.error ? " \u2014 " + b.error : "");
      var tb = document.getElementById("audit");
      clear(tb);
      (b.events || []).forEach(function (e) {
        tb.appendChild(row([new Date(e.time).toLocaleTimeString(), e.node, (e.peer ? e.peer + " " : "") + "(" + e.auth + ")",
          e.action, el("span", e.target || "\u2013", "mono"), e.status, e.result, e.count], "audit-" + e.action));
      });
    }).catch(function (e) { auditNote.textContent = String(e.message || e); });
  }

  // --- policy versions and rollback ----------------------------------------
  var pol = section("Policy versions", "policy-versions");
  pol.appendChild(table(["policy", "active", "previous", "versions", ""], "policy-rollback"));
  var polOut = el("p", "", "muted"); polOut.id = "rollback-result"; pol.appendChild(polOut);
  function refreshPolicyVersions() {
    return getJSON("/policies").then(function (b) {
      var tb = document.getElementById("policy-rollback");
      clear(tb);
      (b.policies || []).forEach(function (p) {
        var btn = el("button", "Roll back");
        btn.id = "rollback-" + p.name;
        btn.disabled = !p.previous;
        btn.addEventListener("click", function () {
          btn.disabled = true;
          postJSON("/policies/" + encodeURIComponent(p.name) + "/rollback").then(function (r) {
            polOut.textContent = r.status === 200 ? p.name + ": active " + r.body.version + " (was " + r.body.previous + ")" : "HTTP " + r.status + ": " + r.body.error;
            return Promise.all([refreshPolicyVersions(), refreshAudit()]);
          });
        });
        tb.appendChild(row([p.name, el("span", String(p.active || "").slice(0, 12), "mono active"),
          el("span", String(p.previous || "\u2013").slice(0, 12), "mono"), (p.versions || []).length, btn], "policy-" + p.name));
      });
      if (!(b.policies || []).length) tb.appendChild(row(["\u2013", "no WASM policies", "", "", ""]));
    }).catch(function (e) { polOut.textContent = String(e.message || e); });
  }

  function refresh() {
    refreshLive(); refreshHot(); refreshAudit(); refreshPolicyVersions();
  }
  sessionReady.then(function () {
    refresh();
    setInterval(refresh, REFRESH_MS);
  });
  // A purge from the page's form shows in the audit log at once.
  document.getElementById("purge").addEventListener("submit", function () { setTimeout(refreshAudit, 300); });
})();
